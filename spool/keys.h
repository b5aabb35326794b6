// Key and value encoding of the spool's LevelDB database (DESIGN.md "Spool
// keys"). Internal to zenml::spool; exposed in a header so tests can check the
// order and the tools can decode keys.
//
//   e/<8-byte big-endian seq>  -> <8-byte big-endian append time, ms>
//                                 <4-byte big-endian CRC-32 of the JSON> JSON
//                                 or, the last event of an Append (format 3):
//                                 0x01 <8-byte count> <8-byte bytes> and the
//                                 same time, CRC and JSON (AppendTotals)
//   d/<8-byte big-endian seq>  -> JSON {status, reason, at, message}
//   c/<name>                   -> metadata (integers as 8-byte big-endian);
//                                 keys added since format 2 (c/limit/...,
//                                 c/repairs, c/loss_unknown) read as absent
//                                 = default, so they need no migration
//   i/<inbox file name>        -> "" (marker: that inbox file is ingested)
//   m/format_version           -> only a guard for format-1 programs, in a
//                                 table of its own (below)
//
// The metadata sorts before the events. When the counters sorted after all
// events (format 1 kept them under m/), the key range of every table of Ack
// tombstones reached past the last pending event, and each level-0
// compaction rewrote every event still pending (0.4-0.7 s each during a
// 1,000,000-event drain). Under c/ a table of tombstones spans only the
// metadata and the drained range.
//
// An Append writes no c/ key when only the append side's counters change
// (c/next_seq, c/count, c/bytes, c/first_seq: format 3). Its last event
// carries the spool's count and bytes after it (AppendTotals), and opening
// the spool rolls the c/ counters forward from the last event when its
// sequence is at or past c/next_seq (LoadMeta); anything there that is not
// such an event, with totals that add up, makes the open recount. So a
// table of appended
// events holds only its own e/ keys, and the tables of successive writers do
// not overlap: LevelDB moves them down a level without rewriting them. In
// format 2, where every Append updated c/, every table spanned from c/ to its
// last event, and a drain's open first rewrote every table a crowd of short
// writers had left (98 level-0 tables of a 1,000,000-event spool: 4.2 s of
// compaction, 76 MB written twice, for events deleted seconds later). Every
// other write (Ack, DeadLetter, a bound's drop, a recount) writes the append
// side's counters too, so c/next_seq passes every event that was there.
//
// Big-endian sequences make LevelDB's bytewise order the FIFO order. The
// append-time prefix lets the age bound read a time without parsing JSON; Peek
// strips the header, so callers see the message exactly as it will be sent.
// The CRC exists because RepairDB keeps log records whose payload fails its
// checksum (LevelDB 1.23 reads logs with checksums off during repair): after a
// repair, events whose CRC does not match are removed and counted as lost
// instead of being sent as garbage.
//
// Pure functions; thread-safe.

#ifndef ZENML_SPOOL_KEYS_H_
#define ZENML_SPOOL_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zenml::spool {

inline constexpr std::string_view kEventPrefix = "e/";
inline constexpr std::string_view kDeadLetterPrefix = "d/";
inline constexpr std::string_view kMetaPrefix = "c/";
inline constexpr std::string_view kInboxMarkerPrefix = "i/";

// Metadata keys.
inline constexpr std::string_view kMetaNextSeq = "c/next_seq";
inline constexpr std::string_view kMetaCount = "c/count";
inline constexpr std::string_view kMetaBytes = "c/bytes";
inline constexpr std::string_view kMetaDeadLetters = "c/dead_letters";
inline constexpr std::string_view kMetaFirstSeq = "c/first_seq";  // hint
inline constexpr std::string_view kMetaFormat = "c/format_version";
inline constexpr std::string_view kMetaWriteErrors = "c/write_errors";
inline constexpr std::string_view kMetaDeletesSinceCompact =
    "c/deletes_since_compact";
inline constexpr std::string_view kMetaLastUpload = "c/last_upload";
inline constexpr std::string_view kMetaNotBefore = "c/not_before";
// "c/drop/<DropReasonName>".
inline constexpr std::string_view kMetaDropPrefix = "c/drop/";
// The spool's bounds (SpoolLimits), absent until a writer sets them.
inline constexpr std::string_view kMetaLimitMaxEvents = "c/limit/max_events";
inline constexpr std::string_view kMetaLimitMaxBytes = "c/limit/max_bytes";
inline constexpr std::string_view kMetaLimitMaxAgeS = "c/limit/max_age_s";
// Repairs so far, and 1 once one of them lost an uncountable number of events.
inline constexpr std::string_view kMetaRepairs = "c/repairs";
inline constexpr std::string_view kMetaLossUnknown = "c/loss_unknown";
// Dead letters (spool/dead_letters.h): their stored bytes, their bounds
// (absent until a writer sets them) and drops by reason
// ("c/dead_drop/<DropReasonName>").
inline constexpr std::string_view kMetaDeadLetterBytes = "c/dead_letter_bytes";
inline constexpr std::string_view kMetaLimitDeadMaxCount =
    "c/limit/dead_max_count";
inline constexpr std::string_view kMetaLimitDeadMaxBytes =
    "c/limit/dead_max_bytes";
inline constexpr std::string_view kMetaLimitDeadMaxAgeS =
    "c/limit/dead_max_age_s";
inline constexpr std::string_view kMetaDeadDropPrefix = "c/dead_drop/";

// The on-disk format this code writes. A spool with a higher version is
// refused rather than misread. Format 1 had the same keys and values but its
// metadata under m/; opening one migrates it (one WriteBatch). Format 2 had
// no AppendTotals and needs nothing else: the first Append into it sets
// format 3 (c/ and m/format_version) in its own batch, with every counter;
// only later Appends defer them. Reading it changes nothing, so a format-2
// program can share it until then. After that a format-2 program refuses
// the spool: it would take the c/ counters an Append left behind for the
// truth and give out sequence numbers already used.
inline constexpr uint64_t kFormatVersion = 3;

// Format 1's metadata prefix. Later formats keep m/format_version at 2 or
// more: a format-1 program reads it, finds a newer format and refuses the
// spool, instead of taking the missing m/ counters for a new, empty spool
// and reusing sequence numbers.
//
// It sorts after every event, so a table holding it and any other key would
// span the whole range of the events, and LevelDB would merge every table
// of events that reaches its level with it instead of moving the table
// down. A new spool writes it first, alone, and flushes it to a table of its
// own (CreateDatabaseLocked); nothing rewrites it after: the first Append
// into a format-2 spool leaves it at 2, and a purge compacts only the keys
// before m/.
inline constexpr std::string_view kLegacyMetaPrefix = "m/";
inline constexpr std::string_view kLegacyMetaFormat = "m/format_version";

// Size of the header (append time, CRC) of an e/ value, and of the header of
// one with AppendTotals (marker, count, bytes, append time, CRC).
inline constexpr size_t kEventHeaderSize = 12;
inline constexpr size_t kEventTotalsHeaderSize = 29;
// The first byte of an e/ value with AppendTotals. A plain value starts with
// its append time's high byte, 0x00 or 0xFF for any time a system clock can
// hold (the encoders clamp to that range), so the two never meet.
inline constexpr char kEventTotalsMarker = 0x01;
// The largest append time (ms) the encoders keep; beyond it, and below its
// negation, they clamp: the times a system clock's nanoseconds can hold.
inline constexpr int64_t kMaxAppendTimeMs = INT64_MAX / 1'000'000;

// 8-byte big-endian encoding.
std::string EncodeFixed64BE(uint64_t value);
// Decodes exactly 8 bytes; nullopt if `bytes` is not 8 long.
std::optional<uint64_t> DecodeFixed64BE(std::string_view bytes);

// "e/" + seq, "d/" + seq.
std::string EventKey(uint64_t seq);
std::string DeadLetterKey(uint64_t seq);
// "i/" + name.
std::string InboxMarkerKey(std::string_view file_name);

// The sequence of a key with `prefix` ("e/" or "d/"); nullopt if the key has
// another prefix or a wrong length.
std::optional<uint64_t> DecodeSeqKey(std::string_view key,
                                     std::string_view prefix);

// The spool's pending events and their JSON bytes right after the event
// that carries them (the last of an Append), for LoadMeta's roll-forward.
struct AppendTotals {
  uint64_t count = 0;
  uint64_t bytes = 0;
  friend bool operator==(const AppendTotals&, const AppendTotals&) = default;
};

// An e/ value: append time (ms since the Unix epoch, clamped to what a
// system clock holds), CRC, the message JSON; with `totals`, the marker and
// the totals first.
std::string EncodeEventValue(int64_t append_time_ms, std::string_view json,
                             const std::optional<AppendTotals>& totals = {});
// Appends the encoding to `out` (no allocation when `out` has room).
void AppendEventValue(int64_t append_time_ms, std::string_view json,
                      std::string* out,
                      const std::optional<AppendTotals>& totals = {});
struct EventValue {
  int64_t append_time_ms = 0;
  std::string_view json;  // points into the decoded value
  bool intact = false;    // the JSON matches its CRC
  std::optional<AppendTotals> totals;
};
// nullopt if the value is shorter than its header.
std::optional<EventValue> DecodeEventValue(std::string_view value);
// The size of the JSON in an e/ value (0 if the value is shorter than its
// header), without checking the CRC.
size_t EventJsonSize(std::string_view value);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_KEYS_H_
