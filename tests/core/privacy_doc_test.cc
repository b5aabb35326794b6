// docs/privacy.md must stay true to the code: every catalogue event and every
// field of an encoded message is listed there, and a message built from the
// real context carries no host name, user name or home path.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/catalogue.h"
#include "core/context.h"
#include "core/message.h"
#include "core/uuid.h"
#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

std::string PrivacyDoc() {
  return testing::ReadFile(std::filesystem::path(ZENML_SOURCE_DIR) / "docs" /
                           "privacy.md");
}

std::string EncodedWithRealContext() {
  MessageFields f;
  f.event = std::string(EventName(Event::kZenmlInitialized));
  f.anonymous_id = NewUuid4();
  f.message_id = NewUuid4();
  f.context = DetectContext();
  f.timestamp = std::chrono::system_clock::now();
  auto json = EncodeTrackMessage(f);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : std::string();
}

void CollectKeys(const Value& v, const std::string& prefix,
                 std::vector<std::string>* out) {
  if (!v.is_object()) return;
  for (const auto& [key, child] : v.as_object()) {
    out->push_back(prefix + key);
    if (prefix.empty() && key == "properties") continue;  // caller's keys
    CollectKeys(child, prefix + key + ".", out);
  }
}

TEST(PrivacyDocTest, ListsEveryCatalogueEvent) {
  const std::string doc = PrivacyDoc();
  ASSERT_FALSE(doc.empty());
  for (Event e : AllEvents()) {
    // Built with append, not `"`" + std::string(...)`: GCC 12 at -O3 warns
    // (-Wrestrict, a known false positive) on the operator+ form.
    std::string quoted = "`";
    quoted.append(EventName(e)).append("`");
    EXPECT_NE(doc.find(quoted), std::string::npos) << EventName(e);
  }
}

TEST(PrivacyDocTest, ListsEveryFieldOfAMessage) {
  const std::string doc = PrivacyDoc();
  auto message = ParseJson(EncodedWithRealContext());
  ASSERT_TRUE(message.ok());
  std::vector<std::string> keys;
  CollectKeys(*message, "", &keys);
  ASSERT_GT(keys.size(), 8u);
  for (const std::string& key : keys) {
    // Top-level fields by name; nested ones under their parent
    // (`context.os` covers context.os.name and context.os.version).
    const size_t dot = key.find('.', key.find('.') + 1);
    const std::string shown = key.substr(0, dot);
    EXPECT_NE(doc.find("`" + shown), std::string::npos) << key;
  }
}

TEST(PrivacyDocTest, MessagesCarryNoHostUserOrHomePath) {
  const std::string json = EncodedWithRealContext();
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  // Very short names could match by accident ("a" in "track").
  if (std::string(host).size() >= 4) {
    EXPECT_EQ(json.find(host), std::string::npos) << host;
  }
  for (const char* var : {"USER", "LOGNAME", "HOME"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && std::string(value).size() >= 4) {
      EXPECT_EQ(json.find(value), std::string::npos) << var << "=" << value;
    }
  }
  EXPECT_NE(json.find(R"("ip":"0.0.0.0")"), std::string::npos);
}

}  // namespace
}  // namespace zenml::core
