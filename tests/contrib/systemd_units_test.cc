// contrib/systemd/: the user service and timer, and the system-wide template
// pair (contrib/systemd/system/zenml-upload@.{service,timer}), pass
// `systemd-analyze verify` with no warning, where that tool exists.

#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using zenml::testing::ReadFile;
using zenml::testing::TempDir;
using zenml::testing::WriteFile;

std::optional<fs::path> FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  dirs += ":/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t colon = dirs.find(':', pos);
    if (colon == std::string::npos) colon = dirs.size();
    fs::path candidate = fs::path(dirs.substr(pos, colon - pos)) / name;
    if (colon > pos && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    pos = colon + 1;
  }
  return std::nullopt;
}

const fs::path kUnits = fs::path(ZENML_SOURCE_DIR) / "contrib/systemd";

TEST(SystemdUnitsTest, ServiceAndTimerPassSystemdAnalyzeVerify) {
  auto analyze = FindOnPath("systemd-analyze");
  if (!analyze) {
    GTEST_SKIP() << "systemd-analyze is not installed on this machine; the "
                    "units are checked only where it exists";
  }
  // verify insists that ExecStart's program exists: point it at the built
  // zenml-upload when there is one, else at a program that surely exists.
  TempDir dir;
  std::string service = ReadFile(kUnits / "zenml-upload.service");
  ASSERT_THAT(service,
              HasSubstr("ExecStart=/usr/local/bin/zenml-upload --quiet"));
  std::string upload = zenml::testing::BinPath("zenml-upload");
  std::string program =
      ::access(upload.c_str(), X_OK) == 0 ? upload : "/bin/true";
  service.replace(service.find("/usr/local/bin/zenml-upload"),
                  std::string("/usr/local/bin/zenml-upload").size(), program);
  WriteFile(dir / "zenml-upload.service", service);
  WriteFile(dir / "zenml-upload.timer",
            ReadFile(kUnits / "zenml-upload.timer"));

  auto r = zenml::testing::Run({analyze->string(), "verify",
                                (dir / "zenml-upload.timer").string(),
                                (dir / "zenml-upload.service").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "") << "systemd-analyze warned";
}

TEST(SystemdUnitsTest,
     TimerActivatesTheServiceAndTemporaryFailureIsNotAFailure) {
  std::string timer = ReadFile(kUnits / "zenml-upload.timer");
  std::string service = ReadFile(kUnits / "zenml-upload.service");
  // The timer's unit defaults to the service of the same name.
  EXPECT_THAT(timer, HasSubstr("[Timer]"));
  EXPECT_THAT(timer, HasSubstr("Persistent=true"));
  EXPECT_THAT(timer, HasSubstr("WantedBy=timers.target"));
  EXPECT_THAT(service, HasSubstr("Type=oneshot"));
  EXPECT_THAT(service, HasSubstr("SuccessExitStatus=75"));
}

TEST(SystemdUnitsTest, SystemWideTemplatesPassSystemdAnalyzeVerify) {
  auto analyze = FindOnPath("systemd-analyze");
  if (!analyze) {
    GTEST_SKIP() << "systemd-analyze is not installed on this machine; the "
                    "units are checked only where it exists";
  }
  TempDir dir;
  const fs::path system = kUnits / "system";
  std::string service = ReadFile(system / "zenml-upload@.service");
  ASSERT_THAT(service,
              HasSubstr("ExecStart=/usr/local/bin/zenml-upload --quiet"));
  EXPECT_THAT(service, HasSubstr("User=%i"));
  EXPECT_THAT(service, HasSubstr("LoadCredential=zenml-write-key:"));
  EXPECT_THAT(service, HasSubstr("SuccessExitStatus=75"));
  std::string upload = zenml::testing::BinPath("zenml-upload");
  std::string program =
      ::access(upload.c_str(), X_OK) == 0 ? upload : "/bin/true";
  service.replace(service.find("/usr/local/bin/zenml-upload"),
                  std::string("/usr/local/bin/zenml-upload").size(), program);
  // An instance, as `systemctl enable zenml-upload@root.timer` makes one.
  WriteFile(dir / "zenml-upload@root.service", service);
  WriteFile(dir / "zenml-upload@root.timer",
            ReadFile(system / "zenml-upload@.timer"));
  auto r = zenml::testing::Run({analyze->string(), "verify",
                                (dir / "zenml-upload@root.timer").string(),
                                (dir / "zenml-upload@root.service").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "") << "systemd-analyze warned";
}

}  // namespace
}  // namespace zenml
