// Subjects: the organizations, users, tokens and IdPs an event touches, and the keys of
// the `index` column family that list, per subject, the seqs of its events.
//
// SubjectsOf derives them from the event alone (every event carries the ids it
// touches), so the index is a pure function of the log and can be rebuilt or checked.
//
// Index key: kind byte, subject id bytes, 0x00, seq as 8 bytes big-endian. Ids never
// contain a NUL byte (the log refuses such events), so a subject's keys are exactly
// those starting with kind ‖ id ‖ 0x00, in seq order.
//
// Beside those broad histories, the index holds narrow ones (IndexSubjectsOf): per
// organization, IdP, user and token, only the events that change what a decision about a
// token reads from it (R2–R5, "token live"), without the logins, tokens, token uses and
// other members' events that make up most of a large organization's or IdP's history.
// Scoped replay folds those instead (replay/scope.h). A log written before the narrow
// kinds existed has none of their keys: EventLog::NarrowIndexThrough() says how far they
// go. (A build that changes which events a narrow kind lists must record that under
// another name: a log indexed by this one would read as complete.)
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schema/events.capnp.h"

namespace authledger::storage {

enum class SubjectKind : char {
  kOrganization = 'o',
  kUser = 'u',
  kToken = 't',
  kIdp = 'i',
  kDomain = 'd',  // an email domain, by its verification events
  // Narrow kinds, in the index only (SubjectsOf never names them):
  // an organization's configuration — created (policy), policy changes, IP allowlist,
  // domains verified and unverified, IdPs added and removed;
  kOrganizationConfig = 'c',
  // an IdP's lifecycle — added, removed;
  kIdpConfig = 'p',
  // a user's account — registered, (de)activated, memberships, application user created
  // and deleted, 2FA enabled and disabled, tokens expired — without its tokens' events
  // and refused logins;
  kUserAccount = 'a',
  // a token's lifecycle — created, revoked — without its uses and the personal tokens
  // made from it (a session).
  kTokenLifecycle = 'l',
};

struct Subject {
  SubjectKind kind;
  std::string id;

  friend bool operator==(const Subject&, const Subject&) = default;
};

// Every subject of `envelope`, without duplicates, in a stable order. An event of a
// kind this version does not know has no subjects.
std::vector<Subject> SubjectsOf(schema::Envelope::Reader envelope);

// The narrow subjects of `envelope` (kinds kOrganizationConfig, kIdpConfig, kUserAccount,
// kTokenLifecycle), without duplicates, in a stable order.
std::vector<Subject> NarrowSubjectsOf(schema::Envelope::Reader envelope);

// Every subject `envelope` is indexed under: SubjectsOf, then NarrowSubjectsOf.
std::vector<Subject> IndexSubjectsOf(schema::Envelope::Reader envelope);

// kind ‖ id ‖ 0x00: the prefix shared by all index keys of `subject`.
std::string IndexPrefix(const Subject& subject);
// IndexPrefix(subject) ‖ seq (8 bytes big-endian).
std::string IndexKey(const Subject& subject, std::uint64_t seq);

// The IdP named by an authentication method "saml:<idp_id>", or empty.
std::string_view IdpOfMethod(std::string_view method);

}  // namespace authledger::storage
