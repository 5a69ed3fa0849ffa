// The demo plays the seed story end to end and narrates each decision it promises.
#include "tools/cli/demo.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "storage/event_log.h"
#include "tests/support/temp_dir.h"
#include "tools/cli/format.h"

namespace authledger::cli {
namespace {

using testing::TempDir;

TEST(Demo, PlaysTheSeedStoryAndEndsWithAVerifiedProof) {
  TempDir tmp;
  std::ostringstream out;
  ASSERT_EQ(RunDemo(tmp.Sub("data"), out), 0) << out.str();
  const std::string text = out.str();
  for (const char* expected : {
           "session → acme → ALLOWED (ok, rule R2",
           "token → acme → ALLOWED (ok, rule R4",
           "token → acme → DENIED (token_auth_method_not_allowed, rule R4",
           "✗ allowed(password) for personal tokens",
           "token_auth_method_not_allowed → ok",
           "token → acme → DENIED (token_revoked",
           "token → acme, policy fully open → DENIED (token_revoked",
           "verified against the root",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }
  // The log it leaves behind is intact and holds the whole story.
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = storage::EventLog::Open(tmp.Sub("data"), options);
  ASSERT_TRUE(log.ok());
  // The story's 15 commands' events; token uses recorded in the background may add more.
  EXPECT_GE((*log)->size(), 15u);
  EXPECT_TRUE((*log)->VerifyIntegrity().ok());
}

TEST(Demo, RefusesADirectoryThatIsNotFresh) {
  TempDir tmp;
  std::ofstream(tmp.Sub("something")) << "x";
  std::ostringstream out;
  EXPECT_EQ(RunDemo(tmp.path(), out), 2);
}

TEST(Format, TimesAreRfc3339InUtc) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTime(1767225600LL * 1000000 + 42), "2026-01-01T00:00:00.000042Z");
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(Format, MaskedSecretsShowOnlyThePrefix) {
  EXPECT_EQ(MaskSecret("alp_abcdefghijklSECRETPART", 16), "alp_abcdefghijkl**********");
  EXPECT_EQ(MaskSecret("short", 16), "*****");
}

}  // namespace
}  // namespace authledger::cli
