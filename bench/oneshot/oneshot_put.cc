// The baseline of the one-shot benchmark (bench/client_bench.cc): the least a
// process can do to make one event durable in LevelDB. Opens (creating) the
// database DIR with the spool's options, puts one synced ~600-byte value
// under an "e/" key, closes, exits 0 (1 on any error).
//
//   zenml_oneshot_put DIR N      (N makes the key unique)

#include <leveldb/db.h>
#include <leveldb/options.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: zenml_oneshot_put DIR N\n");
    return 1;
  }
  // The same options as spool/spool.cc (BaseOptions, OpenLocked).
  leveldb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.write_buffer_size = 256 << 10;
  o.max_open_files = 100;
  o.reuse_logs = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, argv[1], &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions wo;
  wo.sync = true;
  std::string key = "e/" + std::string(argv[2]);
  s = db->Put(wo, key, std::string(600, 'x'));
  if (!s.ok()) {
    std::fprintf(stderr, "put: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
