// The inbox file format. A writer that cannot get the database in time
// writes its batch as one inbox file (spool.h, AppendToInbox); the next
// writing transaction ingests it. Internal to zenml::spool.
//
// Format: magic "ZSPI1\n", count (8 bytes big-endian), then per message its
// time in ms (8), its length (8) and its bytes. Written whole to a temporary
// name (".tmp-" + name) and renamed, so a reader never sees a partial file
// unless damage cut it; DecodeInbox then salvages the whole messages before
// the damage. Pure functions (ReadWholeFile reads through an Env);
// thread-safe.

#ifndef ZENML_SPOOL_INBOX_H_
#define ZENML_SPOOL_INBOX_H_

#include <leveldb/env.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace zenml::spool {

using core::Status;

inline constexpr std::string_view kInboxSuffix = ".inbox";
inline constexpr std::string_view kInboxTmpPrefix = ".tmp-";
// Appended to an inbox file that could not be read, set aside for a human
// (its events are counted lost); a purge deletes it.
inline constexpr std::string_view kInboxBadSuffix = ".bad";
inline constexpr std::string_view kInboxMagic = "ZSPI1\n";

std::string EncodeInbox(std::span<const std::string> messages, int64_t time_ms);

struct PendingEvent {
  int64_t time_ms = 0;
  std::string json;
};

// Appends the events of inbox file `data` to `out`; true if the file is
// whole. A damaged (cut short) file appends the events before the damage and
// sets `*declared` to the count its header gives (0 if it has none).
bool DecodeInbox(std::string_view data, std::vector<PendingEvent>* out,
                 uint64_t* declared = nullptr);

Status ReadWholeFile(leveldb::Env* env, const std::string& fname,
                     std::string* out);

// The event count in the header of inbox file `fname` (reads its first 14
// bytes only); 0 if it cannot be read or has no header.
uint64_t InboxDeclaredCount(leveldb::Env* env, const std::string& fname);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_INBOX_H_
