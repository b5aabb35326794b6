#include "core/catalogue.h"

#include <array>

namespace zenml::core {
namespace {

struct Entry {
  Event event;
  std::string_view name;
};

// Spelled exactly as ZenML's zenml_analytics.py (ZenML's usage-analytics page):
// note the capital V in "Step Versions listed" and A in "Pipeline Artifacts
// fetched".
constexpr std::array<Entry, 12> kCatalogue = {{
    {Event::kDatasourcesListed, "Datasources listed"},
    {Event::kDatasourceCreated, "Datasource created"},
    {Event::kStepCreated, "Step created"},
    {Event::kStepVersionsListed, "Step Versions listed"},
    {Event::kStepListed, "Step listed"},
    {Event::kPipelineCreated, "Pipeline created"},
    {Event::kPipelineRegistered, "Pipeline registered"},
    {Event::kPipelineRun, "Pipeline run"},
    {Event::kPipelinesFetched, "Pipelines fetched"},
    {Event::kPipelineArtifactsFetched, "Pipeline Artifacts fetched"},
    {Event::kRepositoryCreated, "Repository created"},
    {Event::kZenmlInitialized, "ZenML initialized"},
}};

constexpr std::array<Event, 12> kEvents = [] {
  std::array<Event, 12> out{};
  for (size_t i = 0; i < kCatalogue.size(); ++i) out[i] = kCatalogue[i].event;
  return out;
}();

}  // namespace

std::string_view EventName(Event event) {
  for (const Entry& e : kCatalogue) {
    if (e.event == event) return e.name;
  }
  return "Unknown event";  // unreachable for a valid enum value
}

std::span<const Event> AllEvents() { return kEvents; }

std::optional<Event> EventFromName(std::string_view name) {
  for (const Entry& e : kCatalogue) {
    if (e.name == name) return e.event;
  }
  return std::nullopt;
}

}  // namespace zenml::core
