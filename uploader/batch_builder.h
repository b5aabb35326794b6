// BatchBuilder: lays out one Segment batch body,
//   {"batch":[<m1>,<m2>,...],"sentAt":"<time>","writeKey":"<key>"}
// with the messages copied byte for byte as they were spooled, and accounts
// for its exact size in bytes before the body exists, so the uploader can
// decide how many spooled events fit one request.
//
// Limits (segment-api.md "Limits"): Segment answers 400 for a request over
// about 500 KB and for a message over 32 KB; we budget on the uncompressed
// body, at most 475,000 bytes and 500 messages a request, at most 32,000
// bytes a message (what Segment's own Python and Go libraries do).
//
// `sentAt` is stamped per attempt (Build takes it), never when the batch is
// planned: Segment corrects clock skew with it. Its text is always 24 bytes
// ("2026-11-27T10:05:00.000Z"), which the accounting relies on.
//
// Thread-compatible value type.

#ifndef ZENML_UPLOADER_BATCH_BUILDER_H_
#define ZENML_UPLOADER_BATCH_BUILDER_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/message.h"

namespace zenml::uploader {

inline constexpr size_t kMaxRequestBytes = 475'000;
inline constexpr size_t kMaxBatchMessages = 500;
// One definition of the message limit, core's (core/message.h).
using core::kMaxMessageBytes;
// Length of a sentAt value: "YYYY-MM-DDTHH:MM:SS.mmmZ".
inline constexpr size_t kSentAtLength = 24;

class BatchBuilder {
 public:
  // `write_key` goes into the body's "writeKey" (JSON-escaped). The limits
  // default to the ones above; tests pass smaller ones.
  explicit BatchBuilder(std::string_view write_key,
                        size_t max_bytes = kMaxRequestBytes,
                        size_t max_messages = kMaxBatchMessages);

  // Size in bytes of the body Build() would return for `count` messages
  // totalling `message_bytes` bytes. Exact.
  size_t BodySize(size_t count, size_t message_bytes) const;

  // Whether one more message of `message_bytes` bytes keeps the body within
  // max_bytes and max_messages.
  bool Fits(size_t message_bytes) const;

  // Adds `message` (must be one JSON object, unchanged from the spool) if it
  // fits; returns false and adds nothing otherwise. A message is not copied
  // until Build(): it must outlive the builder's use.
  bool Add(std::string_view message);

  // The body with the messages added so far, in order.
  std::string Build(std::string_view sent_at) const;

  // Builds the body for an arbitrary list of messages (no limit checks); the
  // uploader uses it for the halves of a split batch.
  std::string BuildFor(std::span<const std::string_view> messages,
                       std::string_view sent_at) const;

  void Clear();
  size_t count() const { return messages_.size(); }
  // Body size with the messages added so far (BodySize(count, bytes)).
  size_t size() const { return BodySize(messages_.size(), message_bytes_); }
  // The largest message_bytes that would fit an otherwise empty batch.
  size_t max_single_message() const;

 private:
  std::string escaped_key_;
  size_t max_bytes_;
  size_t max_messages_;
  size_t message_bytes_ = 0;
  std::vector<std::string_view> messages_;
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_BATCH_BUILDER_H_
