// FileTransport: moving spooled events through a bundle file instead of the
// network, for machines that never see one (DESIGN.md "Air-gapped machines",
// docs/bundle-format.md).
//
// Writing (`zenml-upload --to-file`, `zenml-spool-dump --export`):
// WriteSpoolToBundle copies every pending event, in spool order, into a new
// bundle, cut into batch bodies within the request budget. With `drain` it
// then acknowledges exactly the events it wrote, and only after the bundle
// was committed (trailer, fsync, rename, directory fsync): a crash at any
// point leaves every event either in the spool, or in a complete bundle, or
// (between the commit and the last ack) in both, which is harmless since a
// resend carries the same messageIds. Events appended meanwhile by other
// processes are left in the spool.
//
// Sending (`zenml-upload --from-file`): SendBundle verifies the whole bundle
// first (a bundle that fails its checksum, is truncated or holds a line that
// is not a batch body sends nothing), then imports its messages, byte for
// byte, into a private progress spool next to it, `<bundle>.progress/`
// (laid out as a config dir: `<bundle>.progress/analytics/spool`), and runs
// the ordinary Uploader on that spool: the same budget, retries, 429 handling,
// splitting of 400s and dead letters as for the user's own spool. What the
// server acknowledges is deleted from the progress spool, so a run cut short
// (budget, crash, outage) and rerun sends only the rest, and resends carry
// the same messageIds. The progress directory:
//   <bundle>.progress/imported        the bundle's SHA-256; written (fsync,
//                                     rename) once the import is complete
//   <bundle>.progress/analytics/      the progress spool and its upload.lock
// An import cut short (no `imported` file) is discarded and redone: nothing
// is sent before it completes. A progress dir whose `imported` names another
// checksum belongs to an earlier bundle of the same name: it is reset.
// The progress dir is kept after a complete delivery, so sending the bundle
// again sends nothing; delete it to send everything again (harmless anyway:
// Segment deduplicates by messageId).
//
// Thread safety: the functions are thread-safe as far as the Spool they are
// given is (a Spool is). SendBundle takes the progress spool's upload.lock
// for its whole run.

#ifndef ZENML_UPLOADER_FILE_TRANSPORT_H_
#define ZENML_UPLOADER_FILE_TRANSPORT_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "spool/spool.h"
#include "uploader/bundle.h"
#include "uploader/transport.h"
#include "uploader/uploader.h"

namespace zenml::uploader {

struct ToFileOptions {
  // Acknowledge (delete from the spool) what the bundle holds once it is
  // durable: `zenml-upload --to-file`. Off: a copy (`zenml-spool-dump
  // --export`).
  bool drain = false;
  // A body line holds at most this many bytes and messages. The bytes leave
  // room under the request budget (475,000) for the `sentAt` and `writeKey`
  // a sender adds.
  size_t max_line_bytes = 474'000;
  size_t max_line_messages = 500;
  // Written into the header's "origin".
  std::string origin = "zenml-upload --to-file";
  // Stamps the header's "created". Not owned.
  const core::Clock* clock = &core::RealClock();
};

struct ToFileResult {
  BundleSummary summary;      // what the bundle holds
  uint64_t acknowledged = 0;  // events deleted from the spool (drain only)
};

// Writes every event pending in `spool` to a new bundle at `bundle` (see the
// file comment). An empty spool writes a valid bundle of no batches. Fails,
// leaving the spool untouched, with FailedPrecondition when `bundle` exists,
// IoError when it cannot be written, and whatever Spool::Peek returns (Busy,
// IoError). A failure while acknowledging returns the Spool's error; the
// bundle is complete then, and the events not yet acknowledged stay spooled
// as well (a later send of both is deduplicated by messageId).
Result<ToFileResult> WriteSpoolToBundle(spool::Spool& spool,
                                        const std::filesystem::path& bundle,
                                        const ToFileOptions& options);

struct FromFileResult {
  BundleSummary bundle;   // what the verified bundle holds
  UploadSummary upload;   // this run's upload of the progress spool
  bool imported = false;  // this run imported the bundle (first run)
  std::filesystem::path progress_dir;
};

// The progress directory SendBundle uses for `bundle`: `<bundle>.progress`.
std::filesystem::path BundleProgressDir(const std::filesystem::path& bundle);

// Sends `bundle` through `transport` as the file comment says, with
// `options` (endpoint, key, budget, consent, ...) as for the spool. Errors:
// those of VerifyBundle (Corruption, NotFound, IoError: nothing sent);
// Busy when another process is sending the same bundle; the progress
// spool's errors (IoError). Upload outcomes (retry later, rate limited, key
// rejected, ...) are not errors: they are in the result's `upload`.
Result<FromFileResult> SendBundle(const std::filesystem::path& bundle,
                                  Transport& transport,
                                  const core::Clock& clock,
                                  UploaderOptions options);

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_FILE_TRANSPORT_H_
