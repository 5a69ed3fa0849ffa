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
};

struct Subject {
  SubjectKind kind;
  std::string id;

  friend bool operator==(const Subject&, const Subject&) = default;
};

// Every subject of `envelope`, without duplicates, in a stable order. An event of a
// kind this version does not know has no subjects.
std::vector<Subject> SubjectsOf(schema::Envelope::Reader envelope);

// kind ‖ id ‖ 0x00: the prefix shared by all index keys of `subject`.
std::string IndexPrefix(const Subject& subject);
// IndexPrefix(subject) ‖ seq (8 bytes big-endian).
std::string IndexKey(const Subject& subject, std::uint64_t seq);

// The IdP named by an authentication method "saml:<idp_id>", or empty.
std::string_view IdpOfMethod(std::string_view method);

}  // namespace authledger::storage
