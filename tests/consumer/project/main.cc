// Prints an event name and a fresh uuid4 through the installed zenml::core.
#include <cstdio>
#include <string>

#include "core/catalogue.h"
#include "core/uuid.h"

int main() {
  const std::string name(
      zenml::core::EventName(zenml::core::Event::kPipelineRun));
  const std::string id = zenml::core::NewUuid4();
  std::printf("%s %s\n", name.c_str(), id.c_str());
  return zenml::core::IsUuid4(id) ? 0 : 1;
}
