#include "uploader/gzip.h"

#include <zlib.h>

#include <climits>

namespace zenml::uploader {
namespace {

// windowBits 15 + 16: write a gzip header and trailer instead of zlib's.
constexpr int kGzipWindowBits = 15 + 16;
// 15 + 32: accept gzip or zlib framing, detected from the header.
constexpr int kAutoWindowBits = 15 + 32;

// zlib counts in uInt; feed it in slices no larger than that.
constexpr size_t kMaxSlice = UINT_MAX;

}  // namespace

core::Result<std::string> GzipCompress(std::string_view data, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return core::Status::Internal("gzip: deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  size_t in_left = data.size();
  size_t produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    size_t slice = in_left < kMaxSlice ? in_left : kMaxSlice;
    zs.avail_in = static_cast<uInt>(slice);
    in_left -= slice;
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    size_t room = out.size() - produced;
    zs.avail_out = static_cast<uInt>(room < kMaxSlice ? room : kMaxSlice);
    uInt before = zs.avail_out;
    rc = deflate(&zs, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
    produced += before - zs.avail_out;
    if (rc == Z_STREAM_ERROR) {
      deflateEnd(&zs);
      return core::Status::Internal("gzip: deflate failed");
    }
    in_left += zs.avail_in;  // whatever deflate did not consume
  }
  deflateEnd(&zs);
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
