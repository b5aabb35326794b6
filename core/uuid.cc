#include "core/uuid.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace zenml::core {
namespace {

bool FillFromUrandom(uint8_t* buf, size_t n) {
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return got == n;
}

void FillRandom(uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::getrandom(buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (FillFromUrandom(buf, n)) return;
      // No randomness at all: an id that is not random would break the
      // anonymity promise, so stop rather than invent one.
      std::fputs("zenml-analytics: no source of randomness\n", stderr);
      std::abort();
    }
    got += static_cast<size_t>(r);
  }
}

// getrandom(2) costs a system call (~0.5 us here) however few bytes it
// returns, plus ~3.5 ns a byte, and Track() makes a uuid on the caller's
// thread. So each thread draws 4096 bytes at a time (~14 us) and hands them
// out 16 at a time: one Track() in 256 pays for the draw, which keeps it out
// of Track()'s p99 (with 512 bytes, one in 32 paid ~2.3 us and set the p99;
// the cost per id is the same either way, ~60 ns). A forked child
// must never reuse its parent's buffered bytes (both would mint the same
// ids): a pthread_atfork child handler bumps a generation counter that
// invalidates every buffer copied into the child.
std::atomic<uint64_t> g_fork_generation{0};

void OnForkChild() {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct RandomBuffer {
  uint8_t bytes[4096];
  size_t used = sizeof bytes;  // empty until the first fill
  uint64_t generation = 0;
};

void TakeRandom(uint8_t* out, size_t n) {
  static const bool registered = [] {
    return ::pthread_atfork(nullptr, nullptr, OnForkChild) == 0;
  }();
  thread_local RandomBuffer buffer;
  const uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (!registered || n > sizeof buffer.bytes) {
    FillRandom(out, n);
    return;
  }
  if (buffer.generation != generation ||
      buffer.used + n > sizeof buffer.bytes) {
    FillRandom(buffer.bytes, sizeof buffer.bytes);
    buffer.used = 0;
    buffer.generation = generation;
  }
  std::memcpy(out, buffer.bytes + buffer.used, n);
  // Bytes handed out are wiped, so they exist only in the id made from them.
  std::memset(buffer.bytes + buffer.used, 0, n);
  buffer.used += n;
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

}  // namespace

std::array<char, kUuidLength> NewUuid4Chars() {
  uint8_t b[16];
  TakeRandom(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<char, kUuidLength> out;
  size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[at++] = '-';
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0x0f];
  }
  return out;
}

std::string NewUuid4() {
  const std::array<char, kUuidLength> chars = NewUuid4Chars();
  return std::string(chars.data(), chars.size());
}

bool IsUuid4(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!IsHex(s[i])) {
      return false;
    }
  }
  if (s[14] != '4') return false;
  const char v = s[19];
  return v == '8' || v == '9' || v == 'a' || v == 'b' || v == 'A' || v == 'B';
}

}  // namespace zenml::core
