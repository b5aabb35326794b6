#include "uploader/bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace zenml::uploader {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using zenml::testing::ReadFile;
using zenml::testing::TempDir;
using zenml::testing::WriteFile;

std::string Message(int i, std::string_view extra = "") {
  return fmt::format(
      "{{\"type\":\"track\",\"event\":\"Pipeline run\",\"messageId\":\"m-{}\","
      "\"properties\":{{\"n\":{}{}}}}}",
      i, i, extra);
}

const core::WallTime kCreated =
    std::chrono::sys_days{std::chrono::year{2026} / 1 / 2} +
    std::chrono::hours(3);

class BundleTest : public ::testing::Test {
 protected:
  // Writes a bundle with `batches` batches of `per_batch` messages.
  fs::path Write(int batches, int per_batch, const std::string& name = "b") {
    fs::path path = dir_ / name;
    auto writer = BundleWriter::Create(path, kCreated, "test");
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    int n = 0;
    for (int b = 0; b < batches; ++b) {
      std::vector<std::string> batch;
      for (int i = 0; i < per_batch; ++i) batch.push_back(Message(n++));
      EXPECT_TRUE((*writer)->AddBatch(batch).ok());
    }
    auto summary = (*writer)->Commit();
    EXPECT_TRUE(summary.ok()) << summary.status().ToString();
    return path;
  }

  std::vector<std::string> Lines(const fs::path& path) {
    std::string text = ReadFile(path);
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      lines.push_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return lines;
  }

  void Rewrite(const fs::path& path, const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    WriteFile(path, text);
  }

  TempDir dir_;
};

TEST_F(BundleTest, WrittenBundleVerifiesAndReadsBackEveryMessageByteForByte) {
  fs::path path = dir_ / "b";
  auto writer = BundleWriter::Create(path, kCreated, "test origin");
  ASSERT_TRUE(writer.ok());
  std::vector<std::string> first = {Message(1),
                                    Message(2, ",\"s\":\"}{][\\\"\"")};
  std::vector<std::string> second = {
      Message(3, ",\"u\":\"\\u00e9 caf\xc3\xa9\"")};
  ASSERT_TRUE((*writer)->AddBatch(first).ok());
  ASSERT_TRUE((*writer)->AddBatch(second).ok());
  auto written = (*writer)->Commit();
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->batches, 2u);
  EXPECT_EQ(written->messages, 3u);

  auto verified = VerifyBundle(path);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->sha256, written->sha256);
  EXPECT_EQ(verified->messages, 3u);
  EXPECT_EQ(verified->created, "2026-01-02T03:00:00.000Z");
  EXPECT_EQ(verified->origin, "test origin");

  std::vector<std::vector<std::string>> read;
  ASSERT_TRUE(ReadBundle(path, [&](uint64_t index, std::vector<std::string> m) {
                EXPECT_EQ(index, read.size());
                read.push_back(std::move(m));
                return Status::OK();
              }).ok());
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0], first);
  EXPECT_EQ(read[1], second);
}

TEST_F(BundleTest, LayoutIsHeaderBodiesTrailerWithBodiesAsTheNetworkGetsThem) {
  fs::path path = Write(2, 2);
  auto lines = Lines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "{\"zenml_analytics_bundle\":1,\"created\":\"2026-01-02T03:00:00."
            "000Z\",\"origin\":\"test\"}");
  EXPECT_EQ(lines[1], "{\"batch\":[" + Message(0) + "," + Message(1) + "]}");
  EXPECT_THAT(lines[3],
              HasSubstr("{\"zenml_analytics_bundle_end\":{\"batches\":"
                        "2,\"messages\":4,\"sha256\":\""));
}

TEST_F(BundleTest, EmptyBundleIsValid) {
  fs::path path = Write(0, 0);
  auto summary = VerifyBundle(path);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->batches, 0u);
  EXPECT_EQ(summary->messages, 0u);
}

TEST_F(BundleTest, BodyLineWithAFlippedByteFailsTheChecksum) {
  fs::path path = Write(3, 4);
  auto lines = Lines(path);
  size_t at = lines[2].find("Pipeline run");
  lines[2][at] = 'p';
  Rewrite(path, lines);
  auto summary = VerifyBundle(path);
  EXPECT_EQ(summary.status().code(), Status::Code::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("checksum mismatch"));
}

TEST_F(BundleTest, BundleWithoutTrailerIsTruncated) {
  fs::path path = Write(3, 4);
  auto lines = Lines(path);
  lines.pop_back();
  Rewrite(path, lines);
  auto summary = VerifyBundle(path);
  EXPECT_EQ(summary.status().code(), Status::Code::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("truncated"));
}

TEST_F(BundleTest, BundleCutAtAnyByteIsRefused) {
  fs::path path = Write(2, 3);
  std::string text = ReadFile(path);
  // Every cut point short of the full file must be refused (a cut exactly at
  // a line end loses the trailer; anywhere else leaves a partial line).
  for (size_t cut = 0; cut < text.size(); cut += 7) {
    WriteFile(path, text.substr(0, cut));
    auto summary = VerifyBundle(path);
    EXPECT_FALSE(summary.ok()) << "cut at " << cut;
    EXPECT_EQ(summary.status().code(), Status::Code::kCorruption)
        << "cut at " << cut << ": " << summary.status().ToString();
  }
}

TEST_F(BundleTest, ForeignFilesAreRefusedAsNotABundle) {
  fs::path path = dir_ / "foreign";
  for (std::string text :
       {std::string("hello world\n"), std::string("{\"batch\":[]}\n"),
        std::string("{\"some\":\"json\"}\n"),
        std::string("\x7f"
                    "ELF\x02\x01"),
        std::string()}) {
    WriteFile(path, text);
    auto summary = VerifyBundle(path);
    EXPECT_EQ(summary.status().code(), Status::Code::kCorruption)
        << summary.status().ToString();
  }
}

TEST_F(BundleTest, UnknownFormatVersionIsRefused) {
  fs::path path = Write(1, 1);
  auto lines = Lines(path);
  lines[0].replace(lines[0].find(":1,"), 3, ":2,");
  Rewrite(path, lines);
  auto summary = VerifyBundle(path);
  EXPECT_EQ(summary.status().code(), Status::Code::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("version 2"));
}

TEST_F(BundleTest, LineThatIsNotABatchBodyIsRefusedWithItsLineNumber) {
  fs::path path = Write(2, 2);
  auto lines = Lines(path);
  lines.insert(lines.begin() + 2, "{\"type\":\"track\"}");
  Rewrite(path, lines);
  auto summary = VerifyBundle(path);
  EXPECT_EQ(summary.status().code(), Status::Code::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("line 3"));
  EXPECT_THAT(summary.status().message(), HasSubstr("not a batch body"));
}

TEST_F(BundleTest, MessageWithoutMessageIdIsRefused) {
  auto split = SplitBatchLine("{\"batch\":[{\"type\":\"track\"}]}");
  EXPECT_EQ(split.status().code(), Status::Code::kCorruption);
  EXPECT_THAT(split.status().message(), HasSubstr("messageId"));
}

TEST_F(BundleTest, SplitBatchLineIsTheInverseOfMakeBatchLine) {
  std::vector<std::string> messages = {
      Message(1), Message(2, ",\"x\":[1,{\"y\":\"]}\"}]"), Message(3)};
  auto split = SplitBatchLine(MakeBatchLine(messages));
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(*split, messages);
  EXPECT_EQ(MakeBatchLine(messages), "{\"batch\":[" + messages[0] + "," +
                                         messages[1] + "," + messages[2] +
                                         "]}");
}

TEST_F(BundleTest, SplitRefusesJunkBetweenMessagesAndUnclosedObjects) {
  std::string m = Message(1);
  EXPECT_FALSE(SplitBatchLine("{\"batch\":[" + m + " ," + m + "]}").ok());
  EXPECT_FALSE(SplitBatchLine("{\"batch\":[" + m.substr(0, 10) + "]}").ok());
  EXPECT_FALSE(SplitBatchLine("{\"batch\":[]}").ok());
  EXPECT_FALSE(SplitBatchLine("{\"batch\":[1,2]}").ok());
}

TEST_F(BundleTest, TrailerCountThatDisagreesIsRefused) {
  fs::path path = Write(2, 2);
  auto lines = Lines(path);
  lines.erase(lines.begin() + 1);  // drop a whole body line
  Rewrite(path, lines);
  auto summary = VerifyBundle(path);
  EXPECT_EQ(summary.status().code(), Status::Code::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("trailer counts"));
}

TEST_F(BundleTest, DataAfterTheTrailerIsRefused) {
  fs::path path = Write(1, 2);
  auto lines = Lines(path);
  lines.push_back(lines[1]);
  Rewrite(path, lines);
  auto summary = VerifyBundle(path);
  EXPECT_EQ(summary.status().code(), Status::Code::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("after the trailer"));
}

TEST_F(BundleTest, ExistingFileIsNeverOverwritten) {
  fs::path path = dir_ / "exists";
  WriteFile(path, "precious");
  auto writer = BundleWriter::Create(path, kCreated, "test");
  EXPECT_EQ(writer.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(ReadFile(path), "precious");
}

TEST_F(BundleTest, WriterDroppedBeforeCommitLeavesNoFileBehind) {
  fs::path path = dir_ / "b";
  {
    auto writer = BundleWriter::Create(path, kCreated, "test");
    ASSERT_TRUE(writer.ok());
    std::vector<std::string> batch = {Message(1)};
    ASSERT_TRUE((*writer)->AddBatch(batch).ok());
  }
  EXPECT_TRUE(fs::is_empty(dir_.path()));
}

TEST_F(BundleTest, MissingBundleIsNotFound) {
  auto summary = VerifyBundle(dir_ / "nope");
  EXPECT_EQ(summary.status().code(), Status::Code::kNotFound);
}

TEST_F(BundleTest, ReadBundleStopsAtTheVisitorsError) {
  fs::path path = Write(3, 1);
  int calls = 0;
  Status s = ReadBundle(path, [&](uint64_t, std::vector<std::string>) {
    ++calls;
    return Status::Unavailable("stop");
  });
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace zenml::uploader
