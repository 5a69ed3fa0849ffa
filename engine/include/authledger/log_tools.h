// Log tools for auditors: the log's checkpoint, inclusion and consistency proofs, a
// free-standing proof verifier, full verification, and export of the events.
//
// Each function takes a data directory and opens its log read-only, so it can run beside
// a live engine (it sees the log as of opening). Proofs and checkpoints serialize to
// JSON; an auditor checks a proof with CheckProofJson, which needs nothing but the proof
// (and, to tie it to the log, a checkpoint kept earlier): hashing only, no log access.
//
// Failures of the operation (no log there, a seq out of range, a malformed file) are
// Status values; a verification that ran and found a problem is not a failure: it is a
// report naming the problem.
//
// Implemented by the authledger::replay library.
//
// Thread-safety: every function may be called from any number of threads at once.
#pragma once

#include <authledger/engine.h>
#include <authledger/status.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace authledger {

// ---- Checkpoints ----

// The log's current checkpoint (size, root, time of the last event; 0 for an empty
// log). Signed when `key_file` names the operator's Ed25519 private key (PEM): the
// signature covers "authledger-checkpoint-v1\n<size>\n<root hex>\n<time_us>\n".
Result<LogCheckpoint> ReadCheckpoint(const std::string& data_dir, const std::string& key_file = {});

// {"size":…,"root":"…","time_us":…,"time":"<RFC 3339>","signature":"…","key_id":"…"}
// (signature and key_id only when signed). Sizes and times are JSON numbers (exact up
// to 2^53, far beyond any log or date); the parsers also accept them as decimal
// strings, the way Cap'n Proto's codec writes 64-bit integers in exported events.
std::string CheckpointToJson(const LogCheckpoint& checkpoint);
// Parses what CheckpointToJson writes ("time" is informative and ignored).
// InvalidArgument "checkpoint_malformed" names what is wrong.
Result<LogCheckpoint> CheckpointFromJson(std::string_view json);

// True iff `checkpoint` is signed by the Ed25519 public key in `public_key_file` (PEM,
// as `openssl pkey -pubout` writes it). Fails only if the key cannot be loaded.
Result<bool> CheckpointSignatureValid(const LogCheckpoint& checkpoint,
                                      const std::string& public_key_file);

// ---- Proofs ----

// Event `seq` is leaf `leaf_index` (= seq - 1) of the RFC 6962 tree of `tree_size`
// events whose root is `root_hex`; `audit_path_hex` runs from the leaf to the root.
struct InclusionProof {
  std::uint64_t seq = 0;
  std::uint64_t leaf_index = 0;
  std::uint64_t tree_size = 0;
  std::string leaf_hash_hex;  // SHA-256(0x00 ‖ event_hex bytes)
  std::string root_hex;
  std::vector<std::string> audit_path_hex;
  // The event's canonical Cap'n Proto bytes, so that the verifier can recompute the
  // leaf; empty in a proof that carries only the hash.
  std::string event_hex;
};

// The tree of `old_size` events (root `old_root_hex`) is a prefix of the tree of
// `new_size` events (root `new_root_hex`).
struct ConsistencyProof {
  std::uint64_t old_size = 0;
  std::uint64_t new_size = 0;
  std::string old_root_hex;
  std::string new_root_hex;
  std::vector<std::string> proof_hex;
};

// `tree_size` 0 means the current size. InvalidArgument "proof_out_of_range" unless
// 1 ≤ seq ≤ tree_size ≤ size.
Result<InclusionProof> ProveInclusion(const std::string& data_dir, std::uint64_t seq,
                                      std::uint64_t tree_size = 0);
// `new_size` 0 means the current size. "proof_out_of_range" unless
// 1 ≤ old_size ≤ new_size ≤ size.
Result<ConsistencyProof> ProveConsistency(const std::string& data_dir, std::uint64_t old_size,
                                          std::uint64_t new_size = 0);

// {"type":"inclusion", …} and {"type":"consistency", …}, one object each, with the
// struct's field names (audit_path, proof for the hash lists).
std::string ProofToJson(const InclusionProof& proof);
std::string ProofToJson(const ConsistencyProof& proof);

// The outcome of checking a proof. `reason` is "ok" or a stable code: "proof_invalid"
// (the hashes do not lead to the root), "leaf_mismatch" (the event bytes do not hash to
// the leaf), "checkpoint_mismatch" (valid, but not about the trusted checkpoint's tree).
struct ProofCheck {
  bool valid = false;
  std::string type;  // "inclusion" or "consistency"
  std::string reason;
  std::string message;
};

// The free-standing verifier (RFC 9162 §2.1.3.2 / §2.1.4.2), hashing only. With
// `trusted`, the proof must also be about the checkpoint's tree: an inclusion proof's
// tree size and root, or one end of a consistency proof, must be the checkpoint's.
// InvalidArgument "proof_malformed" if `json` is not a proof.
Result<ProofCheck> CheckProofJson(std::string_view json,
                                  const std::optional<LogCheckpoint>& trusted = std::nullopt);
// {"valid":…,"type":"…","reason":"…","message":"…"}
std::string ProofCheckToJson(const ProofCheck& check);

// ---- Verify ----

struct VerifyOptions {
  // Checkpoints an auditor kept: each must be signed by `public_key_file` if it carries
  // a signature, and its tree must be a prefix of the log (same root at its size).
  std::vector<LogCheckpoint> trusted_checkpoints;
  // Ed25519 public key (PEM) for the checkpoints' signatures; required if one is signed.
  std::string public_key_file;
  // Called now and then with the stage ("integrity", "replay"), the events done in it
  // and its total.
  std::function<void(std::string_view stage, std::uint64_t done, std::uint64_t total)> progress;
};

struct VerifyReport {
  std::uint64_t size = 0;  // events in the log
  std::string root_hex;
  std::vector<std::uint64_t> snapshot_seqs;  // stored snapshots compared with the replay
  // Stored snapshots of a format this build does not read: not compared (a snapshot is
  // a cache of the events; the engine ignores these too and folds the log instead).
  std::vector<std::uint64_t> snapshots_unread;
  std::size_t checkpoints_checked = 0;
  // Empty when everything verified. Else the first problem found: a stable reason
  // ("event_tampered", "event_missing", "event_undecodable", "root_mismatch",
  // "log_damaged", "wal_damaged", "table_file_damaged", "manifest_damaged",
  // "snapshot_mismatch", "snapshot_undecodable",
  // "checkpoint_signature_invalid", "checkpoint_beyond_log", "checkpoint_root_mismatch",
  // "checkpoint_time_mismatch"), the first bad seq (0 when the problem is not tied to
  // one event) and what was wrong.
  std::string problem;
  std::uint64_t bad_seq = 0;
  std::string message;

  bool ok() const { return problem.empty(); }
};

// Recomputes every leaf and the root, checks the trusted checkpoints, then replays the
// whole log from empty and compares the rebuilt state with every stored snapshot; the
// replay also checks that each token's recorded uses increase ("token_use_out_of_order"
// otherwise), which scoped answers rely on. Stops at the first problem. Fails (rather than
// reporting) only when the log cannot be read at all: missing, not a log, an I/O error, or a
// checkpoint signature to check without a public key ("public_key_required").
Result<VerifyReport> VerifyLog(const std::string& data_dir, const VerifyOptions& options = {});
// {"ok":…,"size":…,"root":"…","checkpoints_checked":…,"snapshots":[…]} and, when a
// problem was found, "problem", "bad_seq" and "message".
std::string VerifyReportToJson(const VerifyReport& report);

// ---- Export ----

enum class ExportFormat {
  kJsonLines,  // one event per line: Cap'n Proto's JSON codec with the schema's names
  kCsv,        // RFC 4180 (quoted as needed, CRLF line ends): a header, then
               // seq,time,type,actor_kind,actor_id,actor_ip,cause,org_id,user_id,
               // token_prefix,idp_id,domain,json — time in RFC 3339 UTC, type the event's
               // JSON name, actor_kind snake_case, several subjects of one kind separated by
               // a space, json the event's JSON line
};

struct ExportOptions {
  ExportFormat format = ExportFormat::kJsonLines;
  std::uint64_t from_seq = 1;
  std::uint64_t to_seq = 0;  // 0 = the last event
  // Called now and then with the events written so far and the number to write.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// Streams events [from_seq, to_seq] ∩ [1, size] to `out`; returns how many. Events hold
// no secret, so nothing is masked. IoError "export_write_failed" if `out` fails.
Result<std::uint64_t> ExportEvents(const std::string& data_dir, std::ostream& out,
                                   const ExportOptions& options = {});

}  // namespace authledger
