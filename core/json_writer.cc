#include "core/json_writer.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace zenml::core {
namespace {

// RapidJSON's escape table: control characters, '"' and '\\'; 'u' means
// \u00XX with uppercase hex.
constexpr std::array<char, 128> MakeEscapes() {
  std::array<char, 128> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}
constexpr std::array<char, 128> kEscape = MakeEscapes();

}  // namespace

// Eight bytes at a time (the "has a byte less than n" bit trick: exact as to
// whether one exists, which is all that is asked): event names, ids and most
// property strings are plain, and this is on the track path.
bool IsPlainJsonAscii(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    const uint64_t care = (w & kHigh) | ((w - kOnes * 0x20) & ~w & kHigh) |
                          has_zero(w ^ (kOnes * '"')) |
                          has_zero(w ^ (kOnes * '\\'));
    if (care != 0) return false;
  }
  for (; n > 0; ++p, --n) {
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x80 || kEscape[c] != 0) return false;
  }
  return true;
}

void AppendJsonEscaped(std::string& out, std::string_view s) {
  if (IsPlainJsonAscii(s)) {
    out.append(s);
    return;
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 || kEscape[c] == 0) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    const char e = kEscape[c];
    if (e == 'u') {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out.append(u, sizeof u);
    } else {
      const char two[2] = {'\\', e};
      out.append(two, sizeof two);
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  AppendJsonEscaped(out, s);
  out.push_back('"');
}

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(out, s);
  return out;
}

}  // namespace zenml::core
