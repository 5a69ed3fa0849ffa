#include "replay/json_parse.h"

#include <capnp/orphan.h>
#include <kj/vector.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>

namespace authledger::replay {
namespace {

class Parser {
 public:
  Parser(std::string_view text, std::size_t max_depth) : text_(text), max_depth_(max_depth) {}

  Status Parse(capnp::JsonValue::Builder out) {
    SkipWhitespace();
    if (!Value(out, 0)) return Failed();
    SkipWhitespace();
    if (pos_ != text_.size()) {
      Fail("text after the JSON value");
      return Failed();
    }
    return Status::Ok();
  }

 private:
  bool Value(capnp::JsonValue::Builder out, std::size_t depth) {
    if (AtEnd()) return Fail("the text ends where a value should be");
    switch (text_[pos_]) {
      case 'n':
        if (!Literal("null")) return false;
        out.setNull();
        return true;
      case 't':
        if (!Literal("true")) return false;
        out.setBoolean(true);
        return true;
      case 'f':
        if (!Literal("false")) return false;
        out.setBoolean(false);
        return true;
      case '"': {
        std::string s;
        if (!String(s)) return false;
        out.setString(capnp::Text::Reader(s.c_str(), s.size()));
        return true;
      }
      case '[':
        return Array(out, depth + 1);
      case '{':
        return Object(out, depth + 1);
      default:
        return Number(out);
    }
  }

  bool Array(capnp::JsonValue::Builder out, std::size_t depth) {
    if (depth > max_depth_) return Fail("arrays and objects nest too deeply");
    ++pos_;  // '['
    auto orphanage = capnp::Orphanage::getForMessageContaining(out);
    kj::Vector<capnp::Orphan<capnp::JsonValue>> elements;
    SkipWhitespace();
    if (!Take(']')) {
      do {
        SkipWhitespace();
        auto element = orphanage.newOrphan<capnp::JsonValue>();
        if (!Value(element.get(), depth)) return false;
        elements.add(kj::mv(element));
        SkipWhitespace();
      } while (Take(','));
      if (!Take(']')) return Fail("expected ',' or ']' in an array");
    }
    auto array = out.initArray(static_cast<unsigned>(elements.size()));
    for (unsigned i = 0; i < elements.size(); ++i) {
      array.adoptWithCaveats(i, kj::mv(elements[i]));
    }
    return true;
  }

  bool Object(capnp::JsonValue::Builder out, std::size_t depth) {
    if (depth > max_depth_) return Fail("arrays and objects nest too deeply");
    ++pos_;  // '{'
    auto orphanage = capnp::Orphanage::getForMessageContaining(out);
    kj::Vector<capnp::Orphan<capnp::JsonValue::Field>> fields;
    SkipWhitespace();
    if (!Take('}')) {
      do {
        SkipWhitespace();
        if (AtEnd() || text_[pos_] != '"') return Fail("expected a string as an object's key");
        std::string name;
        if (!String(name)) return false;
        SkipWhitespace();
        if (!Take(':')) return Fail("expected ':' after an object's key");
        SkipWhitespace();
        auto field = orphanage.newOrphan<capnp::JsonValue::Field>();
        field.get().setName(capnp::Text::Reader(name.c_str(), name.size()));
        if (!Value(field.get().initValue(), depth)) return false;
        fields.add(kj::mv(field));
        SkipWhitespace();
      } while (Take(','));
      if (!Take('}')) return Fail("expected ',' or '}' in an object");
    }
    auto object = out.initObject(static_cast<unsigned>(fields.size()));
    for (unsigned i = 0; i < fields.size(); ++i) object.adoptWithCaveats(i, kj::mv(fields[i]));
    return true;
  }

  bool String(std::string& out) {
    ++pos_;  // '"'
    while (true) {
      if (AtEnd()) return Fail("a string is not closed");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Fail("a control character in a string must be escaped");
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      if (++pos_ == text_.size()) return Fail("a string is not closed");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          if (!Unicode(out)) return false;
          break;
        default:
          --pos_;
          return Fail("an unknown escape in a string");
      }
    }
  }

  // After "\u": four hex digits (and a second escape for a surrogate pair), appended
  // to `out` as UTF-8.
  bool Unicode(std::string& out) {
    std::uint32_t cp = 0;
    if (!Hex4(cp)) return false;
    if (cp >= 0xdc00 && cp <= 0xdfff) return Fail("a \\u escape is a lone low surrogate");
    if (cp >= 0xd800 && cp <= 0xdbff) {
      std::uint32_t low = 0;
      if (text_.substr(pos_, 2) != "\\u") return Fail("a \\u escape is a lone high surrogate");
      pos_ += 2;
      if (!Hex4(low)) return false;
      if (low < 0xdc00 || low > 0xdfff) return Fail("a \\u escape is a lone high surrogate");
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    AppendUtf8(cp, out);
    return true;
  }

  bool Hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) return Fail("a \\u escape needs four hex digits");
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_];
      std::uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return Fail("a \\u escape needs four hex digits");
      }
      out = (out << 4) | digit;
      ++pos_;
    }
    return true;
  }

  static void AppendUtf8(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(capnp::JsonValue::Builder out) {
    const std::size_t start = pos_;
    Take('-');
    if (!Take('0')) {
      if (AtEnd() || text_[pos_] < '1' || text_[pos_] > '9') {
        pos_ = start;
        return Fail("expected a value");
      }
      Digits();
    }
    if (Take('.') && Digits() == 0) return Fail("expected a digit after '.'");
    if (Take('e') || Take('E')) {
      if (!Take('+')) Take('-');
      if (Digits() == 0) return Fail("expected a digit in an exponent");
    }
    double value = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last || !std::isfinite(value)) {
      pos_ = start;
      return Fail("a number out of range");
    }
    out.setNumber(value);
    return true;
  }

  std::size_t Digits() {
    const std::size_t start = pos_;
    while (!AtEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ - start;
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Fail("expected a value");
    pos_ += word.size();
    return true;
  }

  void SkipWhitespace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                        text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Take(char c) {
    if (AtEnd() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  bool AtEnd() const { return pos_ == text_.size(); }

  bool Fail(std::string_view what) {
    error_ = std::string(what) + " (byte " + std::to_string(pos_) + ")";
    return false;
  }

  Status Failed() const { return Status::InvalidArgument("invalid_json", error_); }

  std::string_view text_;
  const std::size_t max_depth_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace

Status ParseJson(std::string_view text, capnp::JsonValue::Builder out, std::size_t max_depth) {
  return Parser(text, max_depth).Parse(out);
}

}  // namespace authledger::replay
