#include "tools/zenml-upload/bundle_commands.h"

#include <fmt/format.h>

namespace zenml::tools {

uploader::BundleProgress BundleProgressLines(std::ostream& err) {
  return [&err](size_t index, size_t count, const std::string& name,
                const std::string& what) {
    err << fmt::format("zenml-upload: [{}/{}] {}: {}\n", index + 1, count, name,
                       what)
        << std::flush;
  };
}

}  // namespace zenml::tools
