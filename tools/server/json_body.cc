#include "tools/server/json_body.h"

#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <kj/exception.h>

#include <algorithm>
#include <cmath>

namespace authledger::server {

Status InvalidRequest(std::string_view message) {
  return Status::InvalidArgument("invalid_request", message);
}

struct JsonBody::Rep {
  capnp::MallocMessageBuilder message;
  capnp::JsonValue::Reader root;

  std::optional<capnp::JsonValue::Reader> Find(std::string_view name) const {
    for (auto field : root.getObject()) {
      if (std::string_view(field.getName().cStr()) == name) return field.getValue();
    }
    return std::nullopt;
  }
};

JsonBody::JsonBody() : rep_(std::make_unique<Rep>()) {}
JsonBody::~JsonBody() = default;

Status JsonBody::Parse(std::string_view text) {
  try {
    capnp::JsonCodec codec;
    codec.decodeRaw(kj::ArrayPtr<const char>(text.data(), text.size()),
                    rep_->message.initRoot<capnp::JsonValue>());
  } catch (const kj::Exception& e) {
    return InvalidRequest(std::string("body is not JSON: ") + e.getDescription().cStr());
  }
  rep_->root = rep_->message.getRoot<capnp::JsonValue>().asReader();
  if (rep_->root.which() != capnp::JsonValue::OBJECT)
    return InvalidRequest("body is not an object");
  return Status::Ok();
}

Status JsonBody::OnlyKeys(const std::vector<std::string_view>& allowed) const {
  for (auto field : rep_->root.getObject()) {
    std::string_view name(field.getName().cStr());
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return InvalidRequest("unknown field '" + std::string(name) + "'");
    }
  }
  return Status::Ok();
}

Result<std::optional<std::string>> JsonBody::String(std::string_view name) const {
  auto v = rep_->Find(name);
  if (!v) return std::optional<std::string>();
  if (v->which() != capnp::JsonValue::STRING) {
    return InvalidRequest("'" + std::string(name) + "' is not a string");
  }
  return std::optional<std::string>(v->getString().cStr());
}

Result<std::optional<bool>> JsonBody::Bool(std::string_view name) const {
  auto v = rep_->Find(name);
  if (!v) return std::optional<bool>();
  if (v->which() != capnp::JsonValue::BOOLEAN) {
    return InvalidRequest("'" + std::string(name) + "' is not a boolean");
  }
  return std::optional<bool>(v->getBoolean());
}

Result<std::optional<std::uint64_t>> JsonBody::U64(std::string_view name) const {
  auto v = rep_->Find(name);
  if (!v) return std::optional<std::uint64_t>();
  if (v->which() == capnp::JsonValue::NUMBER) {
    double d = v->getNumber();
    if (d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d) {
      return std::optional<std::uint64_t>(static_cast<std::uint64_t>(d));
    }
  }
  return InvalidRequest("'" + std::string(name) + "' is not a whole number");
}

Result<std::optional<std::vector<std::string>>> JsonBody::Strings(std::string_view name) const {
  auto v = rep_->Find(name);
  if (!v) return std::optional<std::vector<std::string>>();
  auto bad = InvalidRequest("'" + std::string(name) + "' is not an array of strings");
  if (v->which() != capnp::JsonValue::ARRAY) return bad;
  std::vector<std::string> out;
  for (auto e : v->getArray()) {
    if (e.which() != capnp::JsonValue::STRING) return bad;
    out.emplace_back(e.getString().cStr());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

}  // namespace authledger::server
