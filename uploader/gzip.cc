#include "uploader/gzip.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <climits>

namespace zenml::uploader {
namespace {

// 15 + 32: accept gzip or zlib framing, detected from the header.
constexpr int kAutoWindowBits = 15 + 32;

// zlib counts in uInt; feed it in slices no larger than that.
constexpr size_t kMaxSlice = UINT_MAX;

}  // namespace

core::Result<std::string> GzipCompress(std::string_view data, int level) {
  // libdeflate compresses a whole buffer in one call, about twice as fast as
  // zlib's deflate at the same level and a little smaller (docs/
  // BENCHMARKS.md); a request body is always whole in memory. Its levels go
  // to 12; 0-9 mean what they mean to zlib.
  libdeflate_compressor* compressor =
      libdeflate_alloc_compressor(std::clamp(level, 0, 12));
  if (compressor == nullptr) {
    return core::Status::Internal("gzip: out of memory for the compressor");
  }
  std::string out;
  out.resize(libdeflate_gzip_compress_bound(compressor, data.size()));
  const size_t produced = libdeflate_gzip_compress(
      compressor, data.data(), data.size(), out.data(), out.size());
  libdeflate_free_compressor(compressor);
  if (produced == 0) {  // cannot happen: `out` has the bound's room
    return core::Status::Internal("gzip: compressed data exceeds its bound");
  }
  out.resize(produced);
  return out;
}

core::Result<std::string> GzipDecompress(std::string_view data,
                                         size_t max_output) {
  std::string out;
  size_t offset = 0;
  // A gzip file may hold several members back to back (RFC 1952 2.2).
  do {
    z_stream zs{};
    if (inflateInit2(&zs, kAutoWindowBits) != Z_OK) {
      return core::Status::Internal("gzip: inflateInit2 failed");
    }
    std::string_view rest = data.substr(offset);
    if (rest.size() > kMaxSlice) {
      inflateEnd(&zs);
      return core::Status::ResourceExhausted("gzip: input too large");
    }
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
    zs.avail_in = static_cast<uInt>(rest.size());
    char buf[64 * 1024];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof buf;
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        inflateEnd(&zs);
        return core::Status::Corruption(rc == Z_BUF_ERROR
                                            ? "gzip: truncated stream"
                                            : "gzip: invalid stream");
      }
      size_t got = sizeof buf - zs.avail_out;
      if (out.size() + got > max_output) {
        inflateEnd(&zs);
        return core::Status::ResourceExhausted(
            "gzip: decompressed size exceeds the limit");
      }
      out.append(buf, got);
      if (rc != Z_STREAM_END && zs.avail_in == 0 && got == 0) {
        inflateEnd(&zs);
        return core::Status::Corruption("gzip: truncated stream");
      }
    }
    offset += rest.size() - zs.avail_in;
    inflateEnd(&zs);
  } while (offset < data.size());
  return out;
}

}  // namespace zenml::uploader
