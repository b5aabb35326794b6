#include "spool/inbox.h"

#include <memory>

#include "core/result.h"
#include "spool/keys.h"
#include "spool/util.h"

namespace zenml::spool {

std::string EncodeInbox(std::span<const std::string> messages,
                        int64_t time_ms) {
  std::string out(kInboxMagic);
  out += EncodeFixed64BE(messages.size());
  for (const std::string& m : messages) {
    out += EncodeFixed64BE(static_cast<uint64_t>(time_ms));
    out += EncodeFixed64BE(m.size());
    out += m;
  }
  return out;
}

bool DecodeInbox(std::string_view data, std::vector<PendingEvent>* out,
                 uint64_t* declared) {
  if (declared != nullptr) *declared = 0;
  if (!data.starts_with(kInboxMagic)) return false;
  size_t pos = kInboxMagic.size();
  auto read64 = [&](uint64_t* v) {
    if (data.size() - pos < 8) return false;
    *v = *DecodeFixed64BE(data.substr(pos, 8));
    pos += 8;
    return true;
  };
  uint64_t count = 0;
  if (!read64(&count)) return false;
  if (declared != nullptr) *declared = count;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t time_ms = 0, length = 0;
    if (!read64(&time_ms) || !read64(&length)) return false;
    if (data.size() - pos < length) return false;
    out->push_back(
        {static_cast<int64_t>(time_ms), std::string(data.substr(pos, length))});
    pos += length;
  }
  return pos == data.size();
}

Status ReadWholeFile(leveldb::Env* env, const std::string& fname,
                     std::string* out) {
  leveldb::SequentialFile* raw = nullptr;
  ZENML_TRY(FromLevelDb(env->NewSequentialFile(fname, &raw), "reading inbox"));
  std::unique_ptr<leveldb::SequentialFile> file(raw);
  std::string scratch(64 << 10, '\0');
  for (;;) {
    leveldb::Slice chunk;
    ZENML_TRY(FromLevelDb(file->Read(scratch.size(), &chunk, scratch.data()),
                          "reading inbox"));
    if (chunk.empty()) return Status::OK();
    out->append(chunk.data(), chunk.size());
  }
}

uint64_t InboxDeclaredCount(leveldb::Env* env, const std::string& fname) {
  leveldb::SequentialFile* raw = nullptr;
  if (!env->NewSequentialFile(fname, &raw).ok()) return 0;
  std::unique_ptr<leveldb::SequentialFile> file(raw);
  char scratch[kInboxMagic.size() + 8];
  leveldb::Slice header;
  if (!file->Read(sizeof scratch, &header, scratch).ok() ||
      header.size() != sizeof scratch ||
      !std::string_view(header.data(), header.size())
           .starts_with(kInboxMagic)) {
    return 0;
  }
  return DecodeFixed64BE(
             std::string_view(header.data() + kInboxMagic.size(), 8))
      .value_or(0);
}

}  // namespace zenml::spool
