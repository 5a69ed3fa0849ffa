// Schema evolution: a log written by an older schema reads with the current one, and a
// log written by a newer schema (new fields, a new event type) reads without damage.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>

#include "storage/event_log.h"
#include "storage/merkle.h"
#include "tests/storage/fixtures/events_future.capnp.h"
#include "tests/storage/fixtures/events_v0.capnp.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::TempDir;

// Reads a message built with another schema as the current Envelope, as a reader of
// this version would see bytes written by that one.
template <typename Builder>
EventDraft AsCurrentDraft(Builder& message) {
  auto words = capnp::messageToFlatArray(message);
  capnp::FlatArrayMessageReader reader(words);
  return EventDraft::CopyOf(reader.getRoot<schema::Envelope>());
}

TEST(SchemaEvolution, ALogWrittenByTheOlderSchemaReadsWithTheCurrentOne) {
  TempDir tmp;
  std::vector<Hash> old_leaves;
  {
    auto log = std::move(EventLog::Open(tmp.path(), {})).value();
    for (int i = 1; i <= 3; ++i) {
      capnp::MallocMessageBuilder message;
      auto envelope = message.initRoot<fixture_v0::Envelope>();
      envelope.setSeq(static_cast<std::uint64_t>(i));  // what the old writer stored
      envelope.setTimeUs(100 * i);
      envelope.initActor().setId("admin1");
      if (i == 1) {
        auto org = envelope.getEvent().initOrganizationCreated();
        org.setOrgId("org1");
        org.setName("Acme");
      } else {
        auto member = envelope.getEvent().initMemberAdded();
        member.setOrgId("org1");
        member.setUserId("user" + std::to_string(i));
      }
      auto canonical = capnp::canonicalize(envelope.asReader());
      old_leaves.push_back(LeafHash(AsBytes(canonical)));
      auto r = log->Append(testing::One(AsCurrentDraft(message)));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }
  auto log = std::move(EventLog::Open(tmp.path(), {})).value();
  ASSERT_EQ(log->size(), 3u);
  EXPECT_TRUE(log->VerifyIntegrity().ok());
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    EXPECT_EQ(*log->LeafHashAt(seq), old_leaves[seq - 1]) << "the old bytes are stored verbatim";
  }
  auto first = log->Read(1);
  ASSERT_TRUE(first.ok());
  auto org = first->envelope().getEvent().getOrganizationCreated();
  EXPECT_EQ(std::string(org.getOrgId().cStr()), "org1");
  EXPECT_EQ(std::string(org.getName().cStr()), "Acme");
  EXPECT_FALSE(org.hasPolicy());
  EXPECT_TRUE(org.getPolicy().getPasswordAuthEnabled()) << "absent fields read as defaults";
  EXPECT_EQ(std::string(first->envelope().getActor().getIp().cStr()), "");
  auto second = log->Read(2);
  EXPECT_EQ(second->envelope().getEvent().which(), schema::Envelope::Event::MEMBER_ADDED);
  EXPECT_EQ(std::string(second->envelope().getEvent().getMemberAdded().getUserId().cStr()),
            "user2");
  std::vector<std::uint64_t> org_events;
  ASSERT_TRUE(log->ScanSubject({SubjectKind::kOrganization, "org1"}, 1, 3,
                               [&](std::uint64_t s) {
                                 org_events.push_back(s);
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(org_events, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(SchemaEvolution, ALogWithAnEventTypeFromANewerSchemaReadsAndVerifies) {
  TempDir tmp;
  {
    auto log = std::move(EventLog::Open(tmp.path(), {})).value();
    capnp::MallocMessageBuilder created;
    auto e1 = created.initRoot<fixture_future::Envelope>();
    e1.setTimeUs(1);
    e1.setRegion("eu-west");
    auto org = e1.getEvent().initOrganizationCreated();
    org.setOrgId("org1");
    org.setRegion("eu");
    capnp::MallocMessageBuilder archived;
    auto e2 = archived.initRoot<fixture_future::Envelope>();
    e2.setTimeUs(2);
    auto arch = e2.getEvent().initOrganizationArchived();
    arch.setOrgId("org1");
    arch.setReason("customer left");
    std::vector<EventDraft> batch;
    batch.push_back(AsCurrentDraft(created));
    batch.push_back(AsCurrentDraft(archived));
    ASSERT_TRUE(log->Append(std::move(batch)).ok());
  }
  auto log = std::move(EventLog::Open(tmp.path(), {})).value();
  EXPECT_TRUE(log->VerifyIntegrity().ok());
  auto first = log->Read(1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(std::string(first->envelope().getEvent().getOrganizationCreated().getOrgId().cStr()),
            "org1");
  auto second = log->Read(2);
  ASSERT_TRUE(second.ok());
  // Union tags count the members in order: the first unknown one is the current count.
  EXPECT_EQ(static_cast<unsigned>(second->envelope().getEvent().which()), testing::EventKindCount())
      << "an unknown event type is reported as such, not as corruption";
  EXPECT_TRUE(SubjectsOf(second->envelope()).empty());
  // The unknown parts survive: read back through the newer schema they are intact.
  auto words = kj::heapArray<capnp::word>(second->bytes().size() / sizeof(capnp::word));
  std::memcpy(words.begin(), second->bytes().data(), second->bytes().size());
  kj::ArrayPtr<const capnp::word> segments[1] = {words.asPtr()};
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1));
  auto future = reader.getRoot<fixture_future::Envelope>();
  EXPECT_EQ(std::string(future.getEvent().getOrganizationArchived().getReason().cStr()),
            "customer left");
}

}  // namespace
}  // namespace authledger::storage
