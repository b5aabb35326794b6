// PowerCutEnv: a leveldb::Env over the real disk that models what a power
// cut keeps, as LevelDB's own fault_injection_test does: file data past the
// file's last Sync() is lost, and so is every name (file or directory)
// created in a directory that was not fsynced after the name appeared,
// together with everything under a lost directory. A directory counts as
// synced when the spool reports an fsync of it (spool::DirSyncer, which
// this env registers for itself) or when a MANIFEST file in it is synced
// (LevelDB's PosixWritableFile syncs its directory then). Renames carry a
// name's state to the new name (LevelDB's model); removals are not undone.
//
// CutAfter(n): the n-th mutating operation from now on (create, append,
// sync, rename, remove, mkdir, directory sync) and every later one fails
// with an IOError and changes nothing: the machine is off. PowerCut() then
// applies the losses on disk; the caller must have closed every database
// first. Thread-safe (LevelDB's background thread writes too).

#ifndef ZENML_TESTS_SPOOL_POWER_CUT_ENV_H_
#define ZENML_TESTS_SPOOL_POWER_CUT_ENV_H_

#include <leveldb/env.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>

#include "spool/dirs.h"

namespace zenml::spool {

class PowerCutEnv final : public leveldb::EnvWrapper, public DirSyncer {
 public:
  PowerCutEnv() : EnvWrapper(leveldb::Env::Default()) {
    SetDirSyncer(this, this);
  }
  ~PowerCutEnv() override { SetDirSyncer(this, nullptr); }

  // Fails the n-th mutating operation from now on and all after it; n <= 0:
  // never (counting only).
  void CutAfter(long n) {
    std::lock_guard<std::mutex> lock(mu_);
    countdown_ = n;
    ops_ = 0;
    dead_ = false;
  }
  long ops() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ops_;
  }
  bool dead() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dead_;
  }

  // Applies the losses of a power cut now, forgets all state, and powers the
  // machine on again (nothing fails until the next CutAfter).
  void PowerCut() {
    std::lock_guard<std::mutex> lock(mu_);
    std::error_code ec;
    for (const auto& [path, state] : files_) {
      if (std::filesystem::exists(path, ec)) {
        std::filesystem::resize_file(path, state.synced, ec);
      }
    }
    for (const auto& [dir, names] : unsynced_) {
      for (const auto& name : names) std::filesystem::remove_all(name, ec);
    }
    Forget();
  }

  // Everything on disk now counts as durable (a spool prepared before).
  void Forget() {
    files_.clear();
    unsynced_.clear();
    countdown_ = 0;
    dead_ = false;
  }

  // DirSyncer
  leveldb::Status SyncDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Tick()) return Cut(dir);
    unsynced_.erase(Normal(dir));
    return leveldb::Status::OK();
  }

  leveldb::Status NewWritableFile(const std::string& f,
                                  leveldb::WritableFile** r) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Tick()) return Cut(f);
    leveldb::Status s = target()->NewWritableFile(f, r);
    if (!s.ok()) return s;
    files_[f] = {0, 0};
    Created(f);
    *r = new File(this, f, *r);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& f,
                                    leveldb::WritableFile** r) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Tick()) return Cut(f);
    uint64_t size = 0;
    const bool existed = target()->GetFileSize(f, &size).ok();
    leveldb::Status s = target()->NewAppendableFile(f, r);
    if (!s.ok()) return s;
    if (!files_.contains(f)) files_[f] = {size, size};
    if (!existed) Created(f);
    *r = new File(this, f, *r);
    return s;
  }
  leveldb::Status RenameFile(const std::string& from,
                             const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Tick()) return Cut(to);
    leveldb::Status s = target()->RenameFile(from, to);
    if (!s.ok()) return s;
    if (auto it = files_.find(from); it != files_.end()) {
      files_[to] = it->second;
      files_.erase(it);
    }
    if (unsynced_[Parent(from)].erase(Normal(from)) != 0) Created(to);
    return s;
  }
  leveldb::Status RemoveFile(const std::string& f) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Tick()) return Cut(f);
    leveldb::Status s = target()->RemoveFile(f);
    if (s.ok()) {
      files_.erase(f);
      unsynced_[Parent(f)].erase(Normal(f));
    }
    return s;
  }
  leveldb::Status CreateDir(const std::string& d) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Tick()) return Cut(d);
    leveldb::Status s = target()->CreateDir(d);
    if (s.ok()) Created(d);
    return s;
  }

 private:
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
  };

  class File final : public leveldb::WritableFile {
   public:
    File(PowerCutEnv* env, std::string name, leveldb::WritableFile* base)
        : env_(env), name_(std::move(name)), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      std::lock_guard<std::mutex> lock(env_->mu_);
      if (env_->Tick()) return env_->Cut(name_);
      leveldb::Status s = base_->Append(data);
      if (s.ok()) env_->files_[name_].size += data.size();
      return s;
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override {
      if (env_->dead()) return env_->Cut(name_);
      return base_->Flush();
    }
    leveldb::Status Sync() override {
      std::lock_guard<std::mutex> lock(env_->mu_);
      if (env_->Tick()) return env_->Cut(name_);
      leveldb::Status s = base_->Sync();
      if (!s.ok()) return s;
      auto& state = env_->files_[name_];
      state.synced = state.size;
      // LevelDB's PosixWritableFile fsyncs the directory of a MANIFEST.
      if (std::filesystem::path(name_).filename().string().starts_with(
              "MANIFEST")) {
        env_->unsynced_.erase(Parent(name_));
      }
      return s;
    }

   private:
    PowerCutEnv* env_;
    std::string name_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };

  static std::string Normal(const std::string& p) {
    std::string s = std::filesystem::path(p).lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
  }
  static std::string Parent(const std::string& p) {
    return Normal(std::filesystem::path(Normal(p)).parent_path().string());
  }
  void Created(const std::string& name) {
    unsynced_[Parent(name)].insert(Normal(name));
  }

  // Under mu_: counts a mutating operation; true if the power is off.
  bool Tick() {
    if (dead_) return true;
    ++ops_;
    if (countdown_ > 0 && ops_ >= countdown_) dead_ = true;
    return dead_;
  }
  leveldb::Status Cut(const std::string& what) {
    return leveldb::Status::IOError(what, "power cut");
  }

  mutable std::mutex mu_;
  long countdown_ = 0;
  long ops_ = 0;
  bool dead_ = false;
  std::map<std::string, FileState> files_;
  // Directory -> names created in it since its last sync.
  std::map<std::string, std::set<std::string>> unsynced_;
};

}  // namespace zenml::spool

#endif  // ZENML_TESTS_SPOOL_POWER_CUT_ENV_H_
