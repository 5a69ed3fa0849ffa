// The auditors' log tools (authledger/log_tools.h) over storage::EventLog opened
// read-only: checkpoint, proofs and their free-standing verifier, verify, export.
#include <authledger/log_tools.h>
#include <capnp/compat/json.h>
#include <capnp/message.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <span>

#include "engine/fold.h"
#include "engine/log_checkpoint.h"
#include "engine/state.h"
#include "engine/state_store.h"
#include "replay/event_json.h"
#include "replay/json_parse.h"
#include "replay/json_writer.h"
#include "replay/time_text.h"
#include "storage/checkpoint.h"
#include "storage/event_log.h"
#include "storage/hash.h"
#include "storage/merkle.h"
#include "storage/subjects.h"

namespace authledger {

using replay::FormatTime;
using replay::JsonObject;

namespace {

using storage::Hash;

constexpr std::uint64_t kProgressEvery = 4096;

// The log read-only (storage retries an open that races with a live engine's
// compactions, so a failure here is real).
Result<std::unique_ptr<storage::EventLog>> OpenReadOnly(const std::string& dir,
                                                        const std::string& key_file = {}) {
  storage::EventLogOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  options.checkpoint_key_file = key_file;
  return storage::EventLog::Open(dir, options);
}

// ---- JSON in (ParseJson, into Cap'n Proto's generic JsonValue) ----

// Checkpoints and proofs are flat objects of numbers, strings and arrays of strings.
constexpr std::size_t kMaxJsonNesting = 4;

// A parsed JSON object and the reason code to fail with when a field is wrong.
class JsonIn {
 public:
  JsonIn(std::string_view reason) : reason_(reason) {}

  Status Parse(std::string_view text) {
    if (Status s = replay::ParseJson(text, message_.initRoot<capnp::JsonValue>(), kMaxJsonNesting);
        !s.ok()) {
      return Bad("not JSON: " + std::string(s.message()));
    }
    root_ = message_.getRoot<capnp::JsonValue>().asReader();
    if (root_.which() != capnp::JsonValue::OBJECT) return Bad("not a JSON object");
    return Status::Ok();
  }

  bool Has(std::string_view name) const { return Find(name).has_value(); }

  Result<std::string> String(std::string_view name, bool required = true) const {
    auto v = Find(name);
    if (!v) {
      if (required) return Bad("'" + std::string(name) + "' is missing");
      return std::string();
    }
    if (v->which() != capnp::JsonValue::STRING) {
      return Bad("'" + std::string(name) + "' is not a string");
    }
    return std::string(v->getString().cStr());
  }

  // A JSON number that is a whole number up to 2^53, or a string of decimal digits.
  Result<std::uint64_t> U64(std::string_view name) const {
    auto v = Find(name);
    if (!v) return Bad("'" + std::string(name) + "' is missing");
    if (v->which() == capnp::JsonValue::NUMBER) {
      double d = v->getNumber();
      if (d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d) {
        return static_cast<std::uint64_t>(d);
      }
    } else if (v->which() == capnp::JsonValue::STRING) {
      std::string_view s(v->getString().cStr());
      std::uint64_t n = 0;
      bool digits = !s.empty() && s.size() <= 20;
      for (char c : s) {
        if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) digits = false;
        if (!digits) break;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (digits) return n;
    }
    return Bad("'" + std::string(name) + "' is not a non-negative integer");
  }

  Result<std::vector<std::string>> Strings(std::string_view name) const {
    auto v = Find(name);
    if (!v) return Bad("'" + std::string(name) + "' is missing");
    if (v->which() != capnp::JsonValue::ARRAY) {
      return Bad("'" + std::string(name) + "' is not an array");
    }
    std::vector<std::string> out;
    for (auto element : v->getArray()) {
      if (element.which() != capnp::JsonValue::STRING) {
        return Bad("'" + std::string(name) + "' holds a non-string");
      }
      out.emplace_back(element.getString().cStr());
    }
    return out;
  }

  Status Bad(const std::string& what) const { return Status::InvalidArgument(reason_, what); }

 private:
  std::optional<capnp::JsonValue::Reader> Find(std::string_view name) const {
    for (auto field : root_.getObject()) {
      if (std::string_view(field.getName().cStr()) == name) return field.getValue();
    }
    return std::nullopt;
  }

  std::string reason_;
  capnp::MallocMessageBuilder message_;
  capnp::JsonValue::Reader root_;
};

std::optional<std::vector<std::uint8_t>> BytesFromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

Result<Hash> HashField(const JsonIn& in, std::string_view name) {
  auto hex = in.String(name);
  if (!hex.ok()) return hex.status();
  auto hash = storage::HashFromHex(*hex);
  if (!hash) return in.Bad("'" + std::string(name) + "' is not 64 hex digits");
  return *hash;
}

Result<std::vector<Hash>> HashList(const JsonIn& in, std::string_view name) {
  auto hexes = in.Strings(name);
  if (!hexes.ok()) return hexes.status();
  std::vector<Hash> out;
  for (const auto& hex : *hexes) {
    auto hash = storage::HashFromHex(hex);
    if (!hash) return in.Bad("'" + std::string(name) + "' holds a value that is not a hash");
    out.push_back(*hash);
  }
  return out;
}

// Whether `hex` spells `hash` (in either case).
bool SameHash(std::string_view hex, const Hash& hash) {
  auto parsed = storage::HashFromHex(hex);
  return parsed && *parsed == hash;
}

std::vector<std::string> Hexes(const std::vector<Hash>& hashes) {
  std::vector<std::string> out;
  out.reserve(hashes.size());
  for (const auto& h : hashes) out.push_back(storage::ToHex(h));
  return out;
}

Result<storage::Checkpoint> ToStorage(const LogCheckpoint& c) {
  storage::Checkpoint out;
  out.size = c.size;
  out.time_us = c.time_us;
  out.key_id = c.key_id;
  auto root = storage::HashFromHex(c.root_hex);
  auto signature = BytesFromHex(c.signature_hex);
  if (!root || !signature) {
    return Status::InvalidArgument("checkpoint_malformed", "root or signature is not hex");
  }
  out.root = *root;
  out.signature = std::move(*signature);
  return out;
}

}  // namespace

// ---- Checkpoints ----

Result<LogCheckpoint> ReadCheckpoint(const std::string& data_dir, const std::string& key_file) {
  auto log = OpenReadOnly(data_dir, key_file);
  if (!log.ok()) return log.status();
  auto c = (*log)->CurrentCheckpoint();
  if (!c.ok()) return c.status();
  return internal::PublicCheckpoint(*c);
}

std::string CheckpointToJson(const LogCheckpoint& c) {
  JsonObject json;
  json.Num("size", c.size).Str("root", c.root_hex).Num("time_us", c.time_us);
  json.Str("time", FormatTime(c.time_us));
  if (!c.signature_hex.empty()) json.Str("signature", c.signature_hex).Str("key_id", c.key_id);
  return json.Done();
}

Result<LogCheckpoint> CheckpointFromJson(std::string_view text) {
  JsonIn in("checkpoint_malformed");
  if (Status s = in.Parse(text); !s.ok()) return s;
  LogCheckpoint c;
  auto size = in.U64("size");
  auto root = HashField(in, "root");
  auto time = in.U64("time_us");
  auto signature = in.String("signature", /*required=*/false);
  auto key_id = in.String("key_id", /*required=*/false);
  for (const Status* s :
       {&size.status(), &root.status(), &time.status(), &signature.status(), &key_id.status()}) {
    if (!s->ok()) return *s;
  }
  c.size = *size;
  c.root_hex = storage::ToHex(*root);
  c.time_us = static_cast<std::int64_t>(*time);
  if (!BytesFromHex(*signature)) return in.Bad("'signature' is not hex");
  c.signature_hex = *signature;
  c.key_id = *key_id;
  return c;
}

Result<bool> CheckpointSignatureValid(const LogCheckpoint& checkpoint,
                                      const std::string& public_key_file) {
  auto key = storage::LoadPublicKeyFile(public_key_file);
  if (!key.ok()) return key.status();
  auto c = ToStorage(checkpoint);
  if (!c.ok()) return false;
  return storage::VerifyCheckpointSignature(*c, *key);
}

// ---- Proofs ----

Result<InclusionProof> ProveInclusion(const std::string& data_dir, std::uint64_t seq,
                                      std::uint64_t tree_size) {
  auto opened = OpenReadOnly(data_dir);
  if (!opened.ok()) return opened.status();
  const storage::EventLog& log = **opened;
  if (tree_size == 0) tree_size = log.size();
  auto path = log.InclusionProof(seq, tree_size);
  if (!path.ok()) return path.status();
  auto root = log.RootAt(tree_size);
  if (!root.ok()) return root.status();
  auto leaf = log.LeafHashAt(seq);
  if (!leaf.ok()) return leaf.status();
  auto event = log.Read(seq);
  if (!event.ok()) return event.status();
  InclusionProof proof;
  proof.seq = seq;
  proof.leaf_index = seq - 1;
  proof.tree_size = tree_size;
  proof.leaf_hash_hex = storage::ToHex(*leaf);
  proof.root_hex = storage::ToHex(*root);
  proof.audit_path_hex = Hexes(*path);
  proof.event_hex = storage::ToHex(event->bytes());
  return proof;
}

Result<ConsistencyProof> ProveConsistency(const std::string& data_dir, std::uint64_t old_size,
                                          std::uint64_t new_size) {
  auto opened = OpenReadOnly(data_dir);
  if (!opened.ok()) return opened.status();
  const storage::EventLog& log = **opened;
  if (new_size == 0) new_size = log.size();
  if (old_size == 0 || old_size > new_size) {
    return Status::InvalidArgument("proof_out_of_range", "no consistency proof from " +
                                                             std::to_string(old_size) + " to " +
                                                             std::to_string(new_size) + " events");
  }
  auto proof_hashes = log.ConsistencyProof(old_size, new_size);
  if (!proof_hashes.ok()) return proof_hashes.status();
  auto old_root = log.RootAt(old_size);
  if (!old_root.ok()) return old_root.status();
  auto new_root = log.RootAt(new_size);
  if (!new_root.ok()) return new_root.status();
  ConsistencyProof proof;
  proof.old_size = old_size;
  proof.new_size = new_size;
  proof.old_root_hex = storage::ToHex(*old_root);
  proof.new_root_hex = storage::ToHex(*new_root);
  proof.proof_hex = Hexes(*proof_hashes);
  return proof;
}

std::string ProofToJson(const InclusionProof& p) {
  JsonObject json;
  json.Str("type", "inclusion").Num("seq", p.seq).Num("leaf_index", p.leaf_index);
  json.Num("tree_size", p.tree_size).Str("leaf_hash", p.leaf_hash_hex).Str("root", p.root_hex);
  json.Strs("audit_path", p.audit_path_hex);
  if (!p.event_hex.empty()) json.Str("event", p.event_hex);
  return json.Done();
}

std::string ProofToJson(const ConsistencyProof& p) {
  JsonObject json;
  json.Str("type", "consistency").Num("old_size", p.old_size).Num("new_size", p.new_size);
  json.Str("old_root", p.old_root_hex).Str("new_root", p.new_root_hex).Strs("proof", p.proof_hex);
  return json.Done();
}

namespace {

ProofCheck Verdict(std::string type, std::string reason, std::string message) {
  bool valid = reason == "ok";
  return {valid, std::move(type), std::move(reason), std::move(message)};
}

Result<ProofCheck> CheckInclusion(const JsonIn& in, const std::optional<LogCheckpoint>& trusted) {
  auto index = in.U64("leaf_index");
  auto size = in.U64("tree_size");
  auto leaf = HashField(in, "leaf_hash");
  auto root = HashField(in, "root");
  auto path = HashList(in, "audit_path");
  auto event_hex = in.String("event", /*required=*/false);
  for (const Status* s : {&index.status(), &size.status(), &leaf.status(), &root.status(),
                          &path.status(), &event_hex.status()}) {
    if (!s->ok()) return *s;
  }
  if (in.Has("seq")) {
    auto seq = in.U64("seq");
    if (!seq.ok()) return seq.status();
    if (*seq != *index + 1) return in.Bad("'seq' is not leaf_index + 1");
  }
  if (!event_hex->empty()) {
    auto bytes = BytesFromHex(*event_hex);
    if (!bytes) return in.Bad("'event' is not hex");
    if (storage::LeafHash(*bytes) != *leaf) {
      return Verdict("inclusion", "leaf_mismatch", "the event bytes do not hash to the leaf hash");
    }
  }
  if (!storage::VerifyInclusion(*leaf, *index, *size, *path, *root)) {
    return Verdict("inclusion", "proof_invalid",
                   "the audit path does not lead from leaf " + std::to_string(*index) +
                       " to the root of the tree of " + std::to_string(*size));
  }
  if (trusted && (trusted->size != *size || !SameHash(trusted->root_hex, *root))) {
    return Verdict("inclusion", "checkpoint_mismatch",
                   "the proof is about the tree of " + std::to_string(*size) +
                       " events, not the checkpoint's tree of " + std::to_string(trusted->size));
  }
  return Verdict("inclusion", "ok",
                 "event " + std::to_string(*index + 1) + " is leaf " + std::to_string(*index) +
                     " of the tree of " + std::to_string(*size) + " events with root " +
                     storage::ToHex(*root));
}

Result<ProofCheck> CheckConsistency(const JsonIn& in, const std::optional<LogCheckpoint>& trusted) {
  auto old_size = in.U64("old_size");
  auto new_size = in.U64("new_size");
  auto old_root = HashField(in, "old_root");
  auto new_root = HashField(in, "new_root");
  auto proof = HashList(in, "proof");
  for (const Status* s : {&old_size.status(), &new_size.status(), &old_root.status(),
                          &new_root.status(), &proof.status()}) {
    if (!s->ok()) return *s;
  }
  if (!storage::VerifyConsistency(*old_size, *new_size, *old_root, *new_root, *proof)) {
    return Verdict("consistency", "proof_invalid",
                   "the proof does not show the tree of " + std::to_string(*old_size) +
                       " events to be a prefix of the tree of " + std::to_string(*new_size));
  }
  if (trusted) {
    bool old_end = trusted->size == *old_size && SameHash(trusted->root_hex, *old_root);
    bool new_end = trusted->size == *new_size && SameHash(trusted->root_hex, *new_root);
    if (!old_end && !new_end) {
      return Verdict("consistency", "checkpoint_mismatch",
                     "neither end of the proof is the checkpoint's tree of " +
                         std::to_string(trusted->size) + " events");
    }
  }
  return Verdict("consistency", "ok",
                 "the tree of " + std::to_string(*old_size) +
                     " events is a prefix of the tree of " + std::to_string(*new_size) + " events");
}

}  // namespace

Result<ProofCheck> CheckProofJson(std::string_view json,
                                  const std::optional<LogCheckpoint>& trusted) {
  JsonIn in("proof_malformed");
  if (Status s = in.Parse(json); !s.ok()) return s;
  auto type = in.String("type");
  if (!type.ok()) return type.status();
  if (*type == "inclusion") return CheckInclusion(in, trusted);
  if (*type == "consistency") return CheckConsistency(in, trusted);
  return in.Bad("'type' is neither \"inclusion\" nor \"consistency\"");
}

std::string ProofCheckToJson(const ProofCheck& check) {
  JsonObject json;
  json.Raw("valid", check.valid ? "true" : "false");
  json.Str("type", check.type).Str("reason", check.reason).Str("message", check.message);
  return json.Done();
}

// ---- Verify ----

namespace {

// What first differs between the state replayed from the events and a snapshot's.
std::string StateDifference(const internal::State& replayed, const internal::State& stored) {
  if (replayed.revision != stored.revision) return "revision";
  if (replayed.last_time_us != stored.last_time_us) return "time of the last event";
  for (std::size_t i = 0; i < std::max(replayed.orgs.size(), stored.orgs.size()); ++i) {
    const auto* a = i < replayed.orgs.size() ? &replayed.orgs[i] : nullptr;
    const auto* b = i < stored.orgs.size() ? &stored.orgs[i] : nullptr;
    if (!a || !b || !(*a == *b)) return "organization '" + (a ? a->id : b->id) + "'";
  }
  for (std::size_t i = 0; i < std::max(replayed.users.size(), stored.users.size()); ++i) {
    const auto* a = i < replayed.users.size() ? &replayed.users[i] : nullptr;
    const auto* b = i < stored.users.size() ? &stored.users[i] : nullptr;
    if (!a || !b || !(*a == *b)) return "user '" + (a ? a->id : b->id) + "'";
  }
  if (replayed.idps != stored.idps) return "identity providers";
  if (replayed.domain_owner != stored.domain_owner) return "verified domains";
  const auto& ta = replayed.tokens;
  const auto& tb = stored.tokens;
  for (std::size_t i = 0; i < std::max(ta.size(), tb.size()); ++i) {
    auto idx = static_cast<internal::Idx>(i);
    const auto* a = i < ta.size() ? &ta.at(idx) : nullptr;
    const auto* b = i < tb.size() ? &tb.at(idx) : nullptr;
    if (!a || !b || !(*a == *b)) return "token '" + (a ? a->prefix : b->prefix).str() + "'";
  }
  if (replayed.methods != stored.methods) return "authentication methods";
  if (replayed.ip_lists != stored.ip_lists) return "token IP allowlists";
  return "an index";
}

VerifyReport Problem(VerifyReport report, const Status& s, std::uint64_t bad_seq) {
  report.problem = std::string(s.reason());
  report.message = std::string(s.message());
  report.bad_seq = bad_seq;
  return report;
}

// Checks one kept checkpoint against the log; OK or the problem.
Status CheckKeptCheckpoint(const storage::EventLog& log, const LogCheckpoint& kept,
                           const std::optional<std::array<std::uint8_t, 32>>& public_key,
                           std::uint64_t* bad_seq) {
  const std::string name = "the kept checkpoint of " + std::to_string(kept.size) + " events";
  if (!kept.signature_hex.empty()) {
    auto c = ToStorage(kept);
    if (!c.ok() || !storage::VerifyCheckpointSignature(*c, *public_key)) {
      return Status::Corruption("checkpoint_signature_invalid",
                                name + " is not signed by the given public key");
    }
  }
  if (kept.size > log.size()) {
    *bad_seq = log.size() + 1;
    return Status::Corruption("checkpoint_beyond_log",
                              name + " is longer than the log (" + std::to_string(log.size()) +
                                  " events): events " + std::to_string(log.size() + 1) + ".." +
                                  std::to_string(kept.size) + " are gone");
  }
  auto root = log.RootAt(kept.size);
  if (!root.ok()) return root.status();
  if (!SameHash(kept.root_hex, *root)) {
    return Status::Corruption("checkpoint_root_mismatch",
                              name + " has root " + kept.root_hex + " but the log's first " +
                                  std::to_string(kept.size) + " events have root " +
                                  storage::ToHex(*root) + ": history was rewritten");
  }
  if (kept.size > 0) {
    auto last = log.Read(kept.size);
    if (!last.ok()) return last.status();
    if (last->time_us() != kept.time_us) {
      *bad_seq = kept.size;
      return Status::Corruption("checkpoint_time_mismatch",
                                name + " has a time other than its last event's");
    }
  }
  return Status::Ok();
}

// A token's recorded uses only ever increase in seq order (Decide records no other), and
// scoped answers fold only a token's last use (replay/scope.h). `event` has just been
// folded into `state`: a use earlier than the token's use recorded before it is a
// history the engine did not write, on which those answers could differ from the state.
Status CheckUseOrder(const internal::State& state, const storage::DecodedEvent& event) {
  auto e = event.envelope().getEvent();
  if (!e.isTokenUsed()) return Status::Ok();
  auto used = e.getTokenUsed();
  const std::string_view prefix(used.getTokenPrefix().cStr(), used.getTokenPrefix().size());
  const internal::TokenRecord* token = state.FindToken(prefix);
  if (token == nullptr || used.getLastUsedUs() >= token->last_used_us) return Status::Ok();
  return Status::Corruption(
      "token_use_out_of_order",
      "seq " + std::to_string(event.seq()) + " records a use of token " + std::string(prefix) +
          " at " + std::to_string(used.getLastUsedUs()) + " µs, earlier than the use recorded " +
          "before it (" + std::to_string(token->last_used_us) +
          " µs): the engine records a token's uses only in increasing order, and scoped " +
          "answers (explain, token timelines) rely on it");
}

}  // namespace

Result<VerifyReport> VerifyLog(const std::string& data_dir, const VerifyOptions& options) {
  std::optional<std::array<std::uint8_t, 32>> public_key;
  bool any_signed = false;
  for (const auto& c : options.trusted_checkpoints) any_signed |= !c.signature_hex.empty();
  if (any_signed) {
    if (options.public_key_file.empty()) {
      return Status::InvalidArgument(
          "public_key_required", "a kept checkpoint is signed: give the public key to check it");
    }
    auto key = storage::LoadPublicKeyFile(options.public_key_file);
    if (!key.ok()) return key.status();
    public_key = *key;
  }

  VerifyReport report;
  auto opened = OpenReadOnly(data_dir);
  if (!opened.ok()) {
    if (opened.status().code() == Status::Code::kCorruption)
      return Problem(report, opened.status(), 0);
    return opened.status();
  }
  const storage::EventLog& log = **opened;
  report.size = log.size();
  auto root = log.RootAt(report.size);
  if (!root.ok()) return Problem(report, root.status(), 0);
  report.root_hex = storage::ToHex(*root);
  auto progress = [&](std::string_view stage, std::uint64_t done) {
    if (options.progress) options.progress(stage, done, report.size);
  };

  // 1. Every leaf and the root, recomputed from the stored events.
  std::uint64_t bad_seq = 0;
  Status integrity =
      log.VerifyIntegrity(&bad_seq, [&](std::uint64_t done) { progress("integrity", done); });
  if (!integrity.ok()) {
    if (integrity.code() != Status::Code::kCorruption) return integrity;
    return Problem(report, integrity, bad_seq);
  }

  // 2. The checkpoints an auditor kept: still prefixes of this log.
  for (const auto& kept : options.trusted_checkpoints) {
    Status s = CheckKeptCheckpoint(log, kept, public_key, &bad_seq);
    if (!s.ok()) {
      if (s.code() != Status::Code::kCorruption) return s;
      return Problem(report, s, bad_seq);
    }
    ++report.checkpoints_checked;
  }

  // 3. Replay from empty; at every stored snapshot, the state must be the snapshot's, and
  // every token's uses must come in increasing order.
  auto seqs = log.SnapshotSeqs();
  if (!seqs.ok()) return Problem(report, seqs.status(), 0);
  internal::State state;
  std::size_t next = 0;
  Status problem;
  // Compares `state` (events 1..seq folded) with the snapshots stored at seq.
  auto compare_snapshots = [&](std::uint64_t seq) {
    for (; next < seqs->size() && (*seqs)[next] <= seq; ++next) {
      if ((*seqs)[next] < seq) continue;  // cannot happen: seqs ascend and every seq is visited
      auto loaded = internal::LoadState(log, seq, false, internal::BadSnapshot::kFail);
      if (!loaded.ok()) {
        problem = loaded.status();
      } else if (loaded->snapshot_seq != seq) {
        // A snapshot this build cannot read (another format): LoadState folded the events
        // instead, so there is nothing of the snapshot to compare.
        report.snapshots_unread.push_back(seq);
        continue;
      } else if (!(loaded->state == state)) {
        problem = Status::Corruption(
            "snapshot_mismatch",
            "the snapshot at seq " + std::to_string(seq) +
                " differs from the state replayed from events 1.." + std::to_string(seq) +
                " (first difference: " + StateDifference(state, loaded->state) + ")");
      }
      if (!problem.ok()) {
        bad_seq = seq;
        return false;
      }
      report.snapshot_seqs.push_back(seq);
    }
    return true;
  };
  Status scanned = Status::Ok();
  if (compare_snapshots(0)) {
    internal::FoldOptions fold;
    fold.after_each = [&](const storage::DecodedEvent& event) {
      if (event.seq() % kProgressEvery == 0) progress("replay", event.seq());
      if (Status order = CheckUseOrder(state, event); !order.ok()) {
        problem = std::move(order);
        bad_seq = event.seq();
        return false;
      }
      return compare_snapshots(event.seq());
    };
    scanned = internal::FoldLog(log, report.size, state, fold);
  }
  if (!problem.ok()) {
    if (problem.code() != Status::Code::kCorruption) return problem;
    return Problem(report, problem, bad_seq);
  }
  if (!scanned.ok()) return Problem(report, scanned, 0);
  progress("replay", report.size);
  return report;
}

std::string VerifyReportToJson(const VerifyReport& r) {
  JsonObject json;
  json.Raw("ok", r.ok() ? "true" : "false").Num("size", r.size).Str("root", r.root_hex);
  json.Num("checkpoints_checked", static_cast<std::uint64_t>(r.checkpoints_checked));
  auto seq_list = [](const std::vector<std::uint64_t>& seqs) {
    std::string list = "[";
    for (std::size_t i = 0; i < seqs.size(); ++i)
      list += (i > 0 ? "," : "") + std::to_string(seqs[i]);
    return list + "]";
  };
  json.Raw("snapshots", seq_list(r.snapshot_seqs));
  if (!r.snapshots_unread.empty()) json.Raw("snapshots_unread", seq_list(r.snapshots_unread));
  if (!r.ok()) json.Str("problem", r.problem).Num("bad_seq", r.bad_seq).Str("message", r.message);
  return json.Done();
}

// ---- Export ----

namespace {

// RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled.
std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Text(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

void WriteCsvRow(std::ostream& out, schema::Envelope::Reader e) {
  using K = storage::SubjectKind;
  std::string org, user, token, idp, domain;
  for (const auto& subject : storage::SubjectsOf(e)) {
    std::string* column = nullptr;
    switch (subject.kind) {
      case K::kOrganization:
      case K::kOrganizationConfig:
        column = &org;
        break;
      case K::kUser:
      case K::kUserAccount:
        column = &user;
        break;
      case K::kToken:
      case K::kTokenLifecycle:
        column = &token;
        break;
      case K::kIdp:
      case K::kIdpConfig:
        column = &idp;
        break;
      case K::kDomain:
        column = &domain;
        break;
    }
    if (column == nullptr) continue;
    if (!column->empty()) *column += ' ';
    *column += subject.id;
  }
  auto actor = e.getActor();
  out << e.getSeq() << ',' << FormatTime(e.getTimeUs()) << ',' << replay::EventTypeName(e) << ','
      << replay::ActorKindName(actor.getKind()) << ',' << CsvField(Text(actor.getId())) << ','
      << CsvField(Text(actor.getIp())) << ',' << e.getCause() << ',' << CsvField(org) << ','
      << CsvField(user) << ',' << CsvField(token) << ',' << CsvField(idp) << ',' << CsvField(domain)
      << ',' << CsvField(replay::EventJson(e)) << "\r\n";
}

}  // namespace

Result<std::uint64_t> ExportEvents(const std::string& data_dir, std::ostream& out,
                                   const ExportOptions& options) {
  if (options.to_seq != 0 && options.from_seq > options.to_seq) {
    return Status::InvalidArgument(
        "seq_range_invalid", "--from " + std::to_string(options.from_seq) + " is after --to " +
                                 std::to_string(options.to_seq));
  }
  auto opened = OpenReadOnly(data_dir);
  if (!opened.ok()) return opened.status();
  const storage::EventLog& log = **opened;
  const std::uint64_t first = std::max<std::uint64_t>(options.from_seq, 1);
  const std::uint64_t last =
      options.to_seq == 0 ? log.size() : std::min(options.to_seq, log.size());
  const std::uint64_t total = last >= first ? last - first + 1 : 0;

  if (options.format == ExportFormat::kCsv) {
    out << "seq,time,type,actor_kind,actor_id,actor_ip,cause,org_id,user_id,token_prefix,"
           "idp_id,domain,json\r\n";
  }
  std::uint64_t written = 0;
  Status scanned = Status::Ok();
  if (total > 0) {
    scanned = log.Scan(first, last, [&](const storage::DecodedEvent& event) {
      if (options.format == ExportFormat::kCsv) {
        WriteCsvRow(out, event.envelope());
      } else {
        out << replay::EventJson(event.envelope()) << '\n';
      }
      ++written;
      if (options.progress && written % kProgressEvery == 0) options.progress(written, total);
      return !out.fail();
    });
  }
  out.flush();
  if (out.fail()) {
    return Status::IoError("export_write_failed", "writing the export failed after " +
                                                      std::to_string(written) + " events");
  }
  if (!scanned.ok()) return scanned;
  if (options.progress) options.progress(written, total);
  return written;
}

}  // namespace authledger
