#include "client/purge_request.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace zenml::client {
namespace {

core::Status Errno(const char* what, const std::filesystem::path& path) {
  return core::Status::IoError(std::string(what) + " " + path.string() + ": " +
                               std::strerror(errno));
}

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
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("creating", path);
  static constexpr char kText[] =
      "The user opted out while the spool was busy: the next process that "
      "opens it deletes every event, then this file.\n";
  bool ok = ::ftruncate(fd, 0) == 0 &&
            ::write(fd, kText, sizeof(kText) - 1) ==
                static_cast<ssize_t>(sizeof(kText) - 1) &&
            ::fsync(fd) == 0;
  core::Status s = ok ? core::Status::OK() : Errno("writing", path);
  ::close(fd);
  if (!s.ok()) return s;
  // The marker's name must survive a crash too.
  int dir = ::open(analytics_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Errno("opening", analytics_dir);
  ok = ::fsync(dir) == 0;
  s = ok ? core::Status::OK() : Errno("syncing", analytics_dir);
  ::close(dir);
  return s;
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
