// zenml-upload --requeue-dead-letters [--since DURATION|TIMESTAMP]: puts the
// spool's dead letters back into the queue (spool/dead_letters.h) so the next
// run sends them again, in their original order. Called by RunUpload once it
// has parsed the command line (AddDeadLetterFlags adds the two options).
//
// It sends nothing and needs no write key. It takes the upload lock, so no
// uploader runs meanwhile; the move is one WriteBatch (a crash leaves every
// dead letter requeued or none). Outcome "requeued", exit 0 (also when there
// was nothing to requeue); 64 a bad --since or a combination with
// --dry-run/--to-file/--from-file; 74 spool I/O; 75 the spool or the upload
// lock is busy (try later); 78 a --config-dir that does not exist.
//
// Thread-compatible (called once per process).

#ifndef ZENML_TOOLS_ZENML_UPLOAD_DEAD_LETTER_COMMANDS_H_
#define ZENML_TOOLS_ZENML_UPLOAD_DEAD_LETTER_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "core/clock.h"
#include "core/environment.h"
#include "core/result.h"

namespace zenml::tools {

struct DeadLetterFlags {
  bool requeue = false;
  std::string since;  // empty: every dead letter
};

// Adds --requeue-dead-letters and --since (which needs it) to `app`.
void AddDeadLetterFlags(CLI::App& app, DeadLetterFlags& flags);

// What RunRequeueDeadLetters needs of the rest of the command line.
struct RequeueContext {
  std::string config_dir;  // --config-dir, or empty
  bool json = false;
  bool quiet = false;
  bool conflicting = false;  // --dry-run, --to-file or --from-file given
};

// --since: a duration back from `now` ("90s", "30m", "2h", "7d", "1w") or an
// ISO-8601 UTC time ("2026-11-30T12:00:00Z"). InvalidArgument otherwise.
core::Result<core::WallTime> ParseSince(std::string_view text,
                                        core::WallTime now);

// Runs the requeue and prints its report (report.h); returns the exit code.
int RunRequeueDeadLetters(const DeadLetterFlags& flags,
                          const RequeueContext& context,
                          const core::Environment& env, std::ostream& out,
                          std::ostream& err);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_DEAD_LETTER_COMMANDS_H_
