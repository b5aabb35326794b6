// Running the real executables from tests: Run() waits and captures stdout,
// stderr and the exit code; Spawn() starts a child the test can signal and
// reap (crash tests). Both exec directly (no shell).

#ifndef ZENML_TESTS_TESTING_SUBPROCESS_H_
#define ZENML_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zenml::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 if killed by a signal
  int signal = 0;      // the signal that ended it, else 0
  std::string out;
  std::string err;
  bool timed_out = false;
};

struct ProcessOptions {
  // Variables set (value) or removed (nullopt) on top of this process's env.
  std::map<std::string, std::optional<std::string>> env;
  std::string stdin_data;
  std::chrono::milliseconds timeout{60'000};  // then SIGKILL
};

// Path of a built executable: ZENML_BIN_DIR/<name>, or ZENML_TEST_BIN_DIR for
// test helpers.
std::string BinPath(const std::string& name);
std::string TestBinPath(const std::string& name);

// Runs argv[0] with argv, waits for it, returns what it printed.
ProcessResult Run(const std::vector<std::string>& argv,
                  const ProcessOptions& options = {});

// A child running in the background; killed (SIGKILL) and reaped on
// destruction if still running.
class Child {
 public:
  // Starts argv; stdout is readable through ReadLine(); stderr is inherited.
  Child(const std::vector<std::string>& argv,
        const ProcessOptions& options = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Reads one line of the child's stdout (without '\n'); nullopt at EOF or
  // after `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Kill(int sig);
  // Waits for exit; returns the wait status decoded like ProcessResult.
  ProcessResult Wait(
      std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  bool reaped_ = false;
};

}  // namespace zenml::testing

#endif  // ZENML_TESTS_TESTING_SUBPROCESS_H_
