// The catalogue of ZenML's usage events, spelled exactly as ZenML's
// zenml_analytics.py (ZenML's usage-analytics page; listed in docs/privacy.md).
// Callers may also track custom names; the typed enum is for the known ones.
// Thread-safe.

#ifndef ZENML_CORE_CATALOGUE_H_
#define ZENML_CORE_CATALOGUE_H_

#include <optional>
#include <span>
#include <string_view>

namespace zenml::core {

enum class Event {
  kDatasourcesListed,         // "Datasources listed"
  kDatasourceCreated,         // "Datasource created"
  kStepCreated,               // "Step created"
  kStepVersionsListed,        // "Step Versions listed"
  kStepListed,                // "Step listed"
  kPipelineCreated,           // "Pipeline created"
  kPipelineRegistered,        // "Pipeline registered"
  kPipelineRun,               // "Pipeline run"
  kPipelinesFetched,          // "Pipelines fetched"
  kPipelineArtifactsFetched,  // "Pipeline Artifacts fetched"
  kRepositoryCreated,         // "Repository created"
  kZenmlInitialized,          // "ZenML initialized"
};

// The event's name as sent to Segment. Never empty.
std::string_view EventName(Event event);

// All twelve events, in the seed's order.
std::span<const Event> AllEvents();

// The event whose name is exactly `name` (case-sensitive), or nullopt.
std::optional<Event> EventFromName(std::string_view name);

}  // namespace zenml::core

#endif  // ZENML_CORE_CATALOGUE_H_
