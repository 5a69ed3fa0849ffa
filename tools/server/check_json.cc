#include "tools/server/check_json.h"

#include <charconv>

#include "replay/json_writer.h"
#include "tools/server/wire_json.h"

namespace authledger::server {
namespace {

// DecodeRequest takes whole numbers within ±2^53 (as doubles, exactly); a time in µs
// since the epoch has 16 digits.
constexpr std::size_t kMaxDigits = 16;
constexpr std::int64_t kMaxExact = std::int64_t{1} << 53;

// ParseJson's whitespace.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A byte a string may hold on this path: printable ASCII, neither '"' nor '\\'.
bool IsPlain(char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; }

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool Take(char c) {
    if (pos_ == text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool AtEnd() const { return pos_ == text_.size(); }

  // A string of plain bytes (after its opening quote has been taken).
  bool PlainString(std::string_view* out) {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && IsPlain(text_[pos_])) ++pos_;
    if (!Take('"')) return false;  // an escape, a control or non-ASCII byte, or the end
    *out = text_.substr(start, pos_ - 1 - start);
    return true;
  }

  // -?(0|[1-9][0-9]*) of at most kMaxDigits digits and within ±2^53, not followed by
  // a fraction, an exponent or another digit.
  bool PlainInteger(std::int64_t* out) {
    const std::size_t start = pos_;
    Take('-');
    const std::size_t digits = pos_;
    if (Take('0')) {
      // a lone zero
    } else {
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == digits || pos_ - digits > kMaxDigits) return false;
    }
    if (pos_ < text_.size()) {
      const char next = text_[pos_];
      if ((next >= '0' && next <= '9') || next == '.' || next == 'e' || next == 'E') return false;
    }
    const auto [end, ec] = std::from_chars(text_.data() + start, text_.data() + pos_, *out);
    return ec == std::errc() && end == text_.data() + pos_ && *out <= kMaxExact &&
           *out >= -kMaxExact;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// As the general path: a Decision's texts reach the codec through capnp::Text's
// conversion from std::string, which ends them at a NUL byte.
void AppendString(std::string_view s, std::string& out) {
  s = s.substr(0, s.find('\0'));
  for (char c : s) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      out += replay::JsonString(s);  // the general path's escaping
      return;
    }
  }
  out += '"';
  out += s;
  out += '"';
}

}  // namespace

bool TryDecodeCheckBody(std::string_view body, CheckBody* out) {
  Scanner in(body);
  CheckBody decoded;
  bool seen_token = false, seen_org = false, seen_ip = false, seen_time = false;
  in.SkipSpace();
  if (!in.Take('{')) return false;
  in.SkipSpace();
  if (!in.Take('}')) {
    do {
      in.SkipSpace();
      std::string_view key;
      if (!in.Take('"') || !in.PlainString(&key)) return false;
      in.SkipSpace();
      if (!in.Take(':')) return false;
      in.SkipSpace();
      bool* seen = nullptr;
      std::string_view* text = nullptr;
      if (key == "token") {
        seen = &seen_token;
        text = &decoded.token;
      } else if (key == "org_id") {
        seen = &seen_org;
        text = &decoded.org_id;
      } else if (key == "ip") {
        seen = &seen_ip;
        text = &decoded.ip;
      } else if (key == "time_us") {
        seen = &seen_time;
      } else {
        return false;
      }
      if (*seen) return false;
      *seen = true;
      if (text != nullptr) {
        if (!in.Take('"') || !in.PlainString(text)) return false;
      } else if (!in.PlainInteger(&decoded.time_us)) {
        return false;
      }
      in.SkipSpace();
    } while (in.Take(','));
    if (!in.Take('}')) return false;
  }
  in.SkipSpace();
  if (!in.AtEnd()) return false;
  *out = decoded;
  return true;
}

void AppendDecisionJson(const Decision& d, std::string& out) {
  out += d.allowed ? "{\"allowed\":true,\"reason\":" : "{\"allowed\":false,\"reason\":";
  AppendString(d.reason, out);
  out += ",\"rule\":";
  AppendString(d.rule, out);
  out += ",\"token_prefix\":";
  AppendString(d.token_prefix, out);
  out += ",\"user_id\":";
  AppendString(d.user_id, out);
  out += ",\"org_id\":";
  AppendString(d.org_id, out);
  out += ",\"revision\":";
  AppendJsonNumber(static_cast<double>(d.revision), out);
  out += '}';
}

}  // namespace authledger::server
