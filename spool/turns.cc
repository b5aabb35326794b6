#include "spool/turns.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace zenml::spool {

namespace {

int OpenLockFile(const std::string& path, bool create) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
  if (create) flags |= O_CREAT;
  return ::open(path.c_str(), flags, 0600);
}

// Keeps `*fd` if it is open on a file still in the directory (not removed
// with the directory by someone cleaning up); (re)opens it otherwise.
void RefreshFd(int* fd, const std::string& path, bool create) {
  if (*fd >= 0) {
    struct stat st {};
    if (::fstat(*fd, &st) == 0 && st.st_nlink > 0) return;
    ::close(*fd);
    *fd = -1;
  }
  *fd = OpenLockFile(path, create);
}

// Whether another descriptor holds a lock on `fd`'s file that `probe`
// (LOCK_SH or LOCK_EX) conflicts with.
bool Locked(int fd, int probe) {
  if (fd < 0) return false;
  if (::flock(fd, probe | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

// Takes `lock` (LOCK_SH or LOCK_EX) on `path` through `*fd` if it is free;
// leaves it to the next call otherwise.
void TakeIfFree(int* fd, const std::string& path, int lock) {
  if (*fd < 0) {
    *fd = OpenLockFile(path, /*create=*/false);
    if (*fd < 0) return;
  }
  // Already ours: flock converts nothing. Held in conflict: fails.
  (void)::flock(*fd, lock | LOCK_NB);
}

// Unlock before closing: a child forked meanwhile shares the descriptor,
// and closing only ours would leave the lock held until it exits.
void Drop(int* fd) {
  if (*fd < 0) return;
  ::flock(*fd, LOCK_UN);
  ::close(*fd);
  *fd = -1;
}

}  // namespace

Turns::Turns(const std::filesystem::path& dir)
    : path_((dir / kWaitersFileName).string()),
      writers_path_((dir / kWritersFileName).string()),
      lock_path_((dir / "spool" / "LOCK").string()) {}

Turns::~Turns() {
  Leave();
  if (check_fd_ >= 0) ::close(check_fd_);
  if (writer_check_fd_ >= 0) ::close(writer_check_fd_);
}

void Turns::Refresh(bool create) {
  RefreshFd(&check_fd_, path_, create);
  RefreshFd(&writer_check_fd_, writers_path_, create);
}

bool Turns::ReaderWaiting() { return Locked(check_fd_, LOCK_SH); }

bool Turns::WriterWaiting() { return Locked(writer_check_fd_, LOCK_EX); }

bool Turns::StepAside(const core::Clock* clock, core::MonoTime deadline) {
  while (ReaderWaiting()) {
    const auto now = clock->Monotonic();
    if (now >= deadline) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    clock->SleepFor(std::min<std::chrono::microseconds>(kStepAsidePoll, left));
  }
  return true;
}

bool Turns::DatabaseTaken() const {
  const int fd = ::open(lock_path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 0;
  // Closing any descriptor of a file drops this process's fcntl locks on
  // it; this process does not hold LOCK here (it closed the database).
  const bool taken =
      ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  return taken;
}

void Turns::Queue() { TakeIfFree(&queue_fd_, path_, LOCK_EX); }

void Turns::QueueWriter() {
  TakeIfFree(&writer_queue_fd_, writers_path_, LOCK_SH);
}

void Turns::Leave() {
  Drop(&queue_fd_);
  Drop(&writer_queue_fd_);
}

}  // namespace zenml::spool
