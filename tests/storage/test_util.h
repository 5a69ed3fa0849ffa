// Helpers shared by the storage tests: temporary directories and event builders.
#pragma once

#include <capnp/dynamic.h>
#include <capnp/schema.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "storage/event_codec.h"
#include "tests/support/temp_dir.h"

namespace authledger::storage::testing {

using authledger::testing::TempDir;

// Sets every field of `builder` (recursively) to a value derived from `rng`, so that a
// round trip that loses any field shows.
inline void FillAllFields(capnp::DynamicStruct::Builder builder, std::mt19937_64& rng) {
  auto schema = builder.getSchema();
  auto text = [&rng](const char* prefix) {
    return std::string(prefix) + std::to_string(rng() % 100000);
  };
  for (auto field : schema.getNonUnionFields()) {
    auto type = field.getType();
    const char* name = field.getProto().getName().cStr();
    if (field.getProto().isGroup()) {
      auto group = builder.get(field).as<capnp::DynamicStruct>();
      if (group.getSchema().getUnionFields().size() == 0) FillAllFields(group, rng);
      continue;
    }
    switch (type.which()) {
      case capnp::schema::Type::BOOL:
        builder.set(field, !field.getProto().getSlot().getDefaultValue().getBool());
        break;
      case capnp::schema::Type::INT64:
        builder.set(field, static_cast<std::int64_t>(rng() % 1'000'000'000'000) + 1);
        break;
      case capnp::schema::Type::UINT64:
      case capnp::schema::Type::UINT32:
        builder.set(field, static_cast<std::uint32_t>(rng() % 100000) + 1);
        break;
      case capnp::schema::Type::TEXT:
        builder.set(field, capnp::Text::Reader(text(name).c_str()));
        break;
      case capnp::schema::Type::DATA: {
        std::vector<capnp::byte> bytes(32);
        for (auto& b : bytes) b = static_cast<capnp::byte>(rng());
        builder.set(field, capnp::Data::Reader(bytes.data(), bytes.size()));
        break;
      }
      case capnp::schema::Type::ENUM: {
        auto enumerants = type.asEnum().getEnumerants();
        builder.set(field, capnp::DynamicEnum(
                               enumerants[static_cast<unsigned>(rng() % enumerants.size())]));
        break;
      }
      case capnp::schema::Type::LIST: {
        auto list = builder.init(field, 3).as<capnp::DynamicList>();
        for (unsigned i = 0; i < 3; ++i) list.set(i, capnp::Text::Reader(text(name).c_str()));
        break;
      }
      case capnp::schema::Type::STRUCT:
        FillAllFields(builder.init(field).as<capnp::DynamicStruct>(), rng);
        break;
      default:
        break;
    }
  }
}

// A draft at `time_us` whose event is the union member `which` (an index into the
// Envelope's event union), every field filled.
inline EventDraft MakeFilledDraft(unsigned which, std::int64_t time_us, std::mt19937_64& rng) {
  EventDraft draft;
  capnp::DynamicStruct::Builder envelope = capnp::toDynamic(draft.envelope());
  FillAllFields(envelope, rng);
  draft.envelope().setSeq(0);
  draft.envelope().setTimeUs(time_us);
  auto event = envelope.get("event").as<capnp::DynamicStruct>();
  auto member = event.getSchema().getUnionFields()[which];
  FillAllFields(event.init(member).as<capnp::DynamicStruct>(), rng);
  return draft;
}

inline unsigned EventKindCount() {
  return capnp::Schema::from<schema::Envelope::Event>().getUnionFields().size();
}

// A small token-created event, the commonest event of a real log.
inline EventDraft MakeTokenDraft(std::int64_t time_us, const std::string& prefix,
                                 const std::string& owner) {
  EventDraft draft;
  auto envelope = draft.envelope();
  envelope.setTimeUs(time_us);
  auto actor = envelope.initActor();
  actor.setKind(schema::Actor::Kind::USER);
  actor.setId(owner);
  auto token = envelope.getEvent().initTokenCreated();
  token.setTokenPrefix(prefix);
  token.setOwnerUserId(owner);
  token.setKind(schema::TokenKind::PERSONAL);
  token.setMethod("password");
  return draft;
}

inline std::vector<EventDraft> One(EventDraft draft) {
  std::vector<EventDraft> batch;
  batch.push_back(std::move(draft));
  return batch;
}

}  // namespace authledger::storage::testing
