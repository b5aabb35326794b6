// IngestConsent: the SpoolOptions::ingest_allowed of a program that opens
// the user's spool for its own reasons: zenml-upload (a run, --to-file,
// --requeue-dead-letters) and zenml-spool-dump (--export). Their calls
// may ingest the inbox (spool.h); this makes them leave it alone once the
// user has opted out. `zenml-analytics opt-out` changes config.yaml, purges
// the database, then deletes the inbox files: without the check, a call
// between the purge and the deletion moved a writer's inbox file into the
// spool just emptied, and its events stayed on disk.
//
// The answer is core::ConsentWatcher's (config.yaml and the environment,
// re-read when the file changed). The spool asks under its lock, one call
// at a time for the Spool objects of one directory, so one IngestConsent
// serves every Spool its options are given to; it must outlive them.

#ifndef ZENML_UPLOADER_INGEST_CONSENT_H_
#define ZENML_UPLOADER_INGEST_CONSENT_H_

#include <filesystem>

#include "core/consent_watcher.h"
#include "core/environment.h"
#include "spool/spool.h"

namespace zenml::uploader {

class IngestConsent {
 public:
  // `env` must outlive this.
  IngestConsent(std::filesystem::path config_dir, const core::Environment& env)
      : watcher_(std::move(config_dir), env) {}
  IngestConsent(const IngestConsent&) = delete;
  IngestConsent& operator=(const IngestConsent&) = delete;

  // `options` whose ingest_allowed asks this object.
  spool::SpoolOptions Guard(spool::SpoolOptions options) {
    options.ingest_allowed = [this] { return watcher_.Allowed(); };
    return options;
  }

 private:
  core::ConsentWatcher watcher_;
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_INGEST_CONSENT_H_
