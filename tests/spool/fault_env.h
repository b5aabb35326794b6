// FaultEnv: a leveldb::Env wrapper that fails the Nth file write or sync
// from now on (leveldb's fault_injection_test style), until Heal(). Shared by
// the spool's fault tests and the uploader's request feed tests; over an
// in-memory env no disk is involved.

#ifndef ZENML_TESTS_SPOOL_FAULT_ENV_H_
#define ZENML_TESTS_SPOOL_FAULT_ENV_H_

#include <leveldb/env.h>

#include <atomic>
#include <memory>
#include <string>

namespace zenml::spool {

// Fails every write/sync once `countdown` reaches zero, until Heal().
class FaultEnv final : public leveldb::EnvWrapper {
 public:
  explicit FaultEnv(leveldb::Env* base) : EnvWrapper(base) {}

  void FailFromNthWrite(int n) { countdown_ = n; }
  void Heal() { countdown_ = -1; }
  int failures() const { return failures_; }

  // True if this write must fail.
  bool Trip() {
    int c = countdown_.load();
    while (c > 0 && !countdown_.compare_exchange_weak(c, c - 1)) {
    }
    if (c == 1 || c == 0) {
      countdown_ = 0;
      ++failures_;
      return true;
    }
    return false;
  }

  leveldb::Status NewWritableFile(const std::string& f,
                                  leveldb::WritableFile** r) override {
    return Wrap(target()->NewWritableFile(f, r), r);
  }
  leveldb::Status NewAppendableFile(const std::string& f,
                                    leveldb::WritableFile** r) override {
    return Wrap(target()->NewAppendableFile(f, r), r);
  }

 private:
  class File final : public leveldb::WritableFile {
   public:
    File(FaultEnv* env, leveldb::WritableFile* base) : env_(env), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (env_->Trip()) return leveldb::Status::IOError("injected write fault");
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      if (env_->Trip()) return leveldb::Status::IOError("injected sync fault");
      return base_->Sync();
    }

   private:
    FaultEnv* env_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };

  leveldb::Status Wrap(leveldb::Status s, leveldb::WritableFile** r) {
    if (s.ok()) *r = new File(this, *r);
    return s;
  }

  std::atomic<int> countdown_{-1};
  std::atomic<int> failures_{0};
};

}  // namespace zenml::spool

#endif  // ZENML_TESTS_SPOOL_FAULT_ENV_H_
