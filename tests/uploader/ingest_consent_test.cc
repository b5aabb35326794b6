#include "uploader/ingest_consent.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config_dir.h"
#include "core/consent.h"
#include "core/environment.h"
#include "spool/spool.h"
#include "tests/testing/temp_dir.h"

namespace zenml::uploader {
namespace {

std::vector<std::string> Messages(int n, const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("{\"messageId\":\"" + prefix + std::to_string(i) + "\"}");
  }
  return out;
}

// What `opt-out` relies on: once config.yaml says opted out, a guarded
// spool's calls leave inbox files where they are (for opt-out to delete),
// and ingest them again once the user opts back in. DO_NOT_TRACK in the
// environment withholds consent the same way.
TEST(IngestConsentTest, InboxFilesAreIngestedOnlyWhileTheUserConsents) {
  testing::TempDir tmp;
  const std::filesystem::path config_dir = tmp.path() / "zenml";
  std::filesystem::create_directories(config_dir);
  ASSERT_TRUE(core::SetOptIn(config_dir, true).ok());
  core::MapEnvironment env;
  IngestConsent consent(config_dir, env);
  spool::SpoolOptions options;
  options.dir = core::AnalyticsDir(config_dir);
  spool::Spool spool(consent.Guard(options));
  ASSERT_TRUE(spool.Append(Messages(1, "db")).ok());

  ASSERT_TRUE(core::SetOptIn(config_dir, false).ok());
  ASSERT_TRUE(spool.AppendToInbox(Messages(2, "inbox")).ok());
  auto peeked = spool.Peek("", 1 << 20, 100);
  ASSERT_TRUE(peeked.ok()) << peeked.status().ToString();
  EXPECT_EQ(peeked->size(), 1u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inbox_files, 1u);

  ASSERT_TRUE(core::SetOptIn(config_dir, true).ok());
  env.Set("DO_NOT_TRACK", "1");
  peeked = spool.Peek("", 1 << 20, 100);
  ASSERT_TRUE(peeked.ok());
  EXPECT_EQ(peeked->size(), 1u);

  env.Unset("DO_NOT_TRACK");
  // The environment is read with config.yaml: touch the file so that the
  // watcher decides again (a process's own environment never changes).
  ASSERT_TRUE(core::SetOptIn(config_dir, true).ok());
  peeked = spool.Peek("", 1 << 20, 100);
  ASSERT_TRUE(peeked.ok());
  EXPECT_EQ(peeked->size(), 3u);
  stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inbox_files, 0u);
}

}  // namespace
}  // namespace zenml::uploader
