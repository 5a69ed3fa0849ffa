// Events as JSON through Cap'n Proto's own JSON codec, configured only by the schema's
// annotations, so that anyone holding schema/events.capnp can decode an exported line
// back into the very event the log stores (and recompute its Merkle leaf).
//
// What the codec does, and we keep on purpose (it is what the JSON decoder expects):
// - Int64/UInt64 fields (seq, time_us, cause, …) are JSON strings of decimal digits
//   ("seq":"42"), because a JSON number is a double and would lose digits past 2^53;
// - enum values are their $Json.name (snake_case: "api_key", "revoked_by_owner");
// - Data fields marked $Json.hex (secret_sha256) are lowercase hex;
// - null pointers (unset texts and lists) are omitted, every primitive is written;
// - the event union is the object "event" holding one member named by its $Json.name.
#include "replay/event_json.h"

#include <capnp/compat/json.h>
#include <capnp/schema.h>

#include <cstdint>

namespace authledger::replay {

namespace {

// Id of json.capnp's `name` annotation ($Json.name).
constexpr std::uint64_t kJsonNameAnnotation = 0xfa5b1fd61c2e7c3dull;

// Handlers are built from the annotations once; encoding through a const codec only
// reads them, so one immutable codec serves every thread.
struct EventCodec {
  EventCodec() { codec.handleByAnnotation<schema::Envelope>(); }
  capnp::JsonCodec codec;
};

const capnp::JsonCodec& Codec() {
  static const EventCodec event_codec;
  return event_codec.codec;
}

// The union member's $Json.name, or its schema name if it has none.
std::string JsonNameOf(const capnp::StructSchema::Field& field) {
  for (auto annotation : field.getProto().getAnnotations()) {
    if (annotation.getId() == kJsonNameAnnotation) {
      return annotation.getValue().getText();
    }
  }
  return field.getProto().getName();
}

}  // namespace

std::string EventJson(schema::Envelope::Reader event) {
  kj::String text = Codec().encode(event);
  return {text.cStr(), text.size()};
}

std::string EventTypeName(schema::Envelope::Reader event) {
  capnp::DynamicStruct::Reader union_group =
      capnp::toDynamic(event).get("event").as<capnp::DynamicStruct>();
  KJ_IF_MAYBE (field, union_group.which()) {
    return JsonNameOf(*field);
  }
  return "unknown";
}

std::string ActorKindName(schema::Actor::Kind kind) {
  switch (kind) {
    case schema::Actor::Kind::SYSTEM:
      return "system";
    case schema::Actor::Kind::USER:
      return "user";
    case schema::Actor::Kind::ADMIN:
      return "admin";
    case schema::Actor::Kind::API_KEY:
      return "api_key";
    case schema::Actor::Kind::APPLICATION:
      return "application";
  }
  return "unknown";
}

AuditEvent ToAuditEvent(schema::Envelope::Reader e) {
  auto text = [](capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); };
  AuditEvent a;
  a.seq = e.getSeq();
  a.time_us = e.getTimeUs();
  a.type = EventTypeName(e);
  a.actor_kind = ActorKindName(e.getActor().getKind());
  a.actor_id = text(e.getActor().getId());
  a.actor_ip = text(e.getActor().getIp());
  a.cause = e.getCause();
  a.json = EventJson(e);
  return a;
}

}  // namespace authledger::replay
