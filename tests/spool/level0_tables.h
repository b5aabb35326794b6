// Level0Tables: how many level-0 tables a spool's database has, read with
// LevelDB itself while no Spool has the database open (an open of it
// replays the log, so call it when the last close left an empty one, or
// accept the table that replay adds). UINT64_MAX if it cannot be opened.

#ifndef ZENML_TESTS_SPOOL_LEVEL0_TABLES_H_
#define ZENML_TESTS_SPOOL_LEVEL0_TABLES_H_

#include <leveldb/db.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace zenml::spool {

inline uint64_t Level0Tables(const std::filesystem::path& spool_dir) {
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(leveldb::Options(), spool_dir.string(), &raw).ok()) {
    return UINT64_MAX;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  std::string files;
  if (!db->GetProperty("leveldb.num-files-at-level0", &files)) {
    return UINT64_MAX;
  }
  return std::stoull(files);
}

}  // namespace zenml::spool

#endif  // ZENML_TESTS_SPOOL_LEVEL0_TABLES_H_
