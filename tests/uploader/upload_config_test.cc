// LoadUploadConfig against hostile upload.yaml files: the same limits as
// config.yaml (core/yaml_limits.h), refused in milliseconds and constant
// memory with a message that names the file, and a good file still read.

#include "uploader/upload_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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

}  // namespace
}  // namespace zenml::uploader
