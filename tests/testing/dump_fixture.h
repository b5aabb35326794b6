// Helpers shared by the spool-dump, transport, air-gap and opportunistic
// upload tests: a config dir with a spool
// filled with deterministic messages (fixed ids, times and context), so
// outputs can be compared to golden files.

#ifndef ZENML_TESTS_TESTING_DUMP_FIXTURE_H_
#define ZENML_TESTS_TESTING_DUMP_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/catalogue.h"
#include "core/clock.h"
#include "core/config_dir.h"
#include "core/message.h"
#include "spool/spool.h"
#include "tests/testing/temp_dir.h"

namespace zenml::dump_testing {

// 2026-01-01T00:00:00Z: the FakeClock's default start.
inline core::WallTime Epoch() {
  return core::WallTime(std::chrono::sys_days{std::chrono::year{2026} /
                                              std::chrono::January / 1});
}

// A deterministic track message: id "00000000-0000-4000-8000-<12-digit i>",
// time Epoch() + i minutes, fixed context.
inline std::string FixedMessage(
    int i, std::string_view event,
    core::Value properties = core::Value::Object{}) {
  core::MessageFields f;
  f.event = std::string(event);
  f.properties = std::move(properties);
  f.anonymous_id = "11111111-2222-4333-8444-555555555555";
  f.context.library_version = "0.1.0";
  f.context.zenml_version = "0.5.0";
  f.context.os_name = "Debian GNU/Linux";
  f.context.os_version = "12";
  f.timestamp = Epoch() + std::chrono::minutes(i);
  f.message_id = fmt::format("00000000-0000-4000-8000-{:012d}", i);
  auto json = core::EncodeTrackMessage(f);
  EXPECT_TRUE(json.ok()) << json.status().ToString();
  return json.ok() ? *json : std::string();
}

// A config dir in a temp dir, and a Spool on its analytics dir.
class SpoolFixture {
 public:
  // The spool clock starts at the real time: processes that open the spool
  // later with default bounds would drop events appended "long ago".
  SpoolFixture() : clock_(std::chrono::system_clock::now()) {}

  const std::filesystem::path& config_dir() const { return dir_.path(); }
  std::filesystem::path analytics_dir() const {
    return core::AnalyticsDir(dir_.path());
  }
  core::FakeClock& clock() { return clock_; }

  spool::Spool& spool() {
    if (!spool_) {
      spool::SpoolOptions o;
      o.dir = analytics_dir();
      o.sync = false;
      o.max_events = 10'000'000;
      o.max_bytes = 16ull << 30;
      o.max_age = std::chrono::hours(24 * 365 * 50);
      o.clock = &clock_;
      spool_ = std::make_unique<spool::Spool>(std::move(o));
    }
    return *spool_;
  }

  void Append(const std::vector<std::string>& messages) {
    auto r = spool().Append(messages);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Every pending entry, in order.
  std::vector<spool::Entry> All() {
    std::vector<spool::Entry> all;
    std::string after;
    for (;;) {
      auto chunk = spool().Peek(after, 4u << 20, 10'000);
      EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
      if (!chunk.ok() || chunk->empty()) return all;
      after = chunk->back().key;
      for (auto& e : *chunk) all.push_back(std::move(e));
    }
  }

  // Closes this process's handle on the spool so child processes can open
  // it (LevelDB admits one process at a time).
  void Close() { spool_.reset(); }

 private:
  testing::TempDir dir_;
  core::FakeClock clock_;
  std::unique_ptr<spool::Spool> spool_;
};

}  // namespace zenml::dump_testing

#endif  // ZENML_TESTS_TESTING_DUMP_FIXTURE_H_
