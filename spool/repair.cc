#include "spool/repair.h"

#include <leveldb/db.h>
#include <leveldb/env.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "spool/keys.h"

namespace zenml::spool {
namespace {

// A number-named LevelDB file: "000012.log", "000013.ldb".
bool IsNumbered(std::string_view name, std::string_view suffix) {
  if (!name.ends_with(suffix) || name.size() == suffix.size()) return false;
  const std::string_view digits = name.substr(0, name.size() - suffix.size());
  return std::all_of(digits.begin(), digits.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// Forwards RepairDB's info log and notes the lines that mean loss
// (leveldb/db/repair.cc, stable since 2011): "Table #N: dropped: ...",
// "Table #N: K entries <error>" (then RepairTable keeps only the readable
// part), "Log #N: dropping K bytes; ...", "Log #N: ignoring ...".
class ReportingLogger final : public leveldb::Logger {
 public:
  ReportingLogger(leveldb::Logger* target, RepairReport* report)
      : target_(target), report_(report) {}

  void Logv(const char* format, std::va_list ap) override {
    char buf[512];
    std::va_list copy;
    va_copy(copy, ap);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    const int n = std::vsnprintf(buf, sizeof(buf), format, copy);
#pragma GCC diagnostic pop
    va_end(copy);
    if (n > 0)
      Note(std::string_view(buf, std::min<size_t>(n, sizeof(buf) - 1)));
    if (target_ != nullptr) target_->Logv(format, ap);
  }

 private:
  void Note(std::string_view line) {
    if (line.starts_with("Table #")) {
      if (line.find(": dropped") != std::string_view::npos) {
        report_->tables_damaged = true;
      } else if (line.find(" entries ") != std::string_view::npos &&
                 !line.ends_with(" entries OK") &&
                 line.find(" entries repaired") == std::string_view::npos) {
        report_->tables_damaged = true;
      }
    } else if (line.starts_with("Log #")) {
      if (line.find(": dropping ") != std::string_view::npos ||
          line.find(": ignoring ") != std::string_view::npos) {
        report_->logs_damaged = true;
      }
    }
  }

  leveldb::Logger* const target_;
  RepairReport* const report_;
};

bool ReadFile(leveldb::Env* env, const std::string& fname, std::string* out) {
  leveldb::SequentialFile* raw = nullptr;
  if (!env->NewSequentialFile(fname, &raw).ok()) return false;
  std::unique_ptr<leveldb::SequentialFile> file(raw);
  std::string scratch(64 << 10, '\0');
  for (;;) {
    leveldb::Slice chunk;
    if (!file->Read(scratch.size(), &chunk, scratch.data()).ok()) return false;
    if (chunk.empty()) return true;
    out->append(chunk.data(), chunk.size());
  }
}

// The high byte of an append time a system clock holds (keys.h).
bool TimeHighByte(char c) { return c == '\x00' || c == '\xff'; }

// Whether `data` holds, from `pos`, a varint32 length and what an e/ value
// of that length looks like: whole and matching its CRC, or (its JSON
// damaged, or split by a log block header) a header of the right shape.
bool EventValueAt(const std::string& data, size_t pos) {
  uint32_t length = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (pos >= data.size()) return false;
    const auto byte = static_cast<unsigned char>(data[pos++]);
    length |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) != 0) continue;
    if (data.size() - pos < length) return false;
    const std::string_view bytes = std::string_view(data).substr(pos, length);
    const auto value = DecodeEventValue(bytes);
    if (!value) return false;
    if (value->intact) return true;
    return TimeHighByte(bytes[value->totals ? 17 : 0]);
  }
  return false;
}

}  // namespace

bool HasDatabaseFiles(leveldb::Env* env, const std::string& db_path) {
  std::vector<std::string> children;
  if (!env->GetChildren(db_path, &children).ok()) return false;
  for (const std::string& name : children) {
    if (IsNumbered(name, ".ldb") || IsNumbered(name, ".sst") ||
        IsNumbered(name, ".log") || name.starts_with("MANIFEST-")) {
      return true;
    }
  }
  return false;
}

void ScanLogBytesForEvents(const std::string& data, std::set<uint64_t>* live) {
  // A WriteBatch entry: tag (1 = value, 0 = deletion), varint32 key length
  // (10 for "e/" + 8 bytes: one byte, 0x0a), the key. Log block headers (7
  // bytes every 32 KiB) may split an entry: that one is missed.
  constexpr size_t kEntry = 2 + 2 + 8;
  size_t pos = 0;
  while ((pos = data.find("\x0a"
                          "e/",
                          pos)) != std::string::npos) {
    if (pos == 0 || data.size() - pos < kEntry - 1) {
      ++pos;
      continue;
    }
    const unsigned char tag = static_cast<unsigned char>(data[pos - 1]);
    const auto seq = DecodeFixed64BE(std::string_view(data).substr(pos + 3, 8));
    if (seq && tag == 0) {
      live->erase(*seq);
      pos += 11;
    } else if (seq && tag == 1 && EventValueAt(data, pos + 11)) {
      // Only a put followed by what looks like its value: the three bytes
      // also occur by chance inside other bytes (a spool of 1,000 events
      // gave a "sequence" of 15,269,040), and each such sequence would
      // count as an event lost. A damaged value still counts: that event
      // is the likeliest to be lost.
      live->insert(*seq);
      pos += 11;
    } else {
      ++pos;
    }
  }
}

leveldb::Status RepairDatabase(const std::string& db_path,
                               leveldb::Options options, RepairReport* report) {
  leveldb::Env* env = options.env ? options.env : leveldb::Env::Default();
  std::vector<std::string> children;
  std::vector<std::pair<uint64_t, std::string>> logs;
  if (env->GetChildren(db_path, &children).ok()) {
    for (const std::string& name : children) {
      if (IsNumbered(name, ".log")) {
        logs.emplace_back(std::strtoull(name.c_str(), nullptr, 10), name);
      }
    }
  }
  std::sort(logs.begin(), logs.end());
  for (const auto& [number, name] : logs) {
    std::string data;
    if (!ReadFile(env, db_path + "/" + name, &data)) {
      report->scan_failed = true;
      continue;
    }
    ScanLogBytesForEvents(data, &report->log_live_events);
  }
  ReportingLogger logger(options.info_log, report);
  options.info_log = &logger;
  return leveldb::RepairDB(db_path, options);
}

}  // namespace zenml::spool
