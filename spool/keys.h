// Key and value encoding of the spool's LevelDB database (DESIGN.md "Spool
// keys"). Internal to zenml::spool; exposed in a header so tests can check the
// order and the tools can decode keys.
//
//   e/<8-byte big-endian seq>  -> <8-byte big-endian append time, ms>
//                                 <4-byte big-endian CRC-32 of the JSON> JSON
//   d/<8-byte big-endian seq>  -> JSON {status, reason, at, message}
//   m/<name>                   -> metadata (integers as 8-byte big-endian)
//   i/<inbox file name>        -> "" (marker: that inbox file is ingested)
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
inline constexpr std::string_view kMetaPrefix = "m/";
inline constexpr std::string_view kInboxMarkerPrefix = "i/";

// Metadata keys.
inline constexpr std::string_view kMetaNextSeq = "m/next_seq";
inline constexpr std::string_view kMetaCount = "m/count";
inline constexpr std::string_view kMetaBytes = "m/bytes";
inline constexpr std::string_view kMetaDeadLetters = "m/dead_letters";
inline constexpr std::string_view kMetaFirstSeq = "m/first_seq";  // hint
inline constexpr std::string_view kMetaFormat = "m/format_version";
inline constexpr std::string_view kMetaWriteErrors = "m/write_errors";
inline constexpr std::string_view kMetaDeletesSinceCompact =
    "m/deletes_since_compact";
inline constexpr std::string_view kMetaLastUpload = "m/last_upload";
inline constexpr std::string_view kMetaNotBefore = "m/not_before";
// "m/drop/<DropReasonName>".
inline constexpr std::string_view kMetaDropPrefix = "m/drop/";

// The on-disk format this code writes. A spool with a higher version is
// refused rather than misread.
inline constexpr uint64_t kFormatVersion = 1;

// Size of the header (append time, CRC) of an e/ value.
inline constexpr size_t kEventHeaderSize = 12;

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

// An e/ value: append time (ms since the Unix epoch), CRC, the message JSON.
std::string EncodeEventValue(int64_t append_time_ms, std::string_view json);
// Appends the encoding to `out` (no allocation when `out` has room).
void AppendEventValue(int64_t append_time_ms, std::string_view json,
                      std::string* out);
struct EventValue {
  int64_t append_time_ms = 0;
  std::string_view json;  // points into the decoded value
  bool intact = false;    // the JSON matches its CRC
};
// nullopt if the value is shorter than the header.
std::optional<EventValue> DecodeEventValue(std::string_view value);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_KEYS_H_
