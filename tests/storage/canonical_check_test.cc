// IsPlainCanonical against Cap'n Proto's own check: it accepts the canonical encoding of
// every kind of event, and never accepts what Cap'n Proto's check refuses or cannot read,
// however the bytes are damaged.
#include "storage/canonical_check.h"

#include <capnp/any.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <kj/exception.h>

#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "storage/event_codec.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::EventKindCount;
using testing::MakeFilledDraft;

constexpr unsigned kDepth = 8;

// A message's words, as plain integers: capnp::word cannot be copied, and the test
// copies and edits messages freely.
using Words = std::vector<std::uint64_t>;

std::span<const capnp::word> AsWords(const Words& words) {
  return {reinterpret_cast<const capnp::word*>(words.data()), words.size()};
}

Words WordsOf(kj::ArrayPtr<const capnp::word> a) {
  Words out(a.size());
  if (!out.empty()) std::memcpy(out.data(), a.begin(), a.size() * sizeof(capnp::word));
  return out;
}

// What Decode relies on: Cap'n Proto's walk (with Decode's limits) reads the message
// without an error, finds a root, and calls it canonical.
bool CapnpCanonical(const Words& words) {
  const std::span<const capnp::word> span = AsWords(words);
  kj::ArrayPtr<const capnp::word> segments[1] = {{span.data(), span.size()}};
  capnp::ReaderOptions options;
  options.traversalLimitInWords = (1 << 20) / 4;
  options.nestingLimit = 16;
  try {
    capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
    return !reader.getRoot<capnp::AnyPointer>().isNull() && reader.isCanonical();
  } catch (const kj::Exception&) {
    return false;
  }
}

bool Plain(const Words& words) { return IsPlainCanonical(AsWords(words), kDepth); }

// Canonical events of every kind, filled at random, and a few of the shapes the engine
// writes (an all-default actor: an empty struct; empty and one-element lists).
std::vector<Words> CanonicalEvents(std::mt19937_64& rng) {
  std::vector<Words> out;
  for (int round = 0; round < 8; ++round) {
    for (unsigned which = 0; which < EventKindCount(); ++which) {
      EventDraft draft = MakeFilledDraft(which, 1 + round, rng);
      out.push_back(WordsOf(CanonicalBytes(draft.reader())));
    }
  }
  EventDraft system;
  system.envelope().setTimeUs(5);
  system.envelope().initActor();
  auto used = system.envelope().getEvent().initTokenUsed();
  used.setTokenPrefix("alp_1");
  out.push_back(WordsOf(CanonicalBytes(system.reader())));
  EventDraft lists;
  auto allowlist = lists.envelope().getEvent().initIpAllowlistChanged();
  allowlist.initCidrs(0);
  out.push_back(WordsOf(CanonicalBytes(lists.reader())));
  allowlist.initCidrs(1).set(0, "10.0.0.0/8");
  out.push_back(WordsOf(CanonicalBytes(lists.reader())));
  EventDraft bare;  // only a seq
  bare.envelope().setSeq(1);
  out.push_back(WordsOf(CanonicalBytes(bare.reader())));
  return out;
}

TEST(PlainCanonical, AcceptsTheCanonicalEncodingOfEveryKindOfEvent) {
  std::mt19937_64 rng(5);
  for (const auto& words : CanonicalEvents(rng)) {
    ASSERT_TRUE(CapnpCanonical(words));
    EXPECT_TRUE(Plain(words)) << words.size() << " words";
  }
}

TEST(PlainCanonical, RefusesEncodingsThatAreNotCanonical) {
  // A builder's own message: the token_used struct keeps its zero data word.
  capnp::MallocMessageBuilder builder;
  auto envelope = builder.initRoot<schema::Envelope>();
  envelope.setSeq(1);
  envelope.getEvent().initTokenUsed().setTokenPrefix("alp_1");
  auto flat = capnp::messageToFlatArray(builder);
  ASSERT_EQ(builder.getSegmentsForOutput().size(), 1u);
  const Words built = WordsOf(flat.slice(1, flat.size()));  // without the table
  EXPECT_FALSE(CapnpCanonical(built));
  EXPECT_FALSE(Plain(built));
  const auto canonical = WordsOf(CanonicalBytes(envelope.asReader()));
  EXPECT_TRUE(Plain(canonical));
  auto padded = canonical;
  padded.emplace_back();  // a word after the last object
  EXPECT_FALSE(Plain(padded));
  auto truncated = canonical;
  truncated.pop_back();
  EXPECT_FALSE(Plain(truncated));
  EXPECT_FALSE(Plain(Words(1)));  // a null root
  EXPECT_FALSE(Plain({}));
}

TEST(PlainCanonical, NeverAcceptsWhatCapnpRefusesOrCannotRead) {
  std::mt19937_64 rng(7);
  const auto events = CanonicalEvents(rng);
  long accepted = 0, refused = 0;
  for (int round = 0; round < 60000; ++round) {
    auto words = events[rng() % events.size()];
    const std::size_t at = rng() % words.size();
    std::uint64_t w;
    w = words[at];
    switch (rng() % 8) {
      case 0:  // one bit
        w ^= std::uint64_t{1} << (rng() % 64);
        break;
      case 1:  // a pointer's offset, a little
        w += (rng() % 2 ? 4 : -4ULL);
        break;
      case 2:  // a struct's or list's size field
        w ^= std::uint64_t{1} << (32 + rng() % 32);
        break;
      case 3:  // anything
        w = rng();
        break;
      case 4:  // a whole word cleared
        w = 0;
        break;
      case 5:  // the kind bits
        w = (w & ~std::uint64_t{3}) | (rng() % 4);
        break;
      case 6: {  // two words swapped
        const std::size_t other = rng() % words.size();
        std::swap(words[at], words[other]);
        w = words[at];
        break;
      }
      default:  // a word more or less
        if (rng() % 2) {
          words.pop_back();
        } else {
          words.emplace_back();
        }
        if (words.empty()) continue;
        w = words[at % words.size()];
        break;
    }
    if (at < words.size()) words[at] = w;
    if (!Plain(words)) {
      ++refused;
      continue;
    }
    ++accepted;
    ASSERT_TRUE(CapnpCanonical(words))
        << "accepted a message Cap'n Proto refuses (round " << round << ", word " << at << ")";
  }
  // Both outcomes happened often: the damage was neither always fatal nor always benign.
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(refused, 1000);
}

}  // namespace
}  // namespace authledger::storage
