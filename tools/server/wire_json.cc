#include "tools/server/wire_json.h"

#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <kj/exception.h>

#include <charconv>
#include <cmath>
#include <optional>

#include "replay/json_parse.h"
#include "replay/json_writer.h"
#include "schema/events.capnp.h"

namespace authledger::server {
namespace {

constexpr double kMaxExact = 9007199254740992.0;  // 2^53
// How deeply a request's arrays and objects may nest when parsed (ParseJson).
constexpr std::size_t kMaxNesting = 16;
// An event's: Cap'n Proto's default, which the export's lines were written against.
constexpr std::size_t kMaxEventNesting = 64;
// First segment of a scratch message: a request or an answer of a check fits; larger
// ones grow it (Cap'n Proto zeroes the first segment, so a default 8 KiB one costs).
constexpr unsigned kScratchWords = 256;

// Whole JSON numbers (or decimal strings, the codec's own form) within ±2^53.
template <typename T>
T DecodeInteger(capnp::JsonValue::Reader input) {
  if (input.isString()) {
    std::string text = input.getString().cStr();
    // Digits after an optional '-': anything else would make std::stod throw.
    const std::size_t sign = text.starts_with('-') ? 1 : 0;
    KJ_REQUIRE(text.size() > sign && text.size() <= 19 &&
                   text.find_first_not_of("0123456789", sign) == std::string::npos,
               "expected a whole number");
    const double value = std::stod(text);
    KJ_REQUIRE(std::fabs(value) <= kMaxExact, "number out of range");
    if constexpr (std::is_unsigned_v<T>) {
      KJ_REQUIRE(value >= 0, "expected a number >= 0");
    }
    return static_cast<T>(std::stoll(text));
  }
  KJ_REQUIRE(input.isNumber(), "expected a number");
  const double value = input.getNumber();
  KJ_REQUIRE(std::isfinite(value) && std::trunc(value) == value, "expected a whole number");
  KJ_REQUIRE(std::fabs(value) <= kMaxExact, "number out of range");
  if constexpr (std::is_unsigned_v<T>) {
    KJ_REQUIRE(value >= 0, "expected a number >= 0");
  }
  return static_cast<T>(value);
}

// Cap'n Proto's Handler bases have a non-virtual destructor; ours are never deleted
// through them (they live as members of the codec's owner).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

struct U64Handler final : capnp::JsonCodec::Handler<std::uint64_t> {
  void encode(const capnp::JsonCodec&, std::uint64_t input,
              capnp::JsonValue::Builder output) const override {
    output.setNumber(static_cast<double>(input));
  }
  std::uint64_t decode(const capnp::JsonCodec&, capnp::JsonValue::Reader input) const override {
    return DecodeInteger<std::uint64_t>(input);
  }
};

struct I64Handler final : capnp::JsonCodec::Handler<std::int64_t> {
  void encode(const capnp::JsonCodec&, std::int64_t input,
              capnp::JsonValue::Builder output) const override {
    output.setNumber(static_cast<double>(input));
  }
  std::int64_t decode(const capnp::JsonCodec&, capnp::JsonValue::Reader input) const override {
    return DecodeInteger<std::int64_t>(input);
  }
};

struct FlagHandler final : capnp::JsonCodec::Handler<wire::Flag> {
  void encode(const capnp::JsonCodec&, wire::Flag::Reader input,
              capnp::JsonValue::Builder output) const override {
    output.setBoolean(input.getValue());
  }
  void decode(const capnp::JsonCodec&, capnp::JsonValue::Reader input,
              wire::Flag::Builder output) const override {
    KJ_REQUIRE(input.isBoolean(), "expected true or false");
    output.setValue(input.getBoolean());
  }
};

// EventPage.events through the event codec (the export's conventions).
struct EventsHandler final : capnp::JsonCodec::Handler<capnp::List<schema::Envelope>> {
  explicit EventsHandler(const capnp::JsonCodec& event_codec) : events(event_codec) {}
  void encode(const capnp::JsonCodec&, capnp::List<schema::Envelope>::Reader input,
              capnp::JsonValue::Builder output) const override {
    auto array = output.initArray(input.size());
    for (unsigned i = 0; i < input.size(); ++i) events.encode(input[i], array[i]);
  }
  capnp::Orphan<capnp::List<schema::Envelope>> decode(const capnp::JsonCodec&,
                                                      capnp::JsonValue::Reader input,
                                                      capnp::Orphanage orphanage) const override {
    KJ_REQUIRE(input.isArray(), "expected an array of events");
    auto array = input.getArray();
    auto orphan = orphanage.newOrphan<capnp::List<schema::Envelope>>(array.size());
    for (unsigned i = 0; i < array.size(); ++i) events.decode(array[i], orphan.get()[i]);
    return orphan;
  }
  const capnp::JsonCodec& events;
};

#pragma GCC diagnostic pop

struct WireCodec {
  WireCodec() : events_handler(events) {
    events.handleByAnnotation<schema::Envelope>();
    codec.addTypeHandler(u64);
    codec.addTypeHandler(i64);
    codec.addTypeHandler(flag);
    codec.addFieldHandler(capnp::Schema::from<wire::EventPage>().getFieldByName("events"),
                          events_handler);
    codec.handleByAnnotation<wire::Request>();
    codec.handleByAnnotation<wire::Response>();
  }
  capnp::JsonCodec events;
  U64Handler u64;
  I64Handler i64;
  FlagHandler flag;
  EventsHandler events_handler;
  capnp::JsonCodec codec;
};

const WireCodec& Codecs() {
  static const WireCodec wire_codec;
  return wire_codec;
}

const capnp::JsonCodec& Codec() { return Codecs().codec; }

// The first key of `input` (at any depth of nested objects) that decoding did not use:
// absent from the re-encoding `used` of what was decoded.
std::string UnknownKey(capnp::JsonValue::Reader input, capnp::JsonValue::Reader used,
                       const std::string& path) {
  if (!input.isObject() || !used.isObject()) return {};
  for (auto field : input.getObject()) {
    if (field.getValue().isNull()) continue;
    bool found = false;
    for (auto u : used.getObject()) {
      if (u.getName() != field.getName()) continue;
      found = true;
      std::string nested =
          UnknownKey(field.getValue(), u.getValue(), path + field.getName().cStr() + ".");
      if (!nested.empty()) return nested;
      break;
    }
    if (!found) return path + field.getName().cStr();
  }
  return {};
}

// Decodes `input` into `out` and refuses keys that decoding did not use.
Status DecodeValue(capnp::JsonValue::Reader input, capnp::DynamicStruct::Builder out) {
  if (!input.isObject()) return InvalidRequest("body is not a JSON object");
  try {
    Codec().decode(input, out);
  } catch (const kj::Exception& e) {
    return InvalidRequest(std::string("body does not fit the request: ") +
                          e.getDescription().cStr());
  }
  capnp::MallocMessageBuilder scratch(kScratchWords);
  auto used = scratch.initRoot<capnp::JsonValue>();
  Codec().encode(out.asReader(), out.getSchema(), used);
  if (std::string key = UnknownKey(input, used.asReader(), ""); !key.empty()) {
    return InvalidRequest("unknown field '" + key + "'");
  }
  return Status::Ok();
}

Status ParseRaw(std::string_view json, capnp::JsonValue::Builder out) {
  if (Status s = replay::ParseJson(json, out, kMaxNesting); !s.ok()) {
    return InvalidRequest("body is not JSON: " + std::string(s.message()));
  }
  return Status::Ok();
}

constexpr std::uint64_t kJsonName = 0xfa5b1fd61c2e7c3dull;
constexpr std::uint64_t kJsonFlatten = 0x82d3e852af0336bfull;

// The type of the field whose JSON name is `name`, looking into flattened structs.
std::optional<capnp::Type> FieldType(capnp::StructSchema schema, std::string_view name) {
  for (auto field : schema.getFields()) {
    std::string json_name = field.getProto().getName();
    bool flatten = false;
    for (auto a : field.getProto().getAnnotations()) {
      if (a.getId() == kJsonName) json_name = a.getValue().getText();
      if (a.getId() == kJsonFlatten) flatten = true;
    }
    if (flatten && field.getType().isStruct()) {
      if (auto t = FieldType(field.getType().asStruct(), name)) return t;
    } else if (json_name == name) {
      return field.getType();
    }
  }
  return std::nullopt;
}

// A parameter's text as the JSON value its field's type wants.
Status ParamValue(const std::string& name, const std::string& text, capnp::Type type,
                  capnp::JsonValue::Builder out) {
  auto bad = [&](std::string_view want) {
    return InvalidRequest("parameter '" + name + "' must be " + std::string(want));
  };
  if (type.isBool() || (type.isStruct() && type.asStruct() == capnp::Schema::from<wire::Flag>())) {
    if (text != "true" && text != "false") return bad("true or false");
    out.setBoolean(text == "true");
  } else if (type.isText()) {
    out.setString(text);
  } else if (type.isInt8() || type.isInt16() || type.isInt32() || type.isInt64() ||
             type.isUInt8() || type.isUInt16() || type.isUInt32() || type.isUInt64()) {
    if (text.empty() || text.size() > 17 ||
        text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0) != std::string::npos ||
        text == "-") {
      return bad("a whole number");
    }
    out.setNumber(std::stod(text));
  } else if (type.isList() && type.asList().getElementType().isText()) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
      std::size_t end = text.find(',', start);
      if (end == std::string::npos) end = text.size();
      items.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    auto array = out.initArray(static_cast<unsigned>(items.size()));
    for (unsigned i = 0; i < items.size(); ++i) array[i].setString(items[i]);
  } else {
    return bad("given in the body");
  }
  return Status::Ok();
}

// JSON text of `value`, as the codec's encodeRaw but with whole numbers (all our
// integers) written as integers, never in exponent form.
void WriteJson(capnp::JsonValue::Reader value, std::string& out) {
  switch (value.which()) {
    case capnp::JsonValue::NULL_:
      out += "null";
      return;
    case capnp::JsonValue::BOOLEAN:
      out += value.getBoolean() ? "true" : "false";
      return;
    case capnp::JsonValue::NUMBER:
      AppendJsonNumber(value.getNumber(), out);
      return;
    case capnp::JsonValue::STRING: {
      auto text = value.getString();
      out += replay::JsonString(std::string_view(text.cStr(), text.size()));
      return;
    }
    case capnp::JsonValue::ARRAY: {
      out += '[';
      bool first = true;
      for (auto element : value.getArray()) {
        if (!first) out += ',';
        first = false;
        WriteJson(element, out);
      }
      out += ']';
      return;
    }
    case capnp::JsonValue::OBJECT: {
      out += '{';
      bool first = true;
      for (auto field : value.getObject()) {
        if (!first) out += ',';
        first = false;
        auto name = field.getName();
        out += replay::JsonString(std::string_view(name.cStr(), name.size()));
        out += ':';
        WriteJson(field.getValue(), out);
      }
      out += '}';
      return;
    }
    case capnp::JsonValue::CALL:
      break;
  }
  kj::String text = Codec().encodeRaw(value);
  out.append(text.cStr(), text.size());
}

}  // namespace

void AppendJsonNumber(double n, std::string& out) {
  if (std::isfinite(n) && std::trunc(n) == n && std::fabs(n) <= kMaxExact) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), static_cast<std::int64_t>(n));
    out.append(digits, end.ptr);
    return;
  }
  capnp::MallocMessageBuilder scratch(kScratchWords);
  auto value = scratch.initRoot<capnp::JsonValue>();
  value.setNumber(n);
  kj::String text = Codec().encodeRaw(value);
  out.append(text.cStr(), text.size());
}

Status InvalidRequest(std::string_view message) {
  return Status::InvalidArgument("invalid_request", message);
}

Status DecodeJson(std::string_view json, capnp::DynamicStruct::Builder out) {
  return DecodeRequest(json, {}, out);
}

Status DecodeRequest(std::string_view body, const Params& params,
                     capnp::DynamicStruct::Builder out) {
  capnp::MallocMessageBuilder scratch(kScratchWords);
  auto parsed = scratch.initRoot<capnp::JsonValue>();
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    parsed.initObject(0);
  } else if (Status s = ParseRaw(body, parsed); !s.ok()) {
    return s;
  }
  if (params.empty()) return DecodeValue(parsed.asReader(), out);
  if (!parsed.isObject()) return InvalidRequest("body is not a JSON object");

  auto fields = parsed.getObject();
  auto merged = scratch.getOrphanage().newOrphan<capnp::JsonValue>();
  auto object = merged.get().initObject(fields.size() + static_cast<unsigned>(params.size()));
  unsigned n = 0;
  for (auto f : fields) object.setWithCaveats(n++, f);
  for (const auto& [name, text] : params) {
    for (unsigned i = 0; i < n; ++i) {
      if (object[i].getName() == name.c_str()) {
        return InvalidRequest("'" + name + "' is given twice (path, query or body)");
      }
    }
    auto type = FieldType(out.getSchema(), name);
    if (!type) return InvalidRequest("unknown parameter '" + name + "'");
    object[n].setName(name);
    if (Status s = ParamValue(name, text, *type, object[n].initValue()); !s.ok()) return s;
    ++n;
  }
  return DecodeValue(merged.getReader(), out);
}

Status DecodeEventJson(std::string_view json, schema::Envelope::Builder out) {
  capnp::MallocMessageBuilder scratch(kScratchWords);
  auto parsed = scratch.initRoot<capnp::JsonValue>();
  if (Status s = replay::ParseJson(json, parsed, kMaxEventNesting); !s.ok()) {
    return Status::Corruption("event_undecodable", "event JSON: " + std::string(s.message()));
  }
  try {
    Codecs().events.decode(parsed.asReader(), out);
  } catch (const kj::Exception& e) {
    return Status::Corruption("event_undecodable",
                              std::string("event JSON: ") + e.getDescription().cStr());
  }
  return Status::Ok();
}

std::string EncodeJson(capnp::DynamicValue::Reader value, capnp::Type type) {
  capnp::MallocMessageBuilder scratch(kScratchWords);
  auto json = scratch.initRoot<capnp::JsonValue>();
  Codec().encode(value, type, json);
  std::string out;
  WriteJson(json.asReader(), out);
  return out;
}

std::string EncodeJson(capnp::DynamicStruct::Reader value) {
  return EncodeJson(value, value.getSchema());
}

std::string EncodeResponseBody(wire::Response::Reader response) {
  capnp::DynamicStruct::Reader body =
      capnp::toDynamic(response).get("body").as<capnp::DynamicStruct>();
  KJ_IF_MAYBE (field, body.which()) {
    return EncodeJson(body.get(*field), field->getType());
  }
  return "{}";
}

void SetDecision(wire::Decision::Builder out, const Decision& d) {
  out.setAllowed(d.allowed);
  out.setReason(d.reason);
  out.setRule(d.rule);
  out.setTokenPrefix(d.token_prefix);
  out.setUserId(d.user_id);
  out.setOrgId(d.org_id);
  out.setRevision(d.revision);
}

}  // namespace authledger::server
