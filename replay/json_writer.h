// A small JSON writer for reports: objects and arrays built in order, strings escaped.
// Events themselves go through Cap'n Proto's JSON codec (replay/event_json.h); this is
// for the shapes of audit reports, proofs and checkpoints.
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace authledger::replay {

// `s` as a JSON string literal (quotes included).
inline std::string JsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// One JSON array, elements in the order they are added.
class JsonArray {
 public:
  // `value` is JSON already.
  JsonArray& Raw(std::string_view value) {
    text_ += text_.size() > 1 ? "," : "";
    text_ += value;
    return *this;
  }
  JsonArray& Str(std::string_view value) { return Raw(JsonString(value)); }
  std::string Done() const { return text_ + "]"; }

 private:
  std::string text_ = "[";
};

// One JSON object, keys in the order they are added.
class JsonObject {
 public:
  JsonObject& Str(std::string_view key, std::string_view value) {
    return Raw(key, JsonString(value));
  }
  JsonObject& Num(std::string_view key, std::int64_t value) {
    return Raw(key, std::to_string(value));
  }
  JsonObject& Num(std::string_view key, std::uint64_t value) {
    return Raw(key, std::to_string(value));
  }
  JsonObject& Num(std::string_view key, std::uint32_t value) {
    return Raw(key, std::to_string(value));
  }
  JsonObject& Bool(std::string_view key, bool value) { return Raw(key, value ? "true" : "false"); }
  JsonObject& Strs(std::string_view key, const std::vector<std::string>& values) {
    JsonArray array;
    for (const auto& v : values) array.Str(v);
    return Raw(key, array.Done());
  }
  // `value` is JSON already.
  JsonObject& Raw(std::string_view key, std::string_view value) {
    text_ += text_.size() > 1 ? "," : "";
    text_ += JsonString(key);
    text_ += ":";
    text_ += value;
    return *this;
  }
  std::string Done() const { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

}  // namespace authledger::replay
