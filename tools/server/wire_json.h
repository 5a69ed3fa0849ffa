// The JSON encoding of the wire API (schema/wire.capnp): Cap'n Proto's JSON codec
// configured by the schema's annotations, plus three conventions of the HTTP API:
// - 64-bit integers are JSON numbers (whole, within ±2^53), not the codec's strings;
// - a `Flag` is a bare true/false, absent when unset;
// - events (EventPage.events) are exactly the `export` lines' objects (the event
//   codec's own conventions), so that one parser reads both.
// JSON text is read by replay::ParseJson (replay/json_parse.h), not by the codec's parser, whose \u
// escapes are wrong in Cap'n Proto 0.9: every string encoded here decodes back to the
// same bytes.
//
// Thread-safety: the codec is built once; Decode and Encode may be called from any
// number of threads at once.
#pragma once

#include <authledger/decision.h>
#include <authledger/status.h>
#include <capnp/dynamic.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/events.capnp.h"
#include "schema/wire.capnp.h"

namespace authledger::server {

// The error of a request that cannot be decoded or does not make sense
// (`invalid_request`, HTTP 400), with a message naming what is wrong.
Status InvalidRequest(std::string_view message);

// Fills `out` (a struct of wire.capnp) from `json`, which must be an object whose keys
// are all fields of it. invalid_request otherwise (naming the key or the type error).
Status DecodeJson(std::string_view json, capnp::DynamicStruct::Builder out);

// Fills `out` from a JSON body (empty = {}) plus named parameters from a URL's path
// and query, each text typed by the field its name gives (true/false, whole numbers,
// comma-separated lists). invalid_request for an unknown name, a bad value, or a name
// given twice.
using Params = std::vector<std::pair<std::string, std::string>>;
Status DecodeRequest(std::string_view body, const Params& params,
                     capnp::DynamicStruct::Builder out);

// The JSON of one value of wire.capnp.
std::string EncodeJson(capnp::DynamicValue::Reader value, capnp::Type type);
std::string EncodeJson(capnp::DynamicStruct::Reader value);

// Fills `out` from one event as `export` writes it (the event codec's conventions).
Status DecodeEventJson(std::string_view json, schema::Envelope::Builder out);

// Appends a number as the JSON of this file writes it: whole numbers within ±2^53 as
// integers, others as Cap'n Proto's codec writes them.
void AppendJsonNumber(double value, std::string& out);

// The JSON of a Response's body member (e.g. the Decision of a check, or the Error).
std::string EncodeResponseBody(wire::Response::Reader response);

// Fills `out` with `d` (the wire form of a check's Decision).
void SetDecision(wire::Decision::Builder out, const Decision& d);

}  // namespace authledger::server
