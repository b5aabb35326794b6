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
// Thread safety: the functions are thread-safe as far as the Spool they are
// given is (a Spool is).

#ifndef ZENML_UPLOADER_FILE_TRANSPORT_H_
#define ZENML_UPLOADER_FILE_TRANSPORT_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "spool/spool.h"
#include "uploader/bundle.h"

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

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_FILE_TRANSPORT_H_
