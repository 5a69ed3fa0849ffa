// SecretScanner: searches bytes (files, captured logs, exports) for token secrets and API
// keys in every form they could have been written in:
//
// - a secret the test knows (it was handed out, or it is an API key): its private part
//   (for a token, what follows the public prefix) as it is, in hex (either case), and in
//   base64 with the standard or the URL alphabet at each of the three alignments it can
//   have inside a longer base64 text;
// - a token secret the test never saw (the demo's): anything shaped like a secret
//   ("al" + kind + "_" + 43 base64url characters), as it is or inside a hex or base64
//   text, whose SHA-256 is the hash of a token the log knows.
//
// A finding names the place, the offset, the token prefix or key name and the form;
// never the secret.
//
// Thread-safety: Add* before scanning; Scan* are const and may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/hash.h"

namespace authledger::testing {

class SecretScanner {
 public:
  // A token secret handed out by the engine; only its part after the public prefix is
  // secret, so that part is what is searched.
  void AddTokenSecret(const std::string& secret);
  // An API key (all of it is secret), named `name` in findings.
  void AddApiKey(const std::string& name, const std::string& key);
  // The SHA-256 of a token's secret, for secrets the test does not know.
  void AddTokenHash(const storage::Hash& hash) { hashes_.insert(hash); }

  // Findings in `bytes`, named `where`.
  std::vector<std::string> Scan(std::string_view bytes, const std::string& where) const;
  // Findings in every regular file under `dir`, recursively.
  std::vector<std::string> ScanDirectory(const std::string& dir) const;

  std::size_t needles() const { return needles_.size(); }
  std::size_t token_hashes() const { return hashes_.size(); }
  // Files and bytes looked at by ScanDirectory so far (a figure for the report).
  mutable std::size_t files_scanned = 0;
  mutable std::size_t bytes_scanned = 0;

 private:
  struct Needle {
    std::string text;
    std::string label;  // prefix or key name, and the form
  };
  void AddForms(const std::string& label, const std::string& secret);
  void ScanKnown(std::string_view bytes, const std::string& where,
                 std::vector<std::string>& found) const;
  void ScanShaped(std::string_view bytes, const std::string& where, const std::string& form,
                  std::vector<std::string>& found) const;

  std::vector<Needle> needles_;
  std::unordered_multimap<std::uint64_t, std::size_t> by_start_;  // first 8 bytes → needle
  std::set<storage::Hash> hashes_;
};

}  // namespace authledger::testing
