// The baseline of the dump benchmark (scripts/bench.sh): the least a process
// can do to print every pending event of a spool. Opens the spool's LevelDB
// database DIR read-only in spirit (no writes) with the spool's options, walks
// the "e/" keys in order and writes each value's JSON (the value less the
// spool's 12-byte header: 8-byte append time, CRC-32; 29 bytes for the last
// event of an Append, which starts with 0x01 and carries the spool's totals
// first: spool/keys.h) and a newline to stdout in 1 MiB blocks. No checksum of
// its own, no JSON parsing. Exits 0 (1 on any error).
//
//   zenml_raw_scan DIR > out

#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>

#include <cstdio>
#include <memory>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: zenml_raw_scan DIR\n");
    return 1;
  }
  // The same options as the spool's (spool/spool.cc BaseOptions).
  leveldb::Options o;
  o.paranoid_checks = true;
  o.write_buffer_size = 256 << 10;
  o.max_open_files = 100;
  o.block_size = 64 << 10;
  o.reuse_logs = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, argv[1], &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  constexpr size_t kHeader = 12;
  constexpr size_t kTotalsHeader = 29;
  constexpr size_t kBlock = 1u << 20;
  std::string out;
  out.reserve(kBlock + (64 << 10));
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek("e/"); it->Valid() && it->key().starts_with("e/"); it->Next()) {
    leveldb::Slice v = it->value();
    const size_t header =
        !v.empty() && v[0] == '\x01' ? kTotalsHeader : kHeader;
    if (v.size() < header) continue;
    out.append(v.data() + header, v.size() - header);
    out.push_back('\n');
    if (out.size() >= kBlock) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!it->status().ok()) {
    std::fprintf(stderr, "scan: %s\n", it->status().ToString().c_str());
    return 1;
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
