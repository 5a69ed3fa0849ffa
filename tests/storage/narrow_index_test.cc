// The narrow subject index (subjects.h): which events each narrow kind lists, that the
// log writes it with every append, and that a writable Open brings a log written without
// it (or whose indexing was cut short) up to date, exactly and once.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "storage/event_log.h"
#include "storage/fault_injection.h"
#include "storage/recovery.h"
#include "storage/subjects.h"
#include "storage/tamper.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::MakeFilledDraft;
using testing::TempDir;
using K = SubjectKind;
using Histories = std::map<std::string, std::vector<std::uint64_t>>;  // "kind:id" → seqs

std::string Name(const Subject& s) {
  return std::string(1, static_cast<char>(s.kind)) + ":" + s.id;
}

// The broad kind whose histories a narrow kind's are part of.
K BroadKindOf(K narrow) {
  switch (narrow) {
    case K::kOrganizationConfig:
      return K::kOrganization;
    case K::kIdpConfig:
      return K::kIdp;
    case K::kUserAccount:
      return K::kUser;
    case K::kTokenLifecycle:
      return K::kToken;
    default:
      return narrow;
  }
}

// Event i of a log made of organizations' configuration changes, memberships, logins
// and tokens: some events list narrow subjects, some several, some none.
EventDraft MixedDraft(std::uint64_t i) {
  EventDraft draft;
  auto envelope = draft.envelope();
  envelope.setTimeUs(static_cast<std::int64_t>(1000 + i));
  const std::string org = "org" + std::to_string(i % 7);
  const std::string user = "user" + std::to_string(i % 53);
  auto event = envelope.getEvent();
  switch (i % 6) {
    case 0:
      event.initPolicyChanged().setOrgId(org);
      break;
    case 1: {
      auto m = event.initMemberAdded();
      m.setOrgId(org);
      m.setUserId(user);
      break;
    }
    case 2: {
      auto t = event.initTokenCreated();
      t.setTokenPrefix("tok" + std::to_string(i));
      t.setOwnerUserId(user);
      t.setMethod("saml:idp" + std::to_string(i / 6 % 3));
      break;
    }
    case 3: {
      auto idp = event.initIdpAdded();
      idp.setOrgId(org);
      idp.setIdpId("idp" + std::to_string(i / 6 % 3));
      break;
    }
    case 4: {
      auto l = event.initLoginRejected();
      l.setUserId(user);
      l.setOrgId(org);
      break;
    }
    default:
      event.initUserTokensExpired().setUserId(user);
      break;
  }
  return draft;
}

void AppendMixed(EventLog& log, std::uint64_t n, std::uint64_t batch_size = 5000) {
  for (std::uint64_t done = 0; done < n;) {
    std::vector<EventDraft> batch;
    for (; batch.size() < batch_size && done < n; ++done) {
      batch.push_back(MixedDraft(log.next_seq() + batch.size()));
    }
    auto r = log.Append(std::move(batch));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// What the narrow index must hold: per narrow subject of any event, the seqs of the
// events naming it.
Histories WantedNarrowHistories(const EventLog& log) {
  Histories want;
  Status s = log.Scan(1, log.size(), [&](const DecodedEvent& e) {
    for (const auto& subject : NarrowSubjectsOf(e.envelope()))
      want[Name(subject)].push_back(e.seq());
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return want;
}

// What it holds for those subjects.
Histories StoredHistories(const EventLog& log, const Histories& subjects) {
  Histories got;
  for (const auto& entry : subjects) {
    const std::string& name = entry.first;
    const Subject subject{static_cast<K>(name[0]), name.substr(2)};
    std::vector<std::uint64_t>& seqs = got[name];
    Status s = log.ScanSubject(subject, 1, log.size(), [&](std::uint64_t seq) {
      seqs.push_back(seq);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (seqs.empty()) got.erase(name);  // only subjects with events, as in want
  }
  return got;
}

std::unique_ptr<EventLog> OpenLog(const std::string& dir, bool read_only,
                                  std::shared_ptr<FaultInjector> faults = nullptr) {
  EventLogOptions options;
  options.read_only = read_only;
  options.create_if_missing = !read_only;
  options.faults = std::move(faults);
  auto log = EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// How often the log's diagnostics say an indexing run finished.
int IndexingRuns(const std::string& dir) {
  std::ifstream in(dir + "/LOG");
  std::stringstream text;
  text << in.rdbuf();
  int runs = 0;
  const std::string needle = "under the narrow subject kinds in";
  for (auto at = text.str().find(needle); at != std::string::npos;
       at = text.str().find(needle, at + 1)) {
    ++runs;
  }
  return runs;
}

TEST(NarrowSubjects, NameOnlyEntitiesTheBroadSubjectsNameAndNothingForUsesOrLogins) {
  std::mt19937_64 rng(11);
  using E = schema::Envelope::Event;
  for (unsigned which = 0; which < testing::EventKindCount(); ++which) {
    EventDraft draft = MakeFilledDraft(which, 1, rng);
    const auto broad = SubjectsOf(draft.reader());
    const auto narrow = NarrowSubjectsOf(draft.reader());
    const auto type = draft.reader().getEvent().which();
    const bool use_or_login = type == E::TOKEN_USED || type == E::LOGIN_REJECTED;
    EXPECT_EQ(narrow.empty(), use_or_login) << "event type " << which;
    for (const auto& n : narrow) {
      EXPECT_NE(BroadKindOf(n.kind), n.kind) << "event type " << which;
      EXPECT_NE(std::find(broad.begin(), broad.end(), Subject{BroadKindOf(n.kind), n.id}),
                broad.end())
          << "event type " << which << " names " << Name(n) << " only narrowly";
    }
    auto all = broad;
    all.insert(all.end(), narrow.begin(), narrow.end());
    EXPECT_EQ(IndexSubjectsOf(draft.reader()), all) << "event type " << which;
  }
}

TEST(NarrowSubjects, AnIdpChangeIsOfItsOrganizationsConfigurationAndOfTheIdpsLifecycle) {
  EventDraft draft;
  auto idp = draft.envelope().getEvent().initIdpRemoved();
  idp.setOrgId("acme");
  idp.setIdpId("okta");
  EXPECT_EQ(NarrowSubjectsOf(draft.reader()),
            (std::vector<Subject>{{K::kOrganizationConfig, "acme"}, {K::kIdpConfig, "okta"}}));
  EventDraft member;
  auto m = member.envelope().getEvent().initMemberAdded();
  m.setOrgId("acme");
  m.setUserId("alice");
  // A membership is read from the user's side (User::orgs); the organization's
  // configuration does not list it.
  EXPECT_EQ(NarrowSubjectsOf(member.reader()), (std::vector<Subject>{{K::kUserAccount, "alice"}}));
}

TEST(NarrowIndex, IsWrittenWithEveryAppend) {
  TempDir tmp;
  auto log = OpenLog(tmp.path(), false);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->NarrowIndexThrough(), 0u);
  AppendMixed(*log, 600, 37);
  EXPECT_EQ(log->NarrowIndexThrough(), 600u);
  const Histories want = WantedNarrowHistories(*log);
  EXPECT_EQ(want.size(), 7u + 3u + 53u + 100u);  // every organization, IdP, user and token
  EXPECT_EQ(StoredHistories(*log, want), want);
  log.reset();
  auto read_only = OpenLog(tmp.path(), true);
  ASSERT_TRUE(read_only);
  EXPECT_EQ(read_only->NarrowIndexThrough(), 600u);
  EXPECT_EQ(StoredHistories(*read_only, want), want);
}

TEST(NarrowIndex, AWritableOpenIndexesALogWrittenWithoutItOnce) {
  TempDir tmp;
  Histories want;
  {
    auto log = OpenLog(tmp.path(), false);
    ASSERT_TRUE(log);
    AppendMixed(*log, 900, 100);
    want = WantedNarrowHistories(*log);
  }
  ASSERT_TRUE(tamper::RemoveNarrowIndex(tmp.path(), 0).ok());
  {
    // As a build without the narrow kinds left it: read-only, nothing narrow to read.
    auto log = OpenLog(tmp.path(), true);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->NarrowIndexThrough(), 0u);
    for (const auto& [name, seqs] : StoredHistories(*log, want)) {
      ADD_FAILURE() << name << " still has " << seqs.size() << " events";
    }
  }
  {
    auto log = OpenLog(tmp.path(), false);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->NarrowIndexThrough(), 900u);
    EXPECT_EQ(StoredHistories(*log, want), want);
    EXPECT_EQ(IndexingRuns(tmp.path()), 1);
    AppendMixed(*log, 60);
    EXPECT_EQ(log->NarrowIndexThrough(), 960u);
    want = WantedNarrowHistories(*log);
  }
  auto log = OpenLog(tmp.path(), false);
  ASSERT_TRUE(log);
  EXPECT_EQ(IndexingRuns(tmp.path()), 1) << "a complete index was indexed again";
  EXPECT_EQ(log->NarrowIndexThrough(), 960u);
  EXPECT_EQ(StoredHistories(*log, want), want);
}

TEST(NarrowIndex, AnIndexingRunCutShortIsResumedWhereItStopped) {
  // Several indexing batches, so that the run writes some before it fails.
  constexpr std::uint64_t kBatch = 2048;
  constexpr std::uint64_t kEvents = 5 * kBatch + 1000;
  EventLogOptions batched;
  batched.narrow_index_batch_events = kBatch;
  TempDir tmp;
  Histories want;
  {
    auto log = OpenLog(tmp.path(), false);
    ASSERT_TRUE(log);
    AppendMixed(*log, kEvents);
    want = WantedNarrowHistories(*log);
  }
  ASSERT_TRUE(tamper::RemoveNarrowIndex(tmp.path(), 0).ok());
  {
    // The write-ahead log takes a batch (about 0.85 keys of ~19 bytes per event) and
    // fails within the next: Open fails, as a crash there would end it.
    auto faults = std::make_shared<FaultInjector>();
    faults->FailWalWritesAfter(kBatch * 24);
    EventLogOptions options = batched;
    options.faults = faults;
    auto log = EventLog::Open(tmp.path(), options);
    ASSERT_FALSE(log.ok());
    EXPECT_GT(faults->faults_injected(), 0u);
  }
  {
    auto log = OpenLog(tmp.path(), true);
    ASSERT_TRUE(log);
    // Whole batches, not all of them.
    EXPECT_GT(log->NarrowIndexThrough(), 0u);
    EXPECT_LT(log->NarrowIndexThrough(), kEvents);
    EXPECT_EQ(log->NarrowIndexThrough() % kBatch, 0u);
  }
  {
    auto log = EventLog::Open(tmp.path(), batched);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ((*log)->NarrowIndexThrough(), kEvents);
    EXPECT_EQ(StoredHistories(**log, want), want);
  }
  // Also as an older build appending to an indexed log leaves it: indexed part way.
  ASSERT_TRUE(tamper::RemoveNarrowIndex(tmp.path(), 3 * kBatch + 5).ok());
  {
    auto log = OpenLog(tmp.path(), true);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->NarrowIndexThrough(), 3 * kBatch + 5);
  }
  auto log = OpenLog(tmp.path(), false);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->NarrowIndexThrough(), kEvents);
  EXPECT_EQ(StoredHistories(*log, want), want);
}

TEST(NarrowIndex, ARecoveredPrefixIsIndexedThroughItsEnd) {
  TempDir tmp;
  Histories want;
  {
    auto log = OpenLog(tmp.Sub("log"), false);
    ASSERT_TRUE(log);
    AppendMixed(*log, 300, 50);
    want = WantedNarrowHistories(*log);
  }
  auto copy = CopyGoodPrefix(tmp.Sub("log"), tmp.Sub("copy"));
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->kept, 300u);
  auto log = OpenLog(tmp.Sub("copy"), true);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->NarrowIndexThrough(), 300u);
  EXPECT_EQ(StoredHistories(*log, want), want);
}

}  // namespace
}  // namespace authledger::storage
