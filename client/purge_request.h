// Purge request: a durable "purge pending" marker for a spool that was busy
// when the user opted out (docs/privacy.md, "Opting out").
//
// `zenml-analytics opt-out` turns consent off first, then purges the spool.
// When another process keeps the LevelDB database past the wait, it cannot
// purge it: it then writes `<analytics dir>/purge-requested` (fsynced, and
// the directory too), removes every inbox file itself, and returns. Every
// opener of the spool (the Client's writer before it writes, zenml-upload
// before it sends, zenml-spool-dump before it reads) calls
// HonourPurgeRequest() first: when the marker exists, it purges the spool and
// the inbox and only then removes the marker, so a crash in between leaves
// the request in place.
//
// This lives outside spool/ for now; it belongs in Spool's open path.
//
// Thread-safe (no state); each call touches the file system only.
// Failures are Status values; nothing throws.

#ifndef ZENML_CLIENT_PURGE_REQUEST_H_
#define ZENML_CLIENT_PURGE_REQUEST_H_

#include <cstdint>
#include <filesystem>

#include "core/result.h"
#include "core/status.h"
#include "spool/spool.h"

namespace zenml::client {

// `analytics_dir`/purge-requested.
std::filesystem::path PurgeRequestPath(
    const std::filesystem::path& analytics_dir);

// Whether the marker exists (one stat).
bool PurgeRequested(const std::filesystem::path& analytics_dir);

// Writes the marker durably (file and directory fsynced). IoError otherwise.
core::Status RequestPurge(const std::filesystem::path& analytics_dir);

// Removes every file in `analytics_dir`/inbox, whatever its name (ready and
// temporary files alike: both hold event JSON). Returns how many it removed;
// a file that vanished meanwhile is not an error.
core::Result<uint64_t> RemoveInboxFiles(
    const std::filesystem::path& analytics_dir);

// If the marker exists in `spool`'s directory: Spool::Purge(), then every
// inbox file, then the marker. OK when there is no marker or the purge is
// done; the purge's error (Busy when the database stays held) otherwise, and
// the marker stays for the next opener.
core::Status HonourPurgeRequest(spool::Spool& spool,
                                const std::filesystem::path& analytics_dir);
// The same through a Spool opened with `options` (only if a marker exists).
core::Status HonourPurgeRequest(const spool::SpoolOptions& options);

// What PurgeOnOptOut did: the events deleted, or that the database was held
// past the wait and a purge request was left instead (the inbox files are
// gone either way).
struct OptOutPurge {
  uint64_t deleted = 0;
  bool deferred = false;
};

// The spool's part of opting out, once config.yaml says so, shared by
// `zenml-analytics opt-out` and zenml_analytics_opt_out (C, Python): purges
// the spool of `config_dir` (waiting up to 5 s for a process that holds it;
// every writer lets go at its next write once it sees the opt-out), or, if
// it stays held, leaves the purge request; then removes every inbox file,
// twice, 200 ms apart (a writer that checked consent just before may be
// finishing one). Creates nothing when there is no spool. Errors other than
// a busy database are returned with what failed.
core::Result<OptOutPurge> PurgeOnOptOut(
    const std::filesystem::path& config_dir);

}  // namespace zenml::client

#endif  // ZENML_CLIENT_PURGE_REQUEST_H_
