// Turns (spool/turns.h): the two queues, seen through separate Turns objects
// as two processes would see them (flock's locks belong to open file
// descriptions, so two objects in one process conflict as two processes do).

#include "spool/turns.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;

class TurnsTest : public ::testing::Test {
 protected:
  fs::path Dir() { return tmp_.path(); }
  testing::TempDir tmp_;
};

TEST_F(TurnsTest, AWaitingWriterIsSeenUntilItLeaves) {
  Turns holder(Dir());
  holder.Refresh(/*create=*/true);
  EXPECT_FALSE(holder.WriterWaiting());

  Turns writer(Dir());
  writer.QueueWriter();
  EXPECT_TRUE(holder.WriterWaiting());
  EXPECT_TRUE(holder.WriterWaiting());   // the check takes nothing away
  EXPECT_FALSE(holder.ReaderWaiting());  // the other queue is untouched

  writer.Leave();
  EXPECT_FALSE(holder.WriterWaiting());
}

TEST_F(TurnsTest, ManyWritersWaitTogetherAndAllMustLeave) {
  Turns holder(Dir());
  holder.Refresh(/*create=*/true);
  Turns a(Dir());
  Turns b(Dir());
  a.QueueWriter();
  b.QueueWriter();  // shared: the second is not refused
  EXPECT_TRUE(holder.WriterWaiting());
  a.Leave();
  EXPECT_TRUE(holder.WriterWaiting());
  b.Leave();
  EXPECT_FALSE(holder.WriterWaiting());
}

TEST_F(TurnsTest, AQueuedReaderIsNotAWaitingWriter) {
  Turns holder(Dir());
  holder.Refresh(/*create=*/true);
  Turns reader(Dir());
  reader.Queue();
  EXPECT_TRUE(holder.ReaderWaiting());
  EXPECT_FALSE(holder.WriterWaiting());
  reader.Leave();
  EXPECT_FALSE(holder.ReaderWaiting());
}

TEST_F(TurnsTest, WithoutTheFilesNobodyWaitsAndNothingIsCreated) {
  // Readers never create them ("reads are reads"); a writer that waits
  // before any writer opened the database cannot be seen, and says so by
  // nothing: the order is LevelDB's free-for-all then.
  Turns holder(Dir());
  holder.Refresh(/*create=*/false);
  Turns writer(Dir());
  writer.QueueWriter();
  EXPECT_FALSE(holder.WriterWaiting());
  EXPECT_FALSE(fs::exists(Dir() / kWritersFileName));
  EXPECT_FALSE(fs::exists(Dir() / kWaitersFileName));
}

TEST_F(TurnsTest, ARemovedFileIsOpenedAgainOnRefresh) {
  Turns holder(Dir());
  holder.Refresh(/*create=*/true);
  fs::remove(Dir() / kWritersFileName);
  holder.Refresh(/*create=*/true);  // a writer's open creates it again
  Turns writer(Dir());
  writer.QueueWriter();
  EXPECT_TRUE(holder.WriterWaiting());
}

}  // namespace
}  // namespace zenml::spool
