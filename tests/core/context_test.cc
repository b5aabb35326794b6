#include "core/context.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(ContextTest, ReadsNameAndVersionIdFromOsRelease) {
  TempDir tmp;
  WriteFile(tmp / "os-release",
            "PRETTY_NAME=\"Ubuntu 16.04.7 LTS\"\n"
            "NAME=\"Ubuntu\"\n"
            "VERSION_ID=\"16.04\"\n"
            "ID=ubuntu\n");
  Context c = DetectContext("0.5.1", tmp / "os-release");
  EXPECT_EQ(c.os_name, "Ubuntu");
  EXPECT_EQ(c.os_version, "16.04");
  EXPECT_EQ(OsString(c), "Ubuntu 16.04");
  EXPECT_EQ(c.zenml_version, "0.5.1");
  EXPECT_EQ(c.library_name, "zenml-analytics");
  EXPECT_EQ(c.library_version, LibraryVersion());
  EXPECT_FALSE(c.library_version.empty());
}

TEST(ContextTest, HandlesUnquotedSingleQuotedAndEscapedValues) {
  TempDir tmp;
  WriteFile(tmp / "os-release",
            "# comment\nNAME='Arch Linux'\nVERSION_ID=rolling\n");
  Context c = DetectContext("", tmp / "os-release");
  EXPECT_EQ(OsString(c), "Arch Linux rolling");
  WriteFile(tmp / "os-release", "NAME=\"Some \\\"Quoted\\\" OS\"\n");
  c = DetectContext("", tmp / "os-release");
  EXPECT_EQ(c.os_name, "Some \"Quoted\" OS");
  EXPECT_EQ(c.os_version, "");
  EXPECT_EQ(OsString(c), "Some \"Quoted\" OS");
}

TEST(ContextTest, FallsBackToUnameWithoutOsRelease) {
  TempDir tmp;
  Context c = DetectContext("", tmp / "missing");
  struct utsname u;
  ASSERT_EQ(::uname(&u), 0);
  EXPECT_EQ(c.os_name, u.sysname);
  EXPECT_EQ(c.os_version, u.release);
  // Never the host name.
  EXPECT_EQ(OsString(c).find(u.nodename), std::string::npos);
}

TEST(ContextTest, EmptyZenmlVersionMeansTheBuildTimeDefault) {
  Context c = DetectContext();
  EXPECT_EQ(c.zenml_version, ZENML_DEFAULT_ZENML_VERSION);
  EXPECT_FALSE(c.zenml_version.empty());
}

}  // namespace
}  // namespace zenml::core
