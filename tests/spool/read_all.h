// ReadAll: every pending event of a spool, oldest first, read the way the
// uploader reads (Peek past the last key, in chunks). Shared by the spool
// tests; a failed Peek fails the test and ends the list.

#ifndef ZENML_TESTS_SPOOL_READ_ALL_H_
#define ZENML_TESTS_SPOOL_READ_ALL_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "spool/spool.h"

namespace zenml::spool {

inline std::vector<Entry> ReadAll(Spool& spool) {
  std::vector<Entry> out;
  std::string after;
  for (;;) {
    auto batch = spool.Peek(after, 1 << 20, 1000);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || batch->empty()) return out;
    after = batch->back().key;
    out.insert(out.end(), batch->begin(), batch->end());
  }
}

}  // namespace zenml::spool

#endif  // ZENML_TESTS_SPOOL_READ_ALL_H_
