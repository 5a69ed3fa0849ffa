#include "tests/reliability/secret_scan.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace authledger::testing {

namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// A token secret: "al" + kind letter + "_" + 43 base64url characters.
constexpr std::size_t kSecretLength = 47;
constexpr std::size_t kPublicPrefix = 15;

std::string Base64(std::string_view bytes, const char* alphabet) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::string Hex(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xf]);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool IsBase64Url(char c) { return Base64Value(c) >= 0 && c != '+' && c != '/'; }

std::uint64_t Key(const char* p) {
  std::uint64_t k = 0;
  std::memcpy(&k, p, sizeof k);
  return k;
}

// Calls fn(run) for every maximal run of characters for which `in_run` holds that is at
// least `min` long.
template <typename In, typename Fn>
void ForEachRun(std::string_view bytes, std::size_t min, In in_run, Fn fn) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (!in_run(bytes[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < bytes.size() && in_run(bytes[j])) ++j;
    if (j - i >= min) fn(bytes.substr(i, j - i));
    i = j;
  }
}

}  // namespace

void SecretScanner::AddTokenSecret(const std::string& secret) {
  AddForms("token " + secret.substr(0, kPublicPrefix), secret.substr(kPublicPrefix));
}

void SecretScanner::AddApiKey(const std::string& name, const std::string& key) {
  AddForms("API key " + name, key);
}

void SecretScanner::AddForms(const std::string& label, const std::string& secret) {
  auto add = [&](std::string text, const std::string& form) {
    if (text.size() < sizeof(std::uint64_t)) return;
    by_start_.emplace(Key(text.data()), needles_.size());
    needles_.push_back({std::move(text), label + " (" + form + ")"});
  };
  add(secret, "as is");
  add(Hex(secret, false), "hex");
  add(Hex(secret, true), "hex");
  // Inside a longer base64 text the secret starts at one of three offsets within a
  // 3-byte group; from its first whole group on, its encoding is fixed.
  for (std::size_t skip = 0; skip < 3 && skip < secret.size(); ++skip) {
    std::size_t whole = (secret.size() - skip) / 3 * 3;
    add(Base64(std::string_view(secret).substr(skip, whole), kStd), "base64");
    add(Base64(std::string_view(secret).substr(skip, whole), kUrl), "base64url");
  }
}

void SecretScanner::ScanKnown(std::string_view bytes, const std::string& where,
                              std::vector<std::string>& found) const {
  if (bytes.size() < sizeof(std::uint64_t)) return;
  for (std::size_t i = 0; i + sizeof(std::uint64_t) <= bytes.size(); ++i) {
    auto [first, last] = by_start_.equal_range(Key(bytes.data() + i));
    for (auto it = first; it != last; ++it) {
      const Needle& n = needles_[it->second];
      if (bytes.substr(i, n.text.size()) == n.text) {
        found.push_back(where + " at byte " + std::to_string(i) + ": " + n.label);
      }
    }
  }
}

void SecretScanner::ScanShaped(std::string_view bytes, const std::string& where,
                               const std::string& form, std::vector<std::string>& found) const {
  if (hashes_.empty()) return;
  for (std::size_t i = 0; i + kSecretLength <= bytes.size(); ++i) {
    if (bytes[i] != 'a' || bytes[i + 1] != 'l' || bytes[i + 3] != '_') continue;
    if (bytes[i + 2] != 's' && bytes[i + 2] != 'p' && bytes[i + 2] != 'a') continue;
    std::string_view candidate = bytes.substr(i, kSecretLength);
    bool shaped = true;
    for (std::size_t k = 4; k < kSecretLength && shaped; ++k) shaped = IsBase64Url(candidate[k]);
    if (shaped && hashes_.contains(storage::Sha256(candidate))) {
      found.push_back(where + " at byte " + std::to_string(i) + ": the secret of token " +
                      std::string(candidate.substr(0, kPublicPrefix)) + " (" + form + ")");
    }
  }
}

std::vector<std::string> SecretScanner::Scan(std::string_view bytes,
                                             const std::string& where) const {
  std::vector<std::string> found;
  ScanKnown(bytes, where, found);
  ScanShaped(bytes, where, "as is", found);
  if (hashes_.empty()) return found;
  // Secrets nobody told us about, written in hex or base64.
  ForEachRun(
      bytes, 2 * kSecretLength, [](char c) { return HexValue(c) >= 0; },
      [&](std::string_view run) {
        for (std::size_t parity = 0; parity < 2; ++parity) {
          std::string decoded;
          for (std::size_t i = parity; i + 1 < run.size(); i += 2) {
            decoded.push_back(static_cast<char>(HexValue(run[i]) * 16 + HexValue(run[i + 1])));
          }
          ScanShaped(decoded, where, "hex", found);
        }
      });
  ForEachRun(
      bytes, kSecretLength * 4 / 3, [](char c) { return Base64Value(c) >= 0; },
      [&](std::string_view run) {
        for (std::size_t shift = 0; shift < 4; ++shift) {
          std::string decoded;
          std::uint32_t acc = 0;
          int bits = 0;
          for (std::size_t i = shift; i < run.size(); ++i) {
            acc = (acc << 6) | static_cast<std::uint32_t>(Base64Value(run[i]));
            bits += 6;
            if (bits >= 8) {
              bits -= 8;
              decoded.push_back(static_cast<char>((acc >> bits) & 0xff));
            }
          }
          ScanShaped(decoded, where, "base64", found);
        }
      });
  return found;
}

std::vector<std::string> SecretScanner::ScanDirectory(const std::string& dir) const {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      found.push_back(entry.path().string() + ": could not be read");
      continue;
    }
    ++files_scanned;
    bytes_scanned += bytes.size();
    auto in_file = Scan(bytes, fs::relative(entry.path(), dir).string());
    found.insert(found.end(), in_file.begin(), in_file.end());
  }
  return found;
}

}  // namespace authledger::testing
