// Disk faults under a running engine: a full disk (injected, and a real tmpfs where
// mount(2) is permitted), failing fsyncs, a read-only directory, the directory deleted.
// For each: the failing command and every later one are refused with a stable reason,
// checks go on answering from the acknowledged state only, and once the fault is gone
// the log reopens holding exactly what was acknowledged and verifies.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/faults/fault_fixture.h"

namespace authledger::testing {
namespace {

namespace fs = std::filesystem;

class DiskFault : public FaultTest {
 protected:
  void SetUp() override {
    Open();
    Seed();
    MoreUsers(3);
    ASSERT_TRUE(Check(personal_).allowed) << Check(personal_).reason;
    SettleTokenUse();
  }

  // Checks note token uses, which the background records as a command of its own: let
  // it finish before a fault is armed, so that the fault hits the test's command.
  void SettleTokenUse() {
    engine_->FlushTokenUse();
    acked_ = engine_->revision();
  }

  // While the fault lasts: the engine is read-only, and checks still see the
  // acknowledged state (the personal token, whose revocation failed, still passes).
  void ExpectReadOnly(const std::string& cause) {
    EXPECT_EQ(engine_->health().reason(), cause);
    auto later = engine_->RegisterUser(admin_, "late", "late@example.org");
    ASSERT_FALSE(later.ok());
    EXPECT_EQ(later.status().reason(), "engine_read_only");
    EXPECT_NE(later.status().message().find(cause), std::string_view::npos)
        << later.status().ToString();
    EXPECT_EQ(engine_->revision(), acked_);
    Decision d = Check(personal_);
    EXPECT_TRUE(d.allowed) << "a revocation that never became durable is not visible: " << d.reason;
    EXPECT_EQ(d.revision, acked_);
    EXPECT_TRUE(Check(session_).allowed);
  }

  // After the fault: the log reopens at exactly the acknowledged revision, the failed
  // revocation is absent, verify passes and commands are accepted again.
  void ExpectReopensAsAcknowledged() {
    Close();
    faults_->Reset();
    Open();
    EXPECT_EQ(engine_->revision(), acked_);
    EXPECT_TRUE(Check(personal_).allowed) << "the failed revocation reappeared";
    EXPECT_TRUE(engine_->health().ok());
    VerifyReport report = Verify();
    EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
    EXPECT_EQ(report.size, acked_);
    auto next = engine_->RegisterUser(admin_, "after", "after@example.org");
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(*next, acked_ + 1);
  }
};

TEST_F(DiskFault, AFullDiskRefusesTheCommandWithLogDiskFullAndKeepsTheAcknowledgedState) {
  faults_->FailAllWritesAfter(100);  // the revocation's WAL record is torn after 100 bytes
  auto revoke = engine_->RevokeToken(Actor::User("alice"), personal_.token_prefix);
  ASSERT_FALSE(revoke.ok());
  EXPECT_EQ(revoke.status().reason(), "log_disk_full") << revoke.status().ToString();
  EXPECT_GE(faults_->faults_injected(), 1u);
  ExpectReadOnly("log_disk_full");
  ExpectReopensAsAcknowledged();
}

TEST_F(DiskFault, ADiskFullingDuringASnapshotFlushStopsTheEngineAtTheNextCommand) {
  // The table files and MANIFEST are what a flush writes: the WAL is not involved.
  faults_->FailAllWritesAfter(0);
  Status snapshot = engine_->WriteSnapshot();
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.reason(), "log_disk_full") << snapshot.ToString();
  auto revoke = engine_->RevokeToken(Actor::User("alice"), personal_.token_prefix);
  ASSERT_FALSE(revoke.ok());
  EXPECT_EQ(revoke.status().reason(), "log_disk_full") << revoke.status().ToString();
  ExpectReadOnly("log_disk_full");
  ExpectReopensAsAcknowledged();
}

TEST_F(DiskFault, AFailingFsyncRefusesTheCommandAndNothingAcknowledgedIsLost) {
  faults_->FailSyncs(true);
  const std::uint64_t before = acked_;
  auto revoke = engine_->RevokeToken(Actor::User("alice"), personal_.token_prefix);
  ASSERT_FALSE(revoke.ok());
  EXPECT_EQ(revoke.status().reason(), "log_write_failed") << revoke.status().ToString();
  ExpectReadOnly("log_write_failed");
  Close();
  faults_->Reset();
  Open();
  // The revocation's bytes reached the file before its fsync failed, so whether they
  // survive is up to the kernel (a failed fsync may or may not drop dirty pages): the
  // command was refused, its outcome is unknown, as after a timeout. What must hold:
  // everything acknowledged is there, and nothing but that one command besides.
  const std::uint64_t after = engine_->revision();
  EXPECT_TRUE(after == before || after == before + 1) << after;
  EXPECT_EQ(Check(personal_).allowed, after == before) << "the token is revoked iff the "
                                                          "revocation survived";
  EXPECT_TRUE(Check(session_).allowed);
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
}

TEST_F(DiskFault, ARefusedDirectoryChangeStopsTheEngineAtTheFirstNewFile) {
  // A read-only directory lets open files be written: commands go on until the log
  // needs a new file (a flush), which is then refused, and so is every write after.
  faults_->DenyDirectoryChanges(true);
  acked_ = Must(engine_->RegisterUser(admin_, "still", "still@example.org"));
  Status snapshot = engine_->WriteSnapshot();
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.code(), Status::Code::kIoError) << snapshot.ToString();
  EXPECT_NE(snapshot.message().find("Permission denied"), std::string_view::npos)
      << snapshot.ToString();
  auto revoke = engine_->RevokeToken(Actor::User("alice"), personal_.token_prefix);
  ASSERT_FALSE(revoke.ok());
  EXPECT_EQ(revoke.status().reason(), "log_write_failed") << revoke.status().ToString();
  ExpectReadOnly("log_write_failed");
  ExpectReopensAsAcknowledged();
}

TEST_F(DiskFault, AChmodReadOnlyDirectoryIsHonestAboutRoot) {
  // chmod a-w on the directory: a non-root engine cannot create the snapshot's files;
  // root is not stopped by permission bits at all (hence the injector test above).
  ASSERT_EQ(::chmod(dir_.c_str(), 0500), 0);
  Status snapshot = engine_->WriteSnapshot();
  auto cmd = engine_->RevokeToken(Actor::User("alice"), personal_.token_prefix);
  if (::geteuid() == 0) {
    EXPECT_TRUE(snapshot.ok()) << snapshot.ToString();
    ASSERT_TRUE(cmd.ok()) << "root writes through a read-only directory: "
                          << cmd.status().ToString();
    acked_ = *cmd;
    EXPECT_FALSE(Check(personal_).allowed);
  } else {
    EXPECT_FALSE(snapshot.ok());
    ASSERT_FALSE(cmd.ok());
    ExpectReadOnly("log_write_failed");
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  Close();
  Open();
  EXPECT_EQ(engine_->revision(), acked_);
  EXPECT_TRUE(Verify().ok());
}

TEST_F(DiskFault, TheLogDirectoryMovedAwayStopsTheEngineAndComesBackIntact) {
  const std::string moved = tmp_.Sub("moved");
  fs::rename(dir_, moved);
  auto revoke = engine_->RevokeToken(Actor::User("alice"), personal_.token_prefix);
  ASSERT_FALSE(revoke.ok());
  EXPECT_EQ(revoke.status().reason(), "log_directory_gone") << revoke.status().ToString();
  ExpectReadOnly("log_directory_gone");
  Close();
  fs::rename(moved, dir_);
  ExpectReopensAsAcknowledged();
}

TEST_F(DiskFault, TheLogDirectoryDeletedStopsTheEngineAndIsNeverRecreatedEmpty) {
  fs::remove_all(dir_);
  auto revoke = engine_->RevokeToken(Actor::User("alice"), personal_.token_prefix);
  ASSERT_FALSE(revoke.ok());
  EXPECT_EQ(revoke.status().reason(), "log_directory_gone") << revoke.status().ToString();
  ExpectReadOnly("log_directory_gone");
  Close();
  EXPECT_FALSE(fs::exists(dir_)) << "closing must not recreate the directory";
  Status reopened = TryOpen(/*create=*/false);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.reason(), "log_not_found");
}

// ---- A real full file system ----

// A size-limited tmpfs at `path` while it lives, if mount(2) is permitted here.
class Tmpfs {
 public:
  Tmpfs(const std::string& path, const std::string& size) : path_(path) {
    fs::create_directories(path);
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool Resize(const std::string& size) {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, ("size=" + size).c_str()) == 0;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

TEST_F(DiskFault, ARealTmpfsFillingUpStopsTheEngineAndLosesNothingAcknowledged) {
  Close();
  Tmpfs tmpfs(tmp_.Sub("tmpfs"), "4m");
  if (!tmpfs.mounted()) GTEST_SKIP() << "mount(2) of a tmpfs is not permitted here";
  dir_ = tmp_.Sub("tmpfs") + "/data";
  Open();
  Seed();
  // Commands with large descriptions until the disk is full.
  Status failure;
  TokenSpec spec;
  spec.description = std::string(900, 'x');
  for (int i = 0; i < 100000 && failure.ok(); ++i) {
    Tick();
    auto token = engine_->CreatePersonalToken(Actor::User("alice"), session_.token_prefix, spec);
    if (token.ok()) {
      acked_ = token->revision;
    } else {
      failure = token.status();
    }
  }
  ASSERT_FALSE(failure.ok()) << "a 4 MiB file system never filled";
  EXPECT_EQ(failure.reason(), "log_disk_full") << failure.ToString();
  ExpectReadOnly("log_disk_full");
  Close();
  ASSERT_TRUE(tmpfs.Resize("256m"));
  Open();
  EXPECT_EQ(engine_->revision(), acked_);
  EXPECT_TRUE(Check(personal_).allowed);
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
  Close();
}

}  // namespace
}  // namespace authledger::testing
