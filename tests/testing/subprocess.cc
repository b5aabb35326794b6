#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace zenml::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> BuildEnv(const ProcessOptions& options) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) {
    if (v) {
      vars[k] = *v;
    } else {
      vars.erase(k);
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

// fork + exec with the given pipes wired to 0/1/2 (-1: /dev/null for stdin,
// inherit for out/err).
pid_t Start(const std::vector<std::string>& argv, const ProcessOptions& options,
            int in_fd, int out_fd, int err_fd) {
  std::vector<std::string> env = BuildEnv(options);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    if (in_fd >= 0) {
      dup2(in_fd, 0);
    } else {
      int devnull = open("/dev/null", O_RDONLY);
      dup2(devnull, 0);
    }
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    execve(cargv[0], cargv.data(), cenv.data());
    dprintf(2, "exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  return pid;
}

void Decode(int wstatus, ProcessResult& r) {
  if (WIFEXITED(wstatus)) {
    r.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    r.exit_code = -1;
    r.signal = WTERMSIG(wstatus);
  }
}

}  // namespace

std::string BinPath(const std::string& name) {
  return std::string(ZENML_BIN_DIR) + "/" + name;
}
std::string TestBinPath(const std::string& name) {
  return std::string(ZENML_TEST_BIN_DIR) + "/" + name;
}

ProcessResult Run(const std::vector<std::string>& argv,
                  const ProcessOptions& options) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    return {};
  }
  pid_t pid = Start(argv, options, in_pipe[0], out_pipe[1], err_pipe[1]);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  ProcessResult result;
  // Feed stdin from a thread so a child that writes a lot before reading
  // cannot deadlock us.
  std::thread feeder([fd = in_pipe[1], data = options.stdin_data] {
    signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = write(fd, data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fd);
  });

  auto deadline = Clock::now() + options.timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        continue;
      }
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err)
            .append(buf, static_cast<size_t>(got));
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  feeder.join();
  Decode(wstatus, result);
  return result;
}

Child::Child(const std::vector<std::string>& argv,
             const ProcessOptions& options) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return;
  pid_ = Start(argv, options, -1, out_pipe[1], -1);
  close(out_pipe[1]);
  out_fd_ = out_pipe[0];
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> Child::ReadLine(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0 || out_fd_ < 0) return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    char buf[4096];
    ssize_t got = read(out_fd_, buf, sizeof buf);
    if (got <= 0) {
      close(out_fd_);
      out_fd_ = -1;
      return std::nullopt;
    }
    buffer_.append(buf, static_cast<size_t>(got));
  }
}

void Child::Kill(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

ProcessResult Child::Wait(std::chrono::milliseconds timeout) {
  ProcessResult r;
  if (pid_ <= 0 || reaped_) return r;
  auto deadline = Clock::now() + timeout;
  int wstatus = 0;
  while (true) {
    pid_t got = waitpid(pid_, &wstatus, WNOHANG);
    if (got == pid_) break;
    if (Clock::now() > deadline) {
      r.timed_out = true;
      kill(pid_, SIGKILL);
      waitpid(pid_, &wstatus, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reaped_ = true;
  Decode(wstatus, r);
  return r;
}

}  // namespace zenml::testing
