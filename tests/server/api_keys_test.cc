// The API key file: its permissions, its format, and lookups by exact secret only.
#include "tools/server/api_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace authledger::server {
namespace {

std::string WriteKeyFile(const testing::TempDir& dir, const std::string& text, mode_t mode) {
  const std::string path = dir.Sub("keys");
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(ApiKeyFile, ReadableByGroupOrOthersIsRefused) {
  testing::TempDir dir;
  auto keys = ApiKeys::Load(WriteKeyFile(dir, "ci backend 0123456789abcdef0123\n", 0644));
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().reason(), "key_file_insecure");
  EXPECT_NE(keys.status().message().find("chmod 600"), std::string_view::npos);
}

TEST(ApiKeyFile, Mode0600IsAcceptedAndKeysFoundByExactSecret) {
  testing::TempDir dir;
  auto keys = ApiKeys::Load(WriteKeyFile(dir,
                                         "# comment\n"
                                         "ci backend 0123456789abcdef0123\n"
                                         "\n"
                                         "ops admin fedcba9876543210fedc\n",
                                         0600));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 2u);
  const ApiKey* ops = keys->Find("fedcba9876543210fedc");
  ASSERT_NE(ops, nullptr);
  EXPECT_EQ(ops->name, "ops");
  EXPECT_EQ(ops->role, Role::kAdmin);
  EXPECT_EQ(keys->Find("fedcba9876543210fed"), nullptr);
  EXPECT_EQ(keys->Find(""), nullptr);
}

TEST(ApiKeyFile, UnknownRoleOrShortKeyIsMalformed) {
  EXPECT_EQ(ApiKeys::Parse("ci root 0123456789abcdef0123\n").status().reason(),
            "key_file_malformed");
  EXPECT_EQ(ApiKeys::Parse("ci backend short\n").status().reason(), "key_file_malformed");
  EXPECT_EQ(ApiKeys::Parse("ci backend\n").status().reason(), "key_file_malformed");
  EXPECT_EQ(ApiKeys::Parse("").status().reason(), "key_file_malformed");
}

}  // namespace
}  // namespace authledger::server
