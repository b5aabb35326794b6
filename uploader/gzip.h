// Gzip: RFC 1952 compression of request bodies (libdeflate: whole-buffer
// DEFLATE with a gzip header), and the inverse (zlib, which also reads
// streams of several members) for tests and the collector.
//
// Segment and Segment-compatible collectors accept `Content-Encoding: gzip`;
// a 475,000-byte batch of analytics events shrinks about tenfold, which is
// what makes an upload on a slow link fit its time budget. Stateless free
// functions, thread-safe.

#ifndef ZENML_UPLOADER_GZIP_H_
#define ZENML_UPLOADER_GZIP_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace zenml::uploader {

// Compresses `data` into one gzip member at `level` (0-9 as for zlib, up to
// 12 for libdeflate's slowest). Fails with Internal only if libdeflate
// cannot allocate its compressor.
core::Result<std::string> GzipCompress(std::string_view data, int level = 6);

// Decompresses a gzip stream (one or more members). Fails with Corruption on
// anything that is not a complete, valid gzip stream, and with
// ResourceExhausted if the output would pass `max_output` bytes (so a
// decompression bomb cannot eat the memory of a test server).
core::Result<std::string> GzipDecompress(std::string_view data,
                                         size_t max_output = 64u << 20);

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_GZIP_H_
