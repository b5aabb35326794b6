// LoadUploadConfig against hostile upload.yaml files: the same limits as
// config.yaml (core/yaml_limits.h), refused in milliseconds and constant
// memory with a message that names the file, and a good file still read.

#include "uploader/upload_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/testing/temp_dir.h"

namespace zenml::uploader {
namespace {

using testing::TempDir;
using testing::WriteFile;

class UploadConfigTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& text) {
    const auto path = dir_.path() / "upload.yaml";
    WriteFile(path, text);
    ::chmod(path.c_str(), 0600);
    return path;
  }
  TempDir dir_;
};

TEST_F(UploadConfigTest, AGoodFileIsRead) {
  auto config = LoadUploadConfig(
      Write("write_key: abc\nendpoint: http://127.0.0.1:1/v1/batch\n"),
      /*system_wide=*/false);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->write_key.value_or(""), "abc");
  EXPECT_EQ(config->endpoint.value_or(""), "http://127.0.0.1:1/v1/batch");
}

TEST_F(UploadConfigTest, AnAliasBombIsRefusedNamingTheFile) {
  // Nine levels of ten aliases each: 10^9 nodes once expanded.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) {
      bomb += (j ? ", *a" : "*a") + std::to_string(i - 1);
    }
    bomb += "]\n";
  }
  bomb += "write_key: abc\n";
  const auto path = Write(bomb);
  auto config = LoadUploadConfig(path, /*system_wide=*/false);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find(path.string()), std::string::npos)
      << config.status().message();
}

TEST_F(UploadConfigTest, AFileLargerThanTheLimitIsRefused) {
  const auto path =
      Write("write_key: abc\n# " + std::string(100'000, 'x') + "\n");
  auto config = LoadUploadConfig(path, /*system_wide=*/false);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("larger"), std::string::npos)
      << config.status().message();
}

TEST_F(UploadConfigTest, DeepNestingIsRefused) {
  const auto path = Write("endpoint: " + std::string(100'000 / 2, '[') + "\n");
  auto config = LoadUploadConfig(path, /*system_wide=*/false);
  ASSERT_FALSE(config.ok());
}

// The system-wide file's rules (upload_config.h). It must belong to root,
// so these run as root (CI does) and skip themselves otherwise.
class SystemUploadConfigTest : public UploadConfigTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (a root-owned file)";
    // Like /etc/zenml: other users may look into the directory.
    ::chmod(dir_.path().c_str(), 0755);
  }
  std::filesystem::path WriteMode(const std::string& text, mode_t mode) {
    const auto path = Write(text);
    ::chmod(path.c_str(), mode);
    return path;
  }
};

TEST_F(SystemUploadConfigTest, WithoutAKeyItMayBeReadableByAll) {
  auto config = LoadUploadConfig(
      WriteMode("endpoint: http://127.0.0.1:1/v1/batch\nmax_time: 30\n", 0644),
      /*system_wide=*/true);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->endpoint.value_or(""), "http://127.0.0.1:1/v1/batch");
  EXPECT_FALSE(config->unreadable);
}

TEST_F(SystemUploadConfigTest, AKeyReadableByAllIsRefused) {
  auto config = LoadUploadConfig(WriteMode("write_key: abc\n", 0644),
                                 /*system_wide=*/true);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), core::Status::Code::kFailedPrecondition);
  EXPECT_NE(config.status().message().find("every user may read"),
            std::string::npos)
      << config.status().message();
}

TEST_F(SystemUploadConfigTest, AKeyReadableByAGroupIsRead) {
  auto config = LoadUploadConfig(WriteMode("write_key: abc\n", 0640),
                                 /*system_wide=*/true);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->write_key.value_or(""), "abc");
}

TEST_F(SystemUploadConfigTest, WritableByGroupOrOthersIsRefused) {
  for (mode_t mode : {0664, 0646}) {
    auto config = LoadUploadConfig(
        WriteMode("endpoint: http://127.0.0.1:1/v1/batch\n", mode),
        /*system_wide=*/true);
    ASSERT_FALSE(config.ok()) << std::oct << mode;
    EXPECT_NE(config.status().message().find("chmod go-w"), std::string::npos)
        << config.status().message();
  }
}

TEST_F(SystemUploadConfigTest, AUserWhoMayNotReadItRunsWithoutIt) {
  const auto path = WriteMode("write_key: root-only\n", 0600);
  // Another user (nobody) in a child process: the file is skipped, not an
  // error, and says so.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    auto config = LoadUploadConfig(path, /*system_wide=*/true);
    if (!config.ok()) ::_exit(1);
    ::_exit(config->unreadable && !config->write_key ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: refused, 2: read or not marked, 3: could not become nobody";
  // Root reads it.
  auto config = LoadUploadConfig(path, /*system_wide=*/true);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->write_key.value_or(""), "root-only");
}

}  // namespace
}  // namespace zenml::uploader
