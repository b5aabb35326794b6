#include "core/uuid.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>
#include <unordered_set>
#include <vector>

namespace zenml::core {
namespace {

TEST(UuidTest, NewUuid4HasTheCanonicalVersion4Form) {
  const std::regex form(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid4();
    ASSERT_TRUE(std::regex_match(id, form)) << id;
    ASSERT_TRUE(IsUuid4(id)) << id;
  }
}

TEST(UuidTest, HundredThousandIdsAreAllDistinct) {
  std::unordered_set<std::string> seen;
  seen.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(seen.insert(NewUuid4()).second) << "duplicate at " << i;
  }
}

TEST(UuidTest, EveryRandomHexDigitVaries) {
  // A stuck nibble (e.g. a buffer left unfilled) would show up here.
  std::string seen_or(36, '\0');
  std::vector<std::unordered_set<char>> values(36);
  for (int i = 0; i < 2000; ++i) {
    const std::string id = NewUuid4();
    for (size_t k = 0; k < 36; ++k) values[k].insert(id[k]);
  }
  for (size_t k = 0; k < 36; ++k) {
    if (k == 8 || k == 13 || k == 18 || k == 23 || k == 14) {
      EXPECT_EQ(values[k].size(), 1u) << k;
    } else if (k == 19) {
      EXPECT_EQ(values[k].size(), 4u) << k;  // 8, 9, a, b
    } else {
      EXPECT_EQ(values[k].size(), 16u) << k;
    }
  }
}

TEST(UuidTest, AForkedChildNeverRepeatsItsParentsIds) {
  NewUuid4();  // the parent's thread now holds buffered random bytes
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string ids;
    for (int i = 0; i < 40; ++i) ids += NewUuid4();
    const ssize_t n = ::write(fds[1], ids.data(), ids.size());
    ::_exit(n == static_cast<ssize_t>(ids.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string child;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
    child.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(child.size(), 40u * 36u);
  std::unordered_set<std::string> parent;
  for (int i = 0; i < 40; ++i) parent.insert(NewUuid4());
  for (size_t i = 0; i < child.size(); i += 36) {
    EXPECT_EQ(parent.count(child.substr(i, 36)), 0u) << child.substr(i, 36);
  }
}

TEST(UuidTest, IdsFromManyThreadsAreDistinct) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 5000; ++i) ids.push_back(NewUuid4());
    });
  }
  for (auto& t : threads) t.join();
  std::unordered_set<std::string> all;
  for (const auto& ids : per_thread) {
    for (const auto& id : ids) ASSERT_TRUE(all.insert(id).second) << id;
  }
}

TEST(UuidTest, IsUuid4RefusesOtherShapes) {
  EXPECT_TRUE(IsUuid4("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d"));
  EXPECT_TRUE(IsUuid4("7C8E3B5A-1D2F-4A6B-9C0D-1E2F3A4B5C6D"));
  EXPECT_FALSE(IsUuid4(""));
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-1a6b-9c0d-1e2f3a4b5c6d"));   // version 1
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-4a6b-7c0d-1e2f3a4b5c6d"));   // variant
  EXPECT_FALSE(IsUuid4("7c8e3b5a1d2f4a6b9c0d1e2f3a4b5c6d"));       // no dashes
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6g"));   // not hex
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d0"));  // long
}

}  // namespace
}  // namespace zenml::core
