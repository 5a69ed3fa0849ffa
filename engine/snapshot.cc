#include "engine/snapshot.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>

#include <algorithm>
#include <cstring>

#include "engine/decide_util.h"
#include "schema/snapshot.capnp.h"

namespace authledger::internal {

namespace {

constexpr std::uint32_t kSnapshotFormat = 2;

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

void EncodeTokens(const State& s, schema::SnapshotTokens::Builder b) {
  const auto& records = s.tokens.records();
  const auto n = static_cast<unsigned>(records.size());
  auto prefixes = b.initPrefixes(n);
  auto hashes = b.initSecretHashes(n * 32);
  auto kinds = b.initKinds(n);
  auto flags = b.initFlags(n);
  auto created = b.initCreatedUs(n);
  auto expiry = b.initExpiryTimeUs(n);
  auto last_used = b.initLastUsedUs(n);
  auto created_seq = b.initCreatedSeq(n);
  auto owners = b.initOwners(n);
  auto orgs = b.initOrgs(n);
  auto methods = b.initMethods(n);
  auto ip_lists = b.initIpAllowlists(n);
  auto max_age = b.initMaxAgeSeconds(n);
  for (unsigned i = 0; i < n; ++i) {
    const TokenRecord& t = records[i];
    auto p = t.prefix.view();
    prefixes.set(i, capnp::Text::Reader(p.data(), p.size()));
    std::memcpy(hashes.begin() + static_cast<std::size_t>(i) * 32, t.secret_hash.data(), 32);
    kinds.set(i, static_cast<schema::TokenKind>(t.kind));
    flags.set(i, static_cast<std::uint8_t>((t.two_factor_used ? 1 : 0) |
                                           (t.extend_when_used ? 2 : 0) | (t.revoked ? 4 : 0)));
    created.set(i, t.created_us);
    expiry.set(i, t.expiry_time_us);
    last_used.set(i, t.last_used_us);
    created_seq.set(i, t.created_seq);
    owners.set(i, t.owner);
    orgs.set(i, t.org);
    methods.set(i, t.method);
    ip_lists.set(i, t.ip_allowlist);
    max_age.set(i, t.max_age_seconds);
  }
}

Status DecodeTokens(schema::SnapshotTokens::Reader b, State& s) {
  auto prefixes = b.getPrefixes();
  const unsigned n = prefixes.size();
  auto hashes = b.getSecretHashes();
  auto kinds = b.getKinds();
  auto flags = b.getFlags();
  auto created = b.getCreatedUs();
  auto expiry = b.getExpiryTimeUs();
  auto last_used = b.getLastUsedUs();
  auto created_seq = b.getCreatedSeq();
  auto owners = b.getOwners();
  auto orgs = b.getOrgs();
  auto methods = b.getMethods();
  auto ip_lists = b.getIpAllowlists();
  auto max_age = b.getMaxAgeSeconds();
  if (hashes.size() != static_cast<std::size_t>(n) * 32 || kinds.size() != n || flags.size() != n ||
      created.size() != n || expiry.size() != n || last_used.size() != n ||
      created_seq.size() != n || owners.size() != n || orgs.size() != n || methods.size() != n ||
      ip_lists.size() != n || max_age.size() != n) {
    return Damaged("token columns of different lengths");
  }
  s.tokens.Reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    TokenRecord t;
    auto p = prefixes[i];
    t.prefix = Prefix(std::string_view(p.begin(), p.size()));
    std::memcpy(t.secret_hash.data(), hashes.begin() + static_cast<std::size_t>(i) * 32, 32);
    t.kind = static_cast<TokenKind>(kinds[i]);
    std::uint8_t f = flags[i];
    t.two_factor_used = (f & 1) != 0;
    t.extend_when_used = (f & 2) != 0;
    t.revoked = (f & 4) != 0;
    t.created_us = created[i];
    t.expiry_time_us = expiry[i];
    t.last_used_us = last_used[i];
    t.created_seq = created_seq[i];
    t.owner = owners[i];
    t.org = orgs[i];
    t.method = methods[i];
    t.ip_allowlist = ip_lists[i];
    t.max_age_seconds = max_age[i];
    if (t.owner >= s.users.size() || t.method >= s.methods.size() ||
        t.ip_allowlist >= s.ip_lists.size() || (t.org != kNoIdx && t.org >= s.orgs.size()) ||
        static_cast<unsigned>(t.kind) > 2) {
      return Damaged("token " + std::to_string(i) + " refers outside the snapshot");
    }
    if (s.tokens.Find(t.prefix.view()) != kNoIdx) return Damaged("duplicate token prefix");
    s.AddToken(std::move(t));
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeSnapshot(const State& s) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Snapshot>();
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
  EncodeTokens(s, root.initTokens());

  std::string out;
  StringOutput stream(&out);
  capnp::writePackedMessage(stream, message);
  return out;
}

Result<State> DecodeSnapshot(std::string_view bytes) {
  State s;
  try {
    kj::ArrayInputStream input(kj::ArrayPtr<const kj::byte>(
        reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
    capnp::ReaderOptions options;
    options.traversalLimitInWords = bytes.size() * 64 + (1u << 20);
    capnp::PackedMessageReader message(input, options);
    auto root = message.getRoot<schema::Snapshot>();
    if (root.getFormatVersion() != kSnapshotFormat) {
      return Status::Corruption("snapshot_undecodable",
                                "snapshot format " + std::to_string(root.getFormatVersion()) +
                                    " is not one this build reads");
    }
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
    auto lists = root.getIpLists();
    if (lists.size() == 0 || lists[0].getCidrs().size() != 0) {
      return Damaged("the first IP list must be the empty one");
    }
    for (unsigned l = 1; l < lists.size(); ++l) {
      std::vector<std::string> cidrs;
      for (auto c : lists[l].getCidrs()) cidrs.push_back(Str(c));
      if (s.InternIpList(cidrs) != l) return Damaged("duplicate IP lists");
    }
    if (Status t = DecodeTokens(root.getTokens(), s); !t.ok()) return t;
  } catch (const kj::Exception& e) {
    return Status::Corruption("snapshot_undecodable", std::string("snapshot does not decode: ") +
                                                          e.getDescription().cStr());
  }
  return s;
}

}  // namespace authledger::internal
