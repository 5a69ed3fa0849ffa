#include "engine/snapshot.h"

#include <capnp/serialize-packed.h>
#include <kj/io.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>

#include "engine/decide_util.h"
#include "schema/snapshot.capnp.h"

namespace authledger::internal {

namespace {

// Format 3: token records in raw chunks (formats 1 and 2 held them in columns).
constexpr std::uint32_t kSnapshotFormat = 3;

// Chunks store TokenRecords as their bytes, so the layout is pinned here: a change to
// TokenRecord fails to compile until kRecordLayout is bumped and these offsets updated.
// The header carries the layout and the record size, and a reader of another layout
// refuses the records rather than misread them.
constexpr std::uint32_t kRecordLayout = 1;
static_assert(std::endian::native == std::endian::little, "chunks are little-endian");
static_assert(std::is_trivially_copyable_v<TokenRecord> && std::is_standard_layout_v<TokenRecord>);
static_assert(std::has_unique_object_representations_v<TokenRecord>,
              "no padding: every stored byte of a record is defined");
static_assert(sizeof(TokenRecord) == 112 && offsetof(TokenRecord, prefix) == 32 &&
                  offsetof(TokenRecord, kind) == 48 &&
                  offsetof(TokenRecord, two_factor_used) == 49 &&
                  offsetof(TokenRecord, extend_when_used) == 50 &&
                  offsetof(TokenRecord, revoked) == 51 && offsetof(TokenRecord, padding) == 52 &&
                  offsetof(TokenRecord, created_us) == 56 &&
                  offsetof(TokenRecord, expiry_time_us) == 64 &&
                  offsetof(TokenRecord, last_used_us) == 72 &&
                  offsetof(TokenRecord, created_seq) == 80 && offsetof(TokenRecord, owner) == 88 &&
                  offsetof(TokenRecord, org) == 92 && offsetof(TokenRecord, method) == 96 &&
                  offsetof(TokenRecord, ip_allowlist) == 100 &&
                  offsetof(TokenRecord, max_age_seconds) == 104 &&
                  offsetof(TokenRecord, next_of_owner) == 108,
              "TokenRecord changed: bump kRecordLayout and update these offsets");

// Chunks load on two threads, the cores of the smallest machine this runs on; the load
// is bound by memory (a GiB copied in, first writes to fresh pages, index probes) more
// than by instructions, so more threads than that gain little.
constexpr unsigned kLoadThreads = 2;

std::string Str(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

template <typename Container>
void PutTexts(capnp::List<capnp::Text>::Builder list, const Container& items) {
  unsigned i = 0;
  for (const auto& item : items) list.set(i++, CapText(item));
}

template <typename Container>
void PutIdx(capnp::List<std::uint32_t>::Builder list, const Container& items) {
  unsigned i = 0;
  for (Idx item : items) list.set(i++, item);
}

class StringOutput : public kj::OutputStream {
 public:
  explicit StringOutput(std::string* out) : out_(out) {}
  void write(const void* buffer, size_t size) override {
    out_->append(static_cast<const char*>(buffer), size);
  }

 private:
  std::string* out_;
};

Status Damaged(const std::string& what) {
  return Status::Corruption("snapshot_undecodable", "snapshot is inconsistent: " + what);
}

void EncodeSmallState(const State& s, schema::Snapshot::Builder root) {
  root.setFormatVersion(kSnapshotFormat);
  root.setRevision(s.revision);
  root.setLastTimeUs(s.last_time_us);

  auto orgs = root.initOrganizations(static_cast<unsigned>(s.orgs.size()));
  for (unsigned i = 0; i < orgs.size(); ++i) {
    const Organization& o = s.orgs[i];
    auto b = orgs[i];
    b.setId(CapText(o.id));
    b.setName(CapText(o.name));
    PolicyToSchema(o.policy, b.initPolicy());
    b.setAllowlistVersion(o.allowlist.version);
    b.setAllowlistEnabled(o.allowlist.enabled);
    PutTexts(b.initAllowlistCidrs(static_cast<unsigned>(o.allowlist.cidrs.size())),
             o.allowlist.cidrs);
    PutTexts(b.initDomains(static_cast<unsigned>(o.domains.size())), o.domains);
    PutTexts(b.initIdps(static_cast<unsigned>(o.idps.size())), o.idps);
    PutIdx(b.initMembers(static_cast<unsigned>(o.members.size())), o.members);
    PutIdx(b.initApplicationUsers(static_cast<unsigned>(o.application_users.size())),
           o.application_users);
  }
  auto idps = root.initIdps(static_cast<unsigned>(s.idps.size()));
  unsigned i = 0;
  for (const auto& [id, p] : s.idps) {
    auto b = idps[i++];
    b.setId(CapText(p.id));
    b.setOrgId(CapText(p.org_id));
    PutTexts(b.initDomains(static_cast<unsigned>(p.domains.size())), p.domains);
    b.setMaxAgeSeconds(p.max_age_seconds);
    b.setExtendWhenUsed(p.extend_when_used);
    b.setRemoved(p.removed);
  }
  auto users = root.initUsers(static_cast<unsigned>(s.users.size()));
  for (unsigned u = 0; u < users.size(); ++u) {
    const User& user = s.users[u];
    auto b = users[u];
    b.setId(CapText(user.id));
    b.setEmail(CapText(user.email));
    b.setActive(user.active);
    b.setTwoFactorEnabled(user.two_factor_enabled);
    b.setApplication(user.application);
    b.setDeleted(user.deleted);
    b.setApplicationOrg(user.application_org);
    b.setTokenValidityBeginUs(user.token_validity_begin_us);
    b.setTokenValidityBeginSeq(user.token_validity_begin_seq);
    PutIdx(b.initOrgs(static_cast<unsigned>(user.orgs.size())), user.orgs);
  }
  PutTexts(root.initMethods(static_cast<unsigned>(s.methods.size())), s.methods);
  auto lists = root.initIpLists(static_cast<unsigned>(s.ip_lists.size()));
  for (unsigned l = 0; l < lists.size(); ++l) {
    const auto& ranges = s.ip_lists[l];
    auto cidrs = lists[l].initCidrs(static_cast<unsigned>(ranges.size()));
    for (unsigned k = 0; k < cidrs.size(); ++k) cidrs.set(k, CapText(ranges[k].ToString()));
  }
}

// Everything but the tokens; `s` is empty on entry.
Status DecodeSmallState(schema::Snapshot::Reader root, State& s) {
  s.revision = root.getRevision();
  s.last_time_us = root.getLastTimeUs();
  const auto user_count = root.getUsers().size();
  const auto org_count = root.getOrganizations().size();
  for (auto b : root.getOrganizations()) {
    Organization& o = s.OrgFor(Str(b.getId()));
    o.name = Str(b.getName());
    o.policy = PolicyFromSchema(b.getPolicy());
    o.allowlist.version = b.getAllowlistVersion();
    o.allowlist.enabled = b.getAllowlistEnabled();
    for (auto c : b.getAllowlistCidrs()) o.allowlist.cidrs.push_back(Str(c));
    for (const auto& c : o.allowlist.cidrs) {
      auto r = ParseCidr(c);
      if (r.ok()) o.allowlist_ranges.push_back(*r);
    }
    for (auto d : b.getDomains()) o.domains.insert(Str(d));
    for (auto d : b.getIdps()) o.idps.insert(Str(d));
    for (Idx m : b.getMembers()) {
      if (m >= user_count) return Damaged("a member index is out of range");
      o.members.insert(m);
    }
    for (Idx m : b.getApplicationUsers()) {
      if (m >= user_count) return Damaged("an application user index is out of range");
      o.application_users.insert(m);
    }
    const Idx org_idx = s.OrgIdx(o.id);
    for (const auto& d : o.domains) s.domain_owner[d] = org_idx;
  }
  if (s.orgs.size() != org_count) return Damaged("duplicate organization ids");
  for (auto b : root.getIdps()) {
    IdentityProvider& p = s.idps[Str(b.getId())];
    p.id = Str(b.getId());
    p.org_id = Str(b.getOrgId());
    for (auto d : b.getDomains()) p.domains.push_back(Str(d));
    p.max_age_seconds = b.getMaxAgeSeconds();
    p.extend_when_used = b.getExtendWhenUsed();
    p.removed = b.getRemoved();
  }
  for (auto b : root.getUsers()) {
    User& u = s.UserFor(Str(b.getId()));
    u.email = Str(b.getEmail());
    u.active = b.getActive();
    u.two_factor_enabled = b.getTwoFactorEnabled();
    u.application = b.getApplication();
    u.deleted = b.getDeleted();
    u.application_org = b.getApplicationOrg();
    if (u.application_org != kNoIdx && u.application_org >= org_count) {
      return Damaged("an application user's organization is out of range");
    }
    u.token_validity_begin_us = b.getTokenValidityBeginUs();
    u.token_validity_begin_seq = b.getTokenValidityBeginSeq();
    for (Idx o : b.getOrgs()) {
      if (o >= org_count) return Damaged("a membership index is out of range");
      u.orgs.push_back(o);
    }
    if (!std::is_sorted(u.orgs.begin(), u.orgs.end())) return Damaged("unsorted memberships");
  }
  if (s.users.size() != user_count) return Damaged("duplicate user ids");
  for (auto m : root.getMethods()) s.InternMethod(Str(m));
  if (s.methods.size() != root.getMethods().size()) return Damaged("duplicate methods");
  auto lists = root.getIpLists();
  if (lists.size() == 0 || lists[0].getCidrs().size() != 0) {
    return Damaged("the first IP list must be the empty one");
  }
  for (unsigned l = 1; l < lists.size(); ++l) {
    std::vector<std::string> cidrs;
    for (auto c : lists[l].getCidrs()) {
      // Lists are interned by their normalized texts (as tokens' events hold them).
      auto range = ParseCidr(Str(c));
      if (!range.ok() || range->ToString() != Str(c)) {
        return Damaged("an IP list entry that is not a normalized CIDR");
      }
      cidrs.push_back(Str(c));
    }
    if (s.InternIpList(cidrs) != l) return Damaged("duplicate IP lists");
  }
  return Status::Ok();
}

// Runs work(thread) on `threads` threads (the caller's among them). If the system
// refuses a thread, its share runs on the caller's thread after the caller's own.
template <typename Fn>
void OnThreads(unsigned threads, const Fn& work) {
  std::vector<unsigned> refused;
  std::vector<std::jthread> pool;  // joined on leaving, even by an exception
  for (unsigned t = 1; t < threads; ++t) {
    try {
      pool.emplace_back([&work, t] { work(t); });
    } catch (const std::system_error&) {
      refused.push_back(t);
    }
  }
  work(0u);
  for (unsigned t : refused) work(t);
}

// The first failure of several threads.
class FirstFailure {
 public:
  void Set(Status s) {
    std::lock_guard lock(mu_);
    if (status_.ok()) status_ = std::move(s);
    failed_.store(true, std::memory_order_relaxed);
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  Status Take() { return std::move(status_); }

 private:
  std::mutex mu_;
  Status status_;
  std::atomic<bool> failed_{false};
};

// How many of each thing a header lists, for checking records before the header's
// state is built (which happens meanwhile, on another thread).
struct Bounds {
  std::size_t users = 0;
  std::size_t orgs = 0;
  std::size_t methods = 0;
  std::size_t ip_lists = 0;
};

// Why record `index` (its bytes just copied from a chunk) could not be in the state, or
// nullptr. Flags and the kind are read as bytes: a byte other than 0 or 1 read as a
// bool would be undefined behaviour. Owner lists are checked later, in order.
const char* RecordFault(const TokenRecord& record, std::uint64_t index, const Bounds& bounds) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&record);
  if (bytes[offsetof(TokenRecord, kind)] > static_cast<unsigned char>(TokenKind::kApplication)) {
    return "an unknown token kind";
  }
  for (std::size_t flag :
       {offsetof(TokenRecord, two_factor_used), offsetof(TokenRecord, extend_when_used),
        offsetof(TokenRecord, revoked)}) {
    if (bytes[flag] > 1) return "a flag that is not a bool";
  }
  for (std::uint8_t b : record.padding) {
    if (b != 0) return "non-zero padding";
  }
  if (bytes[offsetof(TokenRecord, prefix) + Prefix::kMax] != 0) return "an unterminated prefix";
  if (record.owner >= bounds.users) return "an owner out of range";
  if (record.org != kNoIdx && record.org >= bounds.orgs) return "an organization out of range";
  if (record.method >= bounds.methods) return "a method out of range";
  if (record.ip_allowlist >= bounds.ip_lists) return "an IP allowlist out of range";
  if (record.next_of_owner != kNoIdx && record.next_of_owner >= index) {
    return "an owner list pointing forward";
  }
  return nullptr;
}

// Copies chunk `c` (`bytes`) into records [first, first + count): a block at a time, so
// that each block is still in the cache when it is validated and then indexed.
Status CopyChunk(std::uint32_t c, std::string_view bytes, std::uint64_t first, std::uint64_t count,
                 const Bounds& bounds, RecordVector& records, TokenTable::IndexBuilder& index) {
  if (bytes.size() != count * sizeof(TokenRecord)) {
    return Damaged("chunk " + std::to_string(c) + " holds " + std::to_string(bytes.size()) +
                   " bytes, not " + std::to_string(count * sizeof(TokenRecord)));
  }
  constexpr std::uint64_t kBlock = 256;  // 28 KiB
  for (std::uint64_t begin = first; begin < first + count; begin += kBlock) {
    const std::uint64_t end = std::min(begin + kBlock, first + count);
    std::memcpy(records.data() + begin, bytes.data() + (begin - first) * sizeof(TokenRecord),
                (end - begin) * sizeof(TokenRecord));
    for (std::uint64_t i = begin; i < end; ++i) {
      if (const char* fault = RecordFault(records[i], i, bounds)) {
        return Damaged("token " + std::to_string(i) + " has " + fault);
      }
    }
    if (!index.Add(static_cast<Idx>(begin), static_cast<Idx>(end))) {
      return Damaged("two tokens share a prefix");
    }
  }
  return Status::Ok();
}

// Decodes the state but its tokens, turning a decoding exception into a Status (it runs
// while other threads are loading chunks, and must not unwind past them).
Status DecodeSmallStateOrFail(schema::Snapshot::Reader root, State& s) {
  try {
    return DecodeSmallState(root, s);
  } catch (const kj::Exception& e) {
    return Status::Corruption("snapshot_undecodable", std::string("snapshot does not decode: ") +
                                                          e.getDescription().cStr());
  }
}

std::string Hex(const kj::byte* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (std::size_t i = 0; i < size; ++i) {
    hex += kDigits[data[i] >> 4];
    hex += kDigits[data[i] & 15];
  }
  return hex;
}

Result<State> DecodeParsed(schema::Snapshot::Reader root, const ChunkReader& read_chunk,
                           std::optional<std::uint64_t> stored_at, std::string_view log_root) {
  if (root.getFormatVersion() != kSnapshotFormat) {
    return Status::FailedPrecondition("snapshot_format_unsupported",
                                      "snapshot format " + std::to_string(root.getFormatVersion()) +
                                          " is not the one this build reads (" +
                                          std::to_string(kSnapshotFormat) + ")");
  }
  const std::uint64_t revision = root.getRevision();
  if (stored_at.has_value() && revision != *stored_at) {
    return Status::Corruption("snapshot_mismatch",
                              "the snapshot stored at " + std::to_string(*stored_at) +
                                  " describes revision " + std::to_string(revision));
  }
  if (!log_root.empty() && root.hasLogRoot()) {
    auto recorded = root.getLogRoot();
    if (recorded.size() != log_root.size() ||
        std::memcmp(recorded.begin(), log_root.data(), log_root.size()) != 0) {
      return Status::Corruption(
          "snapshot_mismatch",
          "the snapshot at seq " + std::to_string(revision) +
              " was made from another history: it records the log root " +
              Hex(recorded.begin(), recorded.size()) + " but the log's root at that seq is " +
              Hex(reinterpret_cast<const kj::byte*>(log_root.data()), log_root.size()));
    }
  }
  if (root.getRecordSize() != sizeof(TokenRecord) || root.getRecordLayout() != kRecordLayout) {
    return Damaged("token records of another layout (" + std::to_string(root.getRecordSize()) +
                   " bytes, layout " + std::to_string(root.getRecordLayout()) + ")");
  }
  // Each token was created by an event, so a count beyond the revision is damage, and a
  // count checked against the seq the snapshot is stored at allocates no more than the
  // log could have made.
  const std::uint64_t n = root.getTokenCount();
  const std::uint64_t per_chunk = root.getChunkRecords();
  const std::uint32_t chunks = root.getChunkCount();
  if (n > revision || n >= kNoIdx) return Damaged("too many tokens");
  if (n > 0 && (per_chunk == 0 || chunks != (n + per_chunk - 1) / per_chunk)) {
    return Damaged("token and chunk counts disagree");
  }
  if (n == 0 && chunks != 0) return Damaged("chunks without tokens");
  const Bounds bounds{root.getUsers().size(), root.getOrganizations().size(),
                      root.getMethods().size(), root.getIpLists().size()};

  // Uninitialized: each chunk overwrites its part. With room to grow, so that the first
  // tokens created after opening do not copy the whole table; capacity never touched
  // costs address space, not memory.
  RecordVector records;
  records.reserve(n + n / 4);
  records.resize(n);
  TokenTable::IndexBuilder index(records);
  OnThreads(kLoadThreads, [&](unsigned t) { index.Clear(t, kLoadThreads); });

  // 1. The chunks, each thread taking the next; the first thread decodes the rest of
  //    the state before it joins in.
  State s;
  FirstFailure failure;
  std::atomic<std::uint32_t> next_chunk{0};
  OnThreads(kLoadThreads, [&](unsigned t) {
    if (t == 0) {
      if (Status st = DecodeSmallStateOrFail(root, s); !st.ok()) failure.Set(std::move(st));
    }
    for (;;) {
      const std::uint32_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks || failure.failed()) return;
      const std::uint64_t first = c * per_chunk;
      const std::uint64_t count = std::min(per_chunk, n - first);
      Status st = read_chunk(c, [&](std::string_view bytes) {
        return CopyChunk(c, bytes, first, count, bounds, records, index);
      });
      if (st.code() == Status::Code::kNotFound) {
        st = Damaged("chunk " + std::to_string(c) + " is missing");
      }
      if (!st.ok()) failure.Set(std::move(st));
    }
  });
  if (failure.failed()) return failure.Take();

  // 2. Each owner's list runs from its newest token back through older ones, so it
  //    follows from the record order alone: check it and find each owner's newest.
  std::vector<Idx> newest(s.users.size(), kNoIdx);
  for (Idx i = 0; i < n; ++i) {
    const TokenRecord& t = records[i];
    if (t.next_of_owner != newest[t.owner]) {
      return Damaged("token " + std::to_string(i) + " is misplaced in its owner's list");
    }
    newest[t.owner] = i;
  }
  for (std::size_t u = 0; u < newest.size(); ++u) s.users[u].last_token = newest[u];
  s.tokens.Adopt(std::move(records), std::move(index));
  return s;
}

}  // namespace

RecordVector PrefaultedRecords(std::size_t n) {
  RecordVector records;
  records.resize(n);  // uninitialized
  auto* bytes = reinterpret_cast<unsigned char*>(records.data());
  const std::size_t size = n * sizeof(TokenRecord);
  OnThreads(kLoadThreads, [&](unsigned t) {
    const std::size_t begin = size * t / kLoadThreads;
    const std::size_t end = size * (t + 1) / kLoadThreads;
    if (end > begin) std::memset(bytes + begin, 0, end - begin);
  });
  return records;
}

SnapshotImage CopyForSnapshot(const State& s, std::uint32_t chunk_records, RecordVector room) {
  SnapshotImage image;
  image.revision = s.revision;
  image.chunk_records = std::max<std::uint32_t>(chunk_records, 1);
  image.header = std::make_unique<capnp::MallocMessageBuilder>();
  auto root = image.header->initRoot<schema::Snapshot>();
  EncodeSmallState(s, root);
  const RecordVector& records = s.tokens.records();
  const std::uint64_t n = records.size();
  root.setTokenCount(n);
  root.setChunkRecords(image.chunk_records);
  root.setChunkCount(
      static_cast<std::uint32_t>((n + image.chunk_records - 1) / image.chunk_records));
  root.setRecordSize(sizeof(TokenRecord));
  root.setRecordLayout(kRecordLayout);
  if (room.capacity() >= records.size()) image.records = std::move(room);
  image.records.resize(records.size());  // uninitialized until the copy
  if (!records.empty()) {
    std::memcpy(image.records.data(), records.data(), records.size() * sizeof(TokenRecord));
  }
  return image;
}

std::string PackHeader(const SnapshotImage& image) {
  std::string out;
  StringOutput stream(&out);
  capnp::writePackedMessage(stream, *image.header);
  return out;
}

std::vector<std::string_view> ChunkBytes(const SnapshotImage& image) {
  std::vector<std::string_view> chunks;
  const auto* bytes = reinterpret_cast<const char*>(image.records.data());
  const std::size_t chunk_bytes = std::size_t{image.chunk_records} * sizeof(TokenRecord);
  const std::size_t total = image.records.size() * sizeof(TokenRecord);
  for (std::size_t offset = 0; offset < total; offset += chunk_bytes) {
    chunks.emplace_back(bytes + offset, std::min(chunk_bytes, total - offset));
  }
  return chunks;
}

void SetLogRoot(const SnapshotImage& image, std::string_view log_root) {
  image.header->getRoot<schema::Snapshot>().setLogRoot(
      capnp::Data::Reader(reinterpret_cast<const kj::byte*>(log_root.data()), log_root.size()));
}

Result<State> DecodeSnapshot(std::string_view header, const ChunkReader& read_chunk,
                             std::optional<std::uint64_t> stored_at, std::string_view log_root) {
  // The answer lives outside the reader's scope: the reader reads segments after the
  // first lazily, and its destructor throws when the rest of a short message is missing.
  // Returning from inside that scope would leave a constructed return value that a
  // throwing destructor skips (it leaked under ASan: fuzz_snapshot_decode found it).
  std::optional<Result<State>> decoded;
  try {
    kj::ArrayInputStream input(kj::ArrayPtr<const kj::byte>(
        reinterpret_cast<const kj::byte*>(header.data()), header.size()));
    capnp::ReaderOptions options;
    options.traversalLimitInWords = header.size() * 64 + (1u << 20);
    capnp::PackedMessageReader message(input, options);
    decoded.emplace(
        DecodeParsed(message.getRoot<schema::Snapshot>(), read_chunk, stored_at, log_root));
  } catch (const kj::Exception& e) {
    return Status::Corruption("snapshot_undecodable", std::string("snapshot does not decode: ") +
                                                          e.getDescription().cStr());
  }
  return std::move(*decoded);
}

EncodedSnapshot EncodeSnapshot(const State& state, std::uint32_t chunk_records) {
  SnapshotImage image = CopyForSnapshot(state, chunk_records);
  EncodedSnapshot encoded;
  encoded.header = PackHeader(image);
  for (std::string_view chunk : ChunkBytes(image)) encoded.chunks.emplace_back(chunk);
  return encoded;
}

Result<State> DecodeSnapshot(const EncodedSnapshot& snapshot) {
  return DecodeSnapshot(snapshot.header, [&](std::uint32_t chunk,
                                             const std::function<Status(std::string_view)>& use) {
    if (chunk >= snapshot.chunks.size()) {
      return Status::NotFound("snapshot_chunk_missing", "no chunk " + std::to_string(chunk));
    }
    return use(snapshot.chunks[chunk]);
  });
}

}  // namespace authledger::internal
