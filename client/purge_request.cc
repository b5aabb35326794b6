#include "client/purge_request.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>

#include "core/atomic_file.h"
#include "core/config_dir.h"

namespace zenml::client {
namespace {

// How long opt-out waits for another process to let go of the spool. A
// Client writer sees the opt-out at its next write and lets go at once; this
// also outlasts a writer's own wait for the lock (spool lock_wait, 2 s by
// default), after which it would have written an inbox file.
constexpr std::chrono::milliseconds kOptOutSpoolWait{5000};
// A writer that checked consent just before config.yaml changed finishes its
// inbox file (write, fsync, rename) within this.
constexpr std::chrono::milliseconds kOptOutInboxGrace{200};

}  // namespace

std::filesystem::path PurgeRequestPath(
    const std::filesystem::path& analytics_dir) {
  return analytics_dir / "purge-requested";
}

bool PurgeRequested(const std::filesystem::path& analytics_dir) {
  struct stat st {};
  return ::stat(PurgeRequestPath(analytics_dir).c_str(), &st) == 0;
}

core::Status RequestPurge(const std::filesystem::path& analytics_dir) {
  const std::filesystem::path path = PurgeRequestPath(analytics_dir);
  static constexpr char kText[] =
      "The user opted out while the spool was busy: the next process that "
      "opens it deletes every event, then this file.\n";
  // Its content and its name must both survive a crash.
  return core::WriteFileAtomically(path, kText);
}

core::Result<uint64_t> RemoveInboxFiles(
    const std::filesystem::path& analytics_dir) {
  const std::filesystem::path inbox = analytics_dir / "inbox";
  std::error_code ec;
  uint64_t removed = 0;
  std::filesystem::directory_iterator it(inbox, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return removed;
    return core::Status::IoError("listing " + inbox.string() + ": " +
                                 ec.message());
  }
  for (const auto& entry : it) {
    std::error_code rm;
    if (std::filesystem::remove(entry.path(), rm)) {
      ++removed;
    } else if (rm && rm != std::errc::no_such_file_or_directory) {
      return core::Status::IoError("removing " + entry.path().string() + ": " +
                                   rm.message());
    }
  }
  return removed;
}

core::Status HonourPurgeRequest(spool::Spool& spool,
                                const std::filesystem::path& analytics_dir) {
  if (!PurgeRequested(analytics_dir)) return core::Status::OK();
  auto purged = spool.Purge();
  if (!purged.ok()) {
    return purged.status().WithContext("carrying out a pending purge");
  }
  auto inbox = RemoveInboxFiles(analytics_dir);
  if (!inbox.ok()) return inbox.status();
  std::error_code ec;
  std::filesystem::remove(PurgeRequestPath(analytics_dir), ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return core::Status::IoError("removing " +
                                 PurgeRequestPath(analytics_dir).string() +
                                 ": " + ec.message());
  }
  return core::Status::OK();
}

core::Status HonourPurgeRequest(const spool::SpoolOptions& options) {
  if (!PurgeRequested(options.dir)) return core::Status::OK();
  spool::Spool spool(options);
  return HonourPurgeRequest(spool, options.dir);
}

core::Result<OptOutPurge> PurgeOnOptOut(
    const std::filesystem::path& config_dir) {
  OptOutPurge result;
  const std::filesystem::path dir = core::AnalyticsDir(config_dir);
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return result;  // never create one
  // config.yaml already says opted out, so every writer stops at its next
  // write and gives the database back. Wait for it that long.
  spool::SpoolOptions options;
  options.dir = dir;
  options.lock_wait = kOptOutSpoolWait;
  spool::Spool spool(options);
  auto purged = spool.Purge();
  if (!purged.ok() && purged.status().code() != core::Status::Code::kBusy) {
    return purged.status().WithContext("purging the spool");
  }
  result.deferred = !purged.ok();
  if (result.deferred) {
    // Still held: the holder (or the next opener) purges it before anything
    // else.
    if (core::Status s = RequestPurge(dir); !s.ok()) {
      return s.WithContext("leaving a purge request");
    }
  }
  // Inbox files hold event JSON too, temporary ones included. A writer that
  // checked consent just before config.yaml changed may still be finishing
  // one: sweep again after a moment.
  auto swept = RemoveInboxFiles(dir);
  if (!swept.ok()) return swept.status().WithContext("purging the inbox");
  std::this_thread::sleep_for(kOptOutInboxGrace);
  auto again = RemoveInboxFiles(dir);
  if (!again.ok()) return again.status().WithContext("purging the inbox");
  if (!result.deferred) {
    // A request an earlier opt-out left is carried out now.
    std::filesystem::remove(PurgeRequestPath(dir), ec);
    result.deleted = *purged;
  }
  return result;
}

}  // namespace zenml::client
