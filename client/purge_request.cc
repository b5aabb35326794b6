#include "client/purge_request.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "core/atomic_file.h"

namespace zenml::client {
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

}  // namespace zenml::client
