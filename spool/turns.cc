#include "spool/turns.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace zenml::spool {

namespace {

int OpenWaiters(const std::string& path, bool create) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
  if (create) flags |= O_CREAT;
  return ::open(path.c_str(), flags, 0600);
}

}  // namespace

Turns::Turns(const std::filesystem::path& dir)
    : path_((dir / kWaitersFileName).string()) {}

Turns::~Turns() {
  Leave();
  if (check_fd_ >= 0) ::close(check_fd_);
}

void Turns::Refresh(bool create) {
  if (check_fd_ >= 0) {
    struct stat st {};
    // Still the file in the directory (not removed with the directory by
    // someone cleaning up): keep it.
    if (::fstat(check_fd_, &st) == 0 && st.st_nlink > 0) return;
    ::close(check_fd_);
    check_fd_ = -1;
  }
  check_fd_ = OpenWaiters(path_, create);
}

bool Turns::ReaderWaiting() {
  if (check_fd_ < 0) return false;
  if (::flock(check_fd_, LOCK_SH | LOCK_NB) == 0) {
    ::flock(check_fd_, LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

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

void Turns::Queue() {
  if (queue_fd_ < 0) {
    queue_fd_ = OpenWaiters(path_, /*create=*/false);
    if (queue_fd_ < 0) return;
  }
  // Already ours: flock converts nothing. Held by another reader: fails.
  (void)::flock(queue_fd_, LOCK_EX | LOCK_NB);
}

void Turns::Leave() {
  if (queue_fd_ < 0) return;
  // Unlock before closing: a child forked meanwhile shares the descriptor,
  // and closing only ours would leave the lock held until it exits.
  ::flock(queue_fd_, LOCK_UN);
  ::close(queue_fd_);
  queue_fd_ = -1;
}

}  // namespace zenml::spool
