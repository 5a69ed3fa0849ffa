// Events as JSON through Cap'n Proto's JSON codec, with the schema's stable $Json.name
// field names (schema/events.capnp). Used by `export`, `audit events` and the step-through.
// Events carry no secrets, so nothing is masked here.
//
// Thread-safety: pure functions.
#pragma once

#include <authledger/audit.h>

#include <string>

#include "schema/events.capnp.h"

namespace authledger::replay {

// The whole envelope as one line of JSON (no newline).
std::string EventJson(schema::Envelope::Reader event);
// The JSON name of the event's type ("token_created"); "unknown" for a type this
// version does not know.
std::string EventTypeName(schema::Envelope::Reader event);
// The JSON name of an actor kind ("user", "api_key", …).
std::string ActorKindName(schema::Actor::Kind kind);
// The event as the audit API shows it.
AuditEvent ToAuditEvent(schema::Envelope::Reader event);

}  // namespace authledger::replay
