// The tables of a spool's database as LevelDB lists them
// ("leveldb.sstables"), read with LevelDB itself while no Spool has the
// database open. Its open replays the log: into a table of its own unless
// the last close left the log empty.
//
// A new spool's first table holds only the guard against format-1 programs
// (m/format_version, spool/keys.h); it is not one of the tables these tests
// count.

#ifndef ZENML_TESTS_SPOOL_TABLES_H_
#define ZENML_TESTS_SPOOL_TABLES_H_

#include <leveldb/db.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace zenml::spool {

// A table's level and its smallest and largest key, as LevelDB prints them:
// bytes that are not printable escaped as \xNN, so prefixes compare as
// they are.
struct TableRange {
  int level = 0;
  std::string smallest;
  std::string largest;

  // The format guard's table of its own.
  bool IsGuard() const {
    return smallest.starts_with("m/") && largest.starts_with("m/");
  }
};

// Every table into `ranges`; false if the database cannot be opened.
inline bool ReadTableRanges(const std::filesystem::path& spool_dir,
                            std::vector<TableRange>* ranges) {
  ranges->clear();
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(leveldb::Options(), spool_dir.string(), &raw).ok()) {
    return false;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  std::string listing;
  if (!db->GetProperty("leveldb.sstables", &listing)) return false;
  // "--- level N ---" before each level's tables, then one line per table:
  // "<number>:<size>['<smallest>' @ <seq> : <type> .. '<largest>' @ <seq> :
  // <type>]".
  std::istringstream lines(listing);
  int level = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("--- level ")) {
      level = std::stoi(line.substr(10));
      continue;
    }
    const size_t open = line.find("['");
    const size_t middle = line.find(" .. '");
    if (open == std::string::npos || middle == std::string::npos) continue;
    const size_t smallest_end = line.rfind("' @", middle);
    const size_t largest_end = line.rfind("' @");
    ranges->push_back({level, line.substr(open + 2, smallest_end - open - 2),
                       line.substr(middle + 5, largest_end - middle - 5)});
  }
  return true;
}

// Every table; empty if the database cannot be opened.
inline std::vector<TableRange> TableRanges(
    const std::filesystem::path& spool_dir) {
  std::vector<TableRange> ranges;
  ReadTableRanges(spool_dir, &ranges);
  return ranges;
}

// How many level-0 tables hold anything but the format guard. UINT64_MAX
// if the database cannot be opened.
inline uint64_t Level0Tables(const std::filesystem::path& spool_dir) {
  std::vector<TableRange> ranges;
  if (!ReadTableRanges(spool_dir, &ranges)) return UINT64_MAX;
  uint64_t n = 0;
  for (const TableRange& t : ranges) {
    if (t.level == 0 && !t.IsGuard()) n++;
  }
  return n;
}

}  // namespace zenml::spool

#endif  // ZENML_TESTS_SPOOL_TABLES_H_
