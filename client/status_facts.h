// The facts about a spool that `zenml-analytics status --json`,
// zenml_analytics_status_json() (Python's status()) and
// `zenml-spool-dump --stats --json` all print, built in one place so the
// two tools use the same names for the same facts (issue 12):
//
//   pending_events, pending_bytes, dead_letters, dead_letter_bytes,
//   dead_letters_dropped {max_events, max_bytes, max_age}, write_errors,
//   dropped {max_events, max_bytes, max_age, corruption, queue_full,
//            disk_full, ...},
//   inbox_files, last_upload (null or an object, SpoolUploadValue),
//   not_before (null or an RFC 3339 time)
//
// and consent as {allowed, source, detail}. docs/schemas/ holds the schema
// of each tool's object. Pure functions; thread-safe.

#ifndef ZENML_CLIENT_STATUS_FACTS_H_
#define ZENML_CLIENT_STATUS_FACTS_H_

#include "core/consent.h"
#include "core/value.h"
#include "spool/spool.h"

namespace zenml::client {

// The version of the --json objects of zenml-analytics status and
// zenml-spool-dump --stats: bumped when a field is removed or changes meaning
// (adding one does not).
inline constexpr int kStatusJsonSchema = 1;

// Appends the fields above to `out` (an object), in that order. Every drop
// reason the spool knows is present, 0 when nothing was dropped for it.
void AppendSpoolFacts(const spool::SpoolStats& stats, core::Value& out);

// {at, outcome, sent, requests, dead_lettered, remaining, not_before,
//  detail}: the uploader's record of its last run, whatever the outcome
// ("success", "retry", "config_error", "rejected", ...).
core::Value SpoolUploadValue(const spool::UploadRecord& record);

// {allowed, source, detail}.
core::Value ConsentValue(const core::Consent& consent);

}  // namespace zenml::client

#endif  // ZENML_CLIENT_STATUS_FACTS_H_
