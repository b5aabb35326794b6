// The public API (include/zenml/analytics/) through the shared library, as a
// consumer sees it: compiled as C++17 against zenml::analytics only. Events
// are checked with the real zenml-spool-dump, the way a user would look.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "zenml/analytics/client.h"
#include "zenml/analytics/consent.h"
#include "zenml/analytics/events.h"
#include "zenml/analytics/result.h"
#include "zenml/analytics/status.h"
#include "zenml/analytics/value.h"

static_assert(__cplusplus == 201703L, "this test proves the headers are C++17");

namespace zenml::analytics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs a shell command, returns its standard output.
std::string Capture(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"),
                                             pclose);
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) {
    out.append(buf.data(), n);
  }
  return out;
}

class PublicApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/zenml_public_api_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    setenv("ZENML_CONFIG_PATH", dir_.c_str(), 1);
    setenv("ZENML_ANALYTICS_OPT_IN", "true", 1);
    setenv("ZENML_ANALYTICS_AUTO_UPLOAD", "0", 1);
    unsetenv("DO_NOT_TRACK");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Dump() {
    return Capture(std::string(ZENML_BIN_DIR) +
                   "/zenml-spool-dump --json --config-dir '" + dir_ + "'");
  }

  std::string dir_;
};

TEST_F(PublicApiTest, TrackAndFlushSpoolTheEventWithItsProperties) {
  std::string id;
  {
    Client client;
    EXPECT_TRUE(client.enabled());
    EXPECT_EQ(client.config_dir(), dir_);
    Value props = Value::Object{{"steps", 3},
                                {"gpu", true},
                                {"ratio", 0.5},
                                {"tags", Value::Array{"a", "b"}},
                                {"none", nullptr}};
    Status s = client.Track(Event::kPipelineRun, props, &id);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(client.Flush().ok());
    const ClientStats stats = client.stats();
    EXPECT_EQ(stats.accepted, 1u);
    EXPECT_EQ(stats.written, 1u);
    EXPECT_EQ(stats.queued, 0u);
  }
  const std::string dump = Dump();
  EXPECT_THAT(dump, HasSubstr("\"event\":\"Pipeline run\""));
  EXPECT_THAT(dump, HasSubstr(id));
  EXPECT_THAT(dump, HasSubstr("\"steps\":3"));
  EXPECT_THAT(dump, HasSubstr("\"tags\":[\"a\",\"b\"]"));
  EXPECT_THAT(dump, HasSubstr("\"ratio\":0.5"));
}

TEST_F(PublicApiTest, TheIssueExampleCompilesAndFlushes) {
  Client c;
  (void)c.Track("Pipeline run", {});
  EXPECT_TRUE(c.Flush().ok());
  EXPECT_THAT(Dump(), HasSubstr("\"event\":\"Pipeline run\""));
}

TEST_F(PublicApiTest, ErrorsComeBackAsStatusWithTheirCode) {
  Client client;
  Status s = client.Track("", {});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(s.message().empty());
  EXPECT_THAT(s.ToString(), HasSubstr("Invalid"));
  EXPECT_EQ(client.stats().rejected_invalid, 1u);

  Client moved = std::move(client);
  EXPECT_TRUE(moved.enabled());
  EXPECT_FALSE(client.enabled());  // NOLINT: testing the moved-from state
  EXPECT_EQ(client.Track("x", {}).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(client.Flush().code(), Status::Code::kFailedPrecondition);
}

TEST_F(PublicApiTest, OptedOutTracksNothing) {
  setenv("ZENML_ANALYTICS_OPT_IN", "false", 1);
  {
    Client client;
    EXPECT_FALSE(client.enabled());
    EXPECT_FALSE(client.consent().allowed);
    EXPECT_EQ(client.consent().source, ConsentSource::kEnvOptIn);
    EXPECT_TRUE(client.Track(Event::kStepCreated, {}).ok());
    EXPECT_TRUE(client.Flush().ok());
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/analytics"));
}

TEST_F(PublicApiTest, ConsentQueriesAndOptInGoThroughConfigYaml) {
  unsetenv("ZENML_ANALYTICS_OPT_IN");
  ASSERT_TRUE(SetOptIn(false).ok());
  Result<Consent> consent = QueryConsent();
  ASSERT_TRUE(consent.ok()) << consent.status();
  EXPECT_FALSE(consent->allowed);
  EXPECT_EQ(consent->source, ConsentSource::kConfigFile);
  EXPECT_EQ(ConsentSourceName(consent->source), "config.yaml");

  ASSERT_TRUE(SetOptIn(true, dir_).ok());
  consent = QueryConsent(dir_);
  ASSERT_TRUE(consent.ok());
  EXPECT_TRUE(consent->allowed);
}

TEST(PublicApiValueTest, EventsValuesAndVersion) {
  EXPECT_EQ(EventName(Event::kZenmlInitialized), "ZenML initialized");
  for (Event e : kAllEvents) {
    ASSERT_EQ(EventFromName(EventName(e)), e);
  }
  EXPECT_EQ(EventFromName("pipeline run"), std::nullopt);

  Value v;
  v.Set("a", 1);
  v.Set("b", "x");
  v.Set("a", 2);
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.as_object().size(), 2u);
  ASSERT_NE(v.Find("a"), nullptr);
  EXPECT_EQ(v.Find("a")->as_int(), 2);
  EXPECT_EQ(v.Find("missing"), nullptr);
  EXPECT_TRUE(Value(uint64_t{1} << 63).is_double());
  EXPECT_TRUE(Value(3.0f).is_double());
  EXPECT_NE(Value(1), Value(true));

  EXPECT_THAT(std::string(LibraryVersion()), Not(::testing::IsEmpty()));
}

}  // namespace
}  // namespace zenml::analytics
