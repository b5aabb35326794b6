// The air-gap steps of the upload job (uploader/upload_job.h): the spool into
// a bundle (--to-file), a bundle or a directory of bundles to the network
// (--from-file); docs/bundle-format.md. Internal to zenml::uploader: callers
// use RunUploadJob, which decides consent and configuration first.
//
// Thread-compatible; each call touches the files it names and the network.
// Failures come back as reports with their exit codes, never thrown.

#ifndef ZENML_UPLOADER_BUNDLE_JOB_H_
#define ZENML_UPLOADER_BUNDLE_JOB_H_

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include "uploader/upload_report.h"
#include "uploader/uploader.h"

namespace zenml::uploader {

// `--to-file BUNDLE`: drains the spool opened with `spool_options` (its
// `dir`, the analytics dir) into a new bundle (written, fsynced, renamed;
// only then acknowledged). The caller has checked consent, and guards the
// inbox with it (ingest_consent.h). Takes the upload lock (another uploader
// running: outcome "busy", exit 0). Records the run like an upload. Returns
// the report ("wrote N events in M batches to BUNDLE"; exit 0, 74 spool or
// file I/O, 75 spool busy, 78 BUNDLE exists).
UploadReport RunToFile(const spool::SpoolOptions& spool_options,
                       const std::filesystem::path& bundle);

// `--from-file BUNDLE`: verifies BUNDLE (any damage: exit 65, nothing
// sent), then sends it with `options` (endpoint, key, budget, ...) through
// curl, keeping its progress next to it (uploader/file_transport.h).
// Outcomes and exit codes as for a spool upload.
UploadReport RunFromFile(const std::filesystem::path& bundle,
                         UploaderOptions options, const std::string& cacert);

// One step of `--from-file DIR`: bundle `index` (0-based) of `count`, its
// file name, and what became of it ("already imported, skipped", ...).
using BundleProgress =
    std::function<void(size_t index, size_t count, const std::string& name,
                       const std::string& what)>;

// `--from-file DIR`: every `*.bundle` file directly in DIR (one per machine),
// in name order, each imported once. A bundle whose checksum is in the ledger
// `<analytics dir>/imported-bundles` (one line per bundle sent in full:
// sha256, name, time) is skipped, so a rerun, or the same bundle under
// another name, sends nothing twice; the ledger is on this machine, so DIR
// may be read-only media. A damaged bundle is skipped (nothing of it sent)
// and the others still go; the run exits 65 at the end. An outcome that
// the next bundle would meet too (75, 77, 78, 69, a stop) ends the run with
// that outcome; the rest are left for the next run. `options_now` gives each
// bundle's options (the budget left). `progress`, when set, hears of each
// bundle.
UploadReport RunFromDirectory(
    const std::filesystem::path& dir,
    const std::function<UploaderOptions()>& options_now,
    const std::string& cacert, const std::filesystem::path& analytics_dir,
    const BundleProgress& progress);

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_BUNDLE_JOB_H_
