#include "spool/reader.h"

namespace zenml::spool {

Reader::Reader(Spool& spool, ReaderPolicy policy)
    : spool_(spool), policy_(policy), hold_(spool, Role::kReader) {}

core::Status Reader::Begin() {
  if (!policy_.hold) return core::Status::OK();
  const auto now = std::chrono::steady_clock::now();
  const bool yielded = policy_.yield && hold_.Yield();
  if (!yielded && hold_.held() && policy_.max_hold.count() > 0 &&
      now - held_since_ >= policy_.max_hold) {
    hold_.Release();
  }
  if (hold_.held()) return core::Status::OK();
  core::Status s = hold_.Acquire();
  // The slice starts once held: Acquire may have waited up to lock_wait.
  if (s.ok()) held_since_ = std::chrono::steady_clock::now();
  return s;
}

void Reader::End() {
  idle_since_ = std::chrono::steady_clock::now();
  compacting_ = hold_.held() && spool_.CompactingLevel0();
}

void Reader::Idle() {
  if (!hold_.held()) return;
  if (policy_.yield && hold_.Yield()) {
    compacting_ = false;
    return;
  }
  const auto idle = std::chrono::steady_clock::now() - idle_since_;
  if (idle < policy_.max_idle_hold) return;
  if (idle < policy_.max_compaction_hold && spool_.CompactingLevel0()) return;
  Release();
}

void Reader::Release() {
  hold_.Release();
  compacting_ = false;
}

Result<std::vector<Entry>> Reader::Read(size_t max_bytes, size_t max_count,
                                        size_t largest_message, bool* at_head) {
  Result<std::vector<Entry>> entries =
      policy_.ingest ? spool_.Peek(cursor_, max_bytes, max_count)
                     : spool_.Scan(cursor_, max_bytes, max_count);
  if (!entries.ok()) return entries;
  size_t bytes = 0;
  for (const Entry& e : *entries) bytes += e.json.size();
  if (at_head != nullptr) {
    *at_head =
        entries->size() < max_count && bytes + largest_message <= max_bytes;
  }
  if (!entries->empty()) cursor_ = entries->back().key;
  return entries;
}

Result<size_t> Reader::Visit(size_t max_bytes, size_t max_count,
                             const EntryVisitor& visit) {
  if (policy_.ingest) {
    ZENML_TRY_ASSIGN(std::vector<Entry> entries,
                     spool_.Peek(cursor_, max_bytes, max_count));
    size_t visited = 0;
    for (const Entry& e : entries) {
      visited++;
      cursor_ = e.key;
      if (!visit(EntryView{e.key, e.seq, e.json})) break;
    }
    return visited;
  }
  return spool_.ScanEach(cursor_, max_bytes, max_count,
                         [&](const EntryView& e) {
                           cursor_.assign(e.key);
                           return visit(e);
                         });
}

}  // namespace zenml::spool
