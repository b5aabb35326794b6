#include "uploader/batch_builder.h"

#include "core/json_writer.h"

namespace zenml::uploader {
namespace {

constexpr std::string_view kHead = "{\"batch\":[";
constexpr std::string_view kSentAt = "],\"sentAt\":\"";
constexpr std::string_view kWriteKey = "\",\"writeKey\":\"";
constexpr std::string_view kTail = "\"}";

// The key as the contents of a JSON string.
std::string EscapedKey(std::string_view key) {
  std::string out;
  core::AppendJsonEscaped(out, key);
  return out;
}

}  // namespace

BatchBuilder::BatchBuilder(std::string_view write_key, size_t max_bytes,
                           size_t max_messages)
    : escaped_key_(EscapedKey(write_key)),
      max_bytes_(max_bytes),
      max_messages_(max_messages) {}

size_t BatchBuilder::BodySize(size_t count, size_t message_bytes) const {
  size_t commas = count > 0 ? count - 1 : 0;
  return kHead.size() + message_bytes + commas + kSentAt.size() +
         kSentAtLength + kWriteKey.size() + escaped_key_.size() + kTail.size();
}

bool BatchBuilder::Fits(size_t message_bytes) const {
  return messages_.size() < max_messages_ &&
         BodySize(messages_.size() + 1, message_bytes_ + message_bytes) <=
             max_bytes_;
}

bool BatchBuilder::Add(std::string_view message) {
  if (!Fits(message.size())) return false;
  messages_.push_back(message);
  message_bytes_ += message.size();
  return true;
}

std::string BatchBuilder::Build(std::string_view sent_at) const {
  return BuildFor(messages_, sent_at);
}

std::string BatchBuilder::BuildFor(std::span<const std::string_view> messages,
                                   std::string_view sent_at) const {
  size_t bytes = 0;
  for (auto m : messages) bytes += m.size();
  std::string body;
  body.reserve(BodySize(messages.size(), bytes) + sent_at.size());
  body += kHead;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i > 0) body += ',';
    body += messages[i];
  }
  body += kSentAt;
  body += sent_at;
  body += kWriteKey;
  body += escaped_key_;
  body += kTail;
  return body;
}

void BatchBuilder::Clear() {
  messages_.clear();
  message_bytes_ = 0;
}

size_t BatchBuilder::max_single_message() const {
  size_t empty = BodySize(1, 0);
  return max_bytes_ > empty ? max_bytes_ - empty : 0;
}

}  // namespace zenml::uploader
