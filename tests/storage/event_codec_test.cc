// Events survive encoding: canonical bytes decode to the same event, every field of
// every event type included, and damaged bytes are refused rather than misread.
#include "storage/event_codec.h"

#include <gtest/gtest.h>
#include <kj/string.h>

#include "storage/subjects.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::EventKindCount;
using testing::MakeFilledDraft;

std::string Text(schema::Envelope::Reader envelope) { return kj::str(envelope).cStr(); }

TEST(EventCodec, EveryEventTypeRoundTripsWithEveryField) {
  std::mt19937_64 rng(42);
  ASSERT_EQ(EventKindCount(), 21u) << "a new event type needs its subjects in subjects.cc";
  for (unsigned which = 0; which < EventKindCount(); ++which) {
    EventDraft draft = MakeFilledDraft(which, 1000 + which, rng);
    draft.envelope().setSeq(7);
    auto bytes = CanonicalBytes(draft.reader());
    auto decoded = DecodedEvent::Decode(AsBytes(bytes), /*require_canonical=*/true);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(static_cast<unsigned>(decoded->envelope().getEvent().which()), which);
    EXPECT_EQ(Text(decoded->envelope()), Text(draft.reader()));
    EXPECT_EQ(decoded->seq(), 7u);
    EXPECT_EQ(decoded->time_us(), 1000 + static_cast<std::int64_t>(which));
  }
}

TEST(EventCodec, OneObjectDecodesEventAfterEventOfAnySize) {
  // Assign reuses the buffer: every event comes back whole whether it is smaller or
  // larger than the one before, and a refused one leaves the object empty, not stale.
  std::mt19937_64 rng(9);
  DecodedEvent event;
  EXPECT_TRUE(event.bytes().empty());
  for (unsigned round = 0; round < 3; ++round) {
    for (unsigned which = 0; which < EventKindCount(); ++which) {
      EventDraft draft = MakeFilledDraft(which, 50 + which, rng);
      draft.envelope().setSeq(round * 100 + which + 1);
      auto bytes = CanonicalBytes(draft.reader());
      ASSERT_TRUE(event.Assign(AsBytes(bytes)).ok());
      auto expected = AsBytes(bytes);
      EXPECT_TRUE(
          std::equal(event.bytes().begin(), event.bytes().end(), expected.begin(), expected.end()));
      EXPECT_EQ(Text(event.envelope()), Text(draft.reader()));
      EXPECT_EQ(event.seq(), round * 100 + which + 1);
    }
    std::vector<std::uint8_t> garbage(64, 0xff);
    EXPECT_FALSE(event.Assign(garbage).ok());
    EXPECT_TRUE(event.bytes().empty());
    EXPECT_EQ(event.seq(), 0u);
  }
  // Moved from, an object is empty; the one moved to reads the event.
  EventDraft draft = MakeFilledDraft(5, 77, rng);
  draft.envelope().setSeq(42);
  auto bytes = CanonicalBytes(draft.reader());
  ASSERT_TRUE(event.Assign(AsBytes(bytes)).ok());
  DecodedEvent taken = std::move(event);
  EXPECT_EQ(taken.seq(), 42u);
  EXPECT_EQ(event.seq(), 0u);  // NOLINT(bugprone-use-after-move): its state is specified
  EXPECT_TRUE(event.bytes().empty());
}

TEST(EventCodec, CanonicalBytesAreTheSameForTheSameEvent) {
  std::mt19937_64 rng1(7), rng2(7);
  EventDraft a = MakeFilledDraft(3, 5, rng1);
  EventDraft b = MakeFilledDraft(3, 5, rng2);
  auto ba = CanonicalBytes(a.reader());
  auto bb = CanonicalBytes(b.reader());
  auto sa = AsBytes(ba), sb = AsBytes(bb);
  EXPECT_TRUE(std::equal(sa.begin(), sa.end(), sb.begin(), sb.end()));
}

TEST(EventCodec, BytesOfTheWrongLengthAreRefused) {
  std::vector<std::uint8_t> bytes(13, 0);
  auto decoded = DecodedEvent::Decode(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().reason(), "event_undecodable");
  EXPECT_FALSE(DecodedEvent::Decode({}).ok());
}

TEST(EventCodec, AGarbledPointerIsRefusedNotMisread) {
  std::mt19937_64 rng(1);
  EventDraft draft = MakeFilledDraft(17, 5, rng);
  auto bytes = CanonicalBytes(draft.reader());
  std::vector<std::uint8_t> damaged(AsBytes(bytes).begin(), AsBytes(bytes).end());
  // The root pointer's offset now points far outside the segment.
  damaged[3] = 0x7f;
  auto decoded = DecodedEvent::Decode(damaged);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), Status::Code::kCorruption);
}

TEST(EventCodec, NonCanonicalBytesAreRefusedWhenCanonicalFormIsRequired) {
  std::mt19937_64 rng(1);
  EventDraft draft = MakeFilledDraft(0, 5, rng);
  auto bytes = CanonicalBytes(draft.reader());
  std::vector<std::uint8_t> padded(AsBytes(bytes).begin(), AsBytes(bytes).end());
  padded.resize(padded.size() + 8, 0);  // trailing garbage word: still decodable
  EXPECT_TRUE(DecodedEvent::Decode(padded).ok());
  auto strict = DecodedEvent::Decode(padded, /*require_canonical=*/true);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.status().reason(), "event_not_canonical");
}

TEST(EventCodec, SeqKeysSortInSeqOrder) {
  auto a = SeqKey(255), b = SeqKey(256), c = SeqKey(1ull << 40);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  std::uint64_t seq = 0;
  ASSERT_TRUE(ParseSeqKey(c, &seq));
  EXPECT_EQ(seq, 1ull << 40);
}

TEST(Subjects, EveryEventTypeNamesItsSubjects) {
  std::mt19937_64 rng(3);
  for (unsigned which = 0; which < EventKindCount(); ++which) {
    EventDraft draft = MakeFilledDraft(which, 1, rng);
    EXPECT_FALSE(SubjectsOf(draft.reader()).empty()) << "event type " << which;
  }
}

TEST(Subjects, TokenCreatedNamesTokenOwnerSessionAndIdp) {
  EventDraft draft = testing::MakeTokenDraft(1, "tokA", "user1");
  auto token = draft.envelope().getEvent().getTokenCreated();
  token.setMethod("saml:idp9");
  token.setSessionPrefix("sessB");
  auto subjects = SubjectsOf(draft.reader());
  std::vector<Subject> expected = {{SubjectKind::kToken, "tokA"},
                                   {SubjectKind::kUser, "user1"},
                                   {SubjectKind::kIdp, "idp9"},
                                   {SubjectKind::kToken, "sessB"}};
  EXPECT_EQ(subjects, expected);
}

TEST(Subjects, IndexKeysOfOneSubjectShareAPrefixOthersDoNot) {
  Subject a{SubjectKind::kUser, "ab"};
  Subject b{SubjectKind::kUser, "abc"};
  EXPECT_EQ(IndexKey(a, 5).rfind(IndexPrefix(a), 0), 0u);
  EXPECT_NE(IndexKey(b, 5).rfind(IndexPrefix(a), 0), 0u);
}

}  // namespace
}  // namespace authledger::storage
