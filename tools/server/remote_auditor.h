// An Auditor that asks a running server (its /v1/audit routes over HTTP) instead of
// opening the log, so that `authledger audit … --server URL` prints what it would print
// beside the log. The API key (role auditor or admin) comes from the caller, never from
// a command-line argument.
//
// Served: PolicyHistory, PolicyAt, Token, Explain, Impact, Who, Events, DryRunPolicy
// and size. Not served (whole-state replays stay with the log's owner): SeqOf of a
// time, StateAt, Step, Diff — they answer `not_served`.
//
// Thread-safety: one request at a time per object (a connection per call).
#pragma once

#include <authledger/audit.h>

#include <memory>
#include <string>

namespace authledger::server {

// `url` is http://host:port (no TLS: reach a remote server through a tunnel).
Result<std::unique_ptr<Auditor>> OpenRemoteAuditor(const std::string& url,
                                                   const std::string& api_key);

}  // namespace authledger::server
