#include "spool/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

namespace zenml::spool {
namespace {

// Creates every file LevelDB makes (tables, logs, MANIFEST, LOCK, LOG) with
// mode 0600 regardless of the umask: LevelDB opens them 0644 & ~umask, and a
// library must not change the process umask. The 0700 directory closes the
// window between create and chmod.
//
// On the default POSIX env it also reads table files with pread(2) instead of
// mmap (PreadFile below): LevelDB 1.23 maps up to 1,000 table files
// read-only, and every page the uploader touches while draining stays in its
// resident set, so its RSS grew with the spool (140 MiB after draining 1M
// events, docs/BENCHMARKS.md). With pread the bytes go through the block
// cache (Options::block_cache, bounded) and the kernel's page cache, which
// is not charged to the process.
class PrivateFilesEnv final : public leveldb::EnvWrapper {
 public:
  // `pread_tables`: serve NewRandomAccessFile with PreadFile. Only for the
  // default POSIX env: an in-memory or fault-injecting env must see every
  // read itself.
  PrivateFilesEnv(leveldb::Env* target, bool pread_tables)
      : EnvWrapper(target), pread_tables_(pread_tables) {}

  leveldb::Status NewRandomAccessFile(const std::string& f,
                                      leveldb::RandomAccessFile** r) override {
    if (!pread_tables_) return target()->NewRandomAccessFile(f, r);
    *r = nullptr;
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(f, errno);
    *r = new PreadFile(f, fd);
    return leveldb::Status::OK();
  }

  leveldb::Status NewWritableFile(const std::string& f,
                                  leveldb::WritableFile** r) override {
    return Private(f, target()->NewWritableFile(f, r));
  }
  leveldb::Status NewAppendableFile(const std::string& f,
                                    leveldb::WritableFile** r) override {
    return Private(f, target()->NewAppendableFile(f, r));
  }
  leveldb::Status LockFile(const std::string& f,
                           leveldb::FileLock** l) override {
    return Private(f, target()->LockFile(f, l));
  }
  leveldb::Status NewLogger(const std::string& f,
                            leveldb::Logger** l) override {
    return Private(f, target()->NewLogger(f, l));
  }
  leveldb::Status CreateDir(const std::string& d) override {
    leveldb::Status s = target()->CreateDir(d);
    if (s.ok()) ::chmod(d.c_str(), 0700);  // RepairDB's lost/
    return s;
  }

 private:
  static leveldb::Status Private(const std::string& f, leveldb::Status s) {
    // Files of an in-memory env do not exist on disk: stat fails harmlessly.
    // chmod only when needed: it dirties the inode even when nothing changes,
    // and every dirty inode makes the next fdatasync's journal commit larger
    // (measured: 1.5x slower one-shot appends with an unconditional chmod).
    struct stat st {};
    if (s.ok() && ::stat(f.c_str(), &st) == 0 && (st.st_mode & 07777) != 0600) {
      ::chmod(f.c_str(), 0600);
    }
    return s;
  }

  static leveldb::Status ErrnoStatus(const std::string& f, int error) {
    if (error == ENOENT) {
      return leveldb::Status::NotFound(f,
                                       std::generic_category().message(error));
    }
    return leveldb::Status::IOError(f, std::generic_category().message(error));
  }

  // A table file read with pread(2), as LevelDB's own PosixRandomAccessFile
  // does once its mmap budget is spent. The descriptor stays open for the
  // file's life; LevelDB's table cache bounds how many are open at once
  // (Options::max_open_files). Thread-safe: pread has no file position.
  class PreadFile final : public leveldb::RandomAccessFile {
   public:
    PreadFile(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
    ~PreadFile() override { ::close(fd_); }

    leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                         char* scratch) const override {
      size_t done = 0;
      while (done < n) {
        const ssize_t got = ::pread(fd_, scratch + done, n - done,
                                    static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
          *result = leveldb::Slice(scratch, 0);
          return ErrnoStatus(name_, errno);
        }
        if (got == 0) break;  // end of file: a short result, as LevelDB's
        done += static_cast<size_t>(got);
      }
      *result = leveldb::Slice(scratch, done);
      return leveldb::Status::OK();
    }

   private:
    const std::string name_;
    const int fd_;
  };

  const bool pread_tables_;
};

// LevelDB's info log, appended to `LOG` across opens. Without an info_log
// LevelDB renames LOG to LOG.old and creates a new LOG on every open: a
// rename and a new inode per one-shot process, paid inside the next fsync.
// Rotated by OpenLocked once it passes kMaxInfoLogBytes. Thread-safe (LevelDB
// logs from its background thread too).
class AppendingLogger final : public leveldb::Logger {
 public:
  explicit AppendingLogger(leveldb::WritableFile* file) : file_(file) {}
  ~AppendingLogger() override { file_->Close(); }

  void Logv(const char* format, std::va_list ap) override {
    char buf[1024];
    const auto now = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            now.time_since_epoch())
                            .count() %
                        1'000'000;
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    int n = std::snprintf(
        buf, sizeof(buf), "%04d/%02d/%02d-%02d:%02d:%02d.%06lld %d ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, static_cast<long long>(micros), ::getpid());
    if (n < 0) return;
    std::va_list copy;
    va_copy(copy, ap);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    const int m = std::vsnprintf(buf + n, sizeof(buf) - static_cast<size_t>(n),
                                 format, copy);
#pragma GCC diagnostic pop
    va_end(copy);
    if (m < 0) return;
    std::string line(buf,
                     std::min(sizeof(buf) - 1, static_cast<size_t>(n + m)));
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    file_->Append(line);
    file_->Flush();
  }

 private:
  std::mutex mu_;
  std::unique_ptr<leveldb::WritableFile> file_;
};

}  // namespace

void LogLine(leveldb::Logger* logger, const char* format, ...) {
  if (logger == nullptr) return;
  std::va_list ap;
  va_start(ap, format);
  logger->Logv(format, ap);
  va_end(ap);
}

std::unique_ptr<leveldb::Env> NewPrivateFilesEnv(leveldb::Env* target,
                                                 bool pread_tables) {
  return std::make_unique<PrivateFilesEnv>(target, pread_tables);
}

std::unique_ptr<leveldb::Logger> NewAppendingLogger(
    leveldb::WritableFile* file) {
  return std::make_unique<AppendingLogger>(file);
}

}  // namespace zenml::spool
