// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with everything
// in it when the object dies. ScopedEnv: sets or unsets an environment
// variable for one scope and restores it after. Not thread-safe (setenv).

#ifndef ZENML_TESTS_TESTING_TEMP_DIR_H_
#define ZENML_TESTS_TESTING_TEMP_DIR_H_

#include <filesystem>
#include <optional>
#include <string>

namespace zenml::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& child) const {
    return path_ / child;
  }

 private:
  std::filesystem::path path_;
};

class ScopedEnv {
 public:
  // value == nullopt unsets the variable.
  ScopedEnv(std::string name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Reads a whole file; empty if it cannot be read.
std::string ReadFile(const std::filesystem::path& path);
// Writes a whole file (truncating); aborts the test on failure.
void WriteFile(const std::filesystem::path& path, const std::string& content);

}  // namespace zenml::testing

#endif  // ZENML_TESTS_TESTING_TEMP_DIR_H_
