// Random (version 4) UUIDs for anonymous ids and message ids.
//
// The 122 random bits come from getrandom(2), the kernel's CSPRNG, so ids are
// unpredictable and never derived from the machine (no MAC address, no
// hostname, no time). To spare a system call per id, each thread draws 4096
// random bytes at a time; a fork(2)ed child discards what it inherited, so a
// parent and child never mint the same id. Thread-safe.

#ifndef ZENML_CORE_UUID_H_
#define ZENML_CORE_UUID_H_

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace zenml::core {

// Length of a uuid in canonical form.
inline constexpr size_t kUuidLength = 36;

// A new uuid4 in canonical lowercase form:
// "xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx" with Y in [89ab] (RFC 4122 variant).
// getrandom(2) blocks only until the kernel's pool is first initialized after
// boot; should it fail anyway (an ancient kernel), /dev/urandom is read
// instead, and if both fail the process aborts: an id that is not random would
// break the promise of anonymity.
std::string NewUuid4();

// The same as NewUuid4(), as characters (no terminator) rather than a string,
// so that Track() writes the messageId into its message without allocating.
std::array<char, kUuidLength> NewUuid4Chars();

// True when `text` is a uuid4 in the canonical form NewUuid4 produces
// (36 chars, lowercase hex, dashes at 8-13-18-23, version 4, RFC 4122
// variant). Uppercase hex is accepted too, since ZenML's Python writes
// str(uuid4()) which is lowercase, but hand-edited files may not be.
bool IsUuid4(std::string_view text);

}  // namespace zenml::core

#endif  // ZENML_CORE_UUID_H_
