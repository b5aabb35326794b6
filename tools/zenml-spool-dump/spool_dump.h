// zenml-spool-dump: shows what is spooled and what would be sent, without
// changing it (docs/zenml-spool-dump.md is the manual).
//
// The program is this library function; main.cc only calls it, so tests run
// it in-process with their own streams and environment (leveldb's DumpFile).
// It reads the spool in chunks through Spool::Peek, which opens the database
// for one short call each time, so trackers and uploaders running meanwhile
// are held up for one chunk at most, and output is streamed: memory stays
// flat whatever the spool holds. It never deletes or changes an event.
//
// Not thread-safe (one run per process at a time is the intended use).

#ifndef ZENML_TOOLS_ZENML_SPOOL_DUMP_SPOOL_DUMP_H_
#define ZENML_TOOLS_ZENML_SPOOL_DUMP_SPOOL_DUMP_H_

#include <ostream>

#include "core/environment.h"

namespace zenml::tools {

// The whole program: parses `argv`, writes results to `out` and diagnostics
// ("zenml-spool-dump: ..." plus a hint) to `err`, and returns the exit code
// (core/exit_code.h): 0 done, 64 usage, 74 spool I/O, 75 spool busy,
// 78 configuration (no config dir). The config dir comes from `--config-dir`
// or from `env` (core/config_dir.h).
int SpoolDumpMain(int argc, const char* const* argv, std::ostream& out,
                  std::ostream& err, const core::Environment& env);

// The same on std::cout, std::cerr and the process environment.
int SpoolDumpMain(int argc, char** argv);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_SPOOL_DUMP_SPOOL_DUMP_H_
