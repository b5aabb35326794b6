// libFuzzer target: config.yaml reading and rewriting (core/global_config.h).
// Input: the bytes of a config.yaml. Checks, beyond "no crash, no sanitizer
// report": a config that parses reads both keys without throwing, and its
// rewrite (set analytics_opt_in, ToYaml) parses again to the same answers.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/global_config.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();  // libFuzzer saves the input as a crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using zenml::core::GlobalConfig;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = GlobalConfig::Parse(text);
  if (!config.ok()) return 0;
  auto in = config->analytics_opt_in();
  auto id = config->user_id();
  // The rewrite opt-in/opt-out does, then the id EnsureAnonymousId adds.
  config->set_analytics_opt_in(!(in.ok() && in->value_or(true)));
  const bool want = !(in.ok() && in->value_or(true));
  if (!id.ok() || !id->has_value()) {
    config->set_user_id("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d");
  }
  const std::string yaml = config->ToYaml();
  // Save() refuses a rewrite that does not read back the same (yaml-cpp
  // cannot write back every construct it reads, e.g. a tagged flow
  // sequence as a key): what is checked here is that Save's check is the
  // right one, i.e. a rewrite that reads back reads back the same.
  // Aliases are written out in full, so the rewrite may outgrow the input,
  // within the expanded-values limit.
  Check(yaml.size() <= 4 * zenml::core::kConfigMaxExpandedBytes);
  if (yaml.size() > zenml::core::kConfigMaxBytes) return 0;
  auto again = GlobalConfig::Parse(yaml);
  if (!again.ok()) return 0;  // Save() refuses it: the file is kept
  auto in2 = again->analytics_opt_in();
  Check(in2.ok() && *in2 == std::optional<bool>(want));
  auto id2 = again->user_id();
  Check(id2.ok() && id2->has_value());
  if (id.ok() && id->has_value()) Check(*id2 == *id);
  return 0;
}
