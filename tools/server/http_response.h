// The bytes of an HTTP/1.x answer, written directly rather than through Beast's message
// and serializer (which cost several allocations and a copy of the body per answer):
// exactly what Beast writes for a `http::response<http::string_body>` with the status,
// `Server: authledger`, the Content-Type, keep_alive() and prepare_payload() — the
// message the server used to build. tests/server/http_response_test.cc compares the two
// for every status, version and keep-alive setting.
//
// Thread-safety: a pure function.
#pragma once

#include <string>

#include "tools/server/dispatch.h"

namespace authledger::server {

// Appends to `out` the answer `r` for a request of HTTP `version` (10 for HTTP/1.0, 11
// for HTTP/1.1), saying whether the connection stays open. r.status is one that has a
// body (not 1xx, 204 or 304).
void AppendHttpResponse(const ApiResponse& r, unsigned version, bool keep_alive, std::string& out);

}  // namespace authledger::server
