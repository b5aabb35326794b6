// The catalogue of ZenML's usage events, spelled exactly as ZenML's
// zenml_analytics.py. Client::Track takes an Event or any other name as a
// string. Thread-safe. C++17.

#ifndef ZENML_ANALYTICS_EVENTS_H_
#define ZENML_ANALYTICS_EVENTS_H_

#include <array>
#include <optional>
#include <string_view>

#include "zenml/analytics/export.h"

namespace zenml::analytics {

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

// All twelve events, in the catalogue's order.
inline constexpr std::array<Event, 12> kAllEvents = {
    Event::kDatasourcesListed,  Event::kDatasourceCreated,
    Event::kStepCreated,        Event::kStepVersionsListed,
    Event::kStepListed,         Event::kPipelineCreated,
    Event::kPipelineRegistered, Event::kPipelineRun,
    Event::kPipelinesFetched,   Event::kPipelineArtifactsFetched,
    Event::kRepositoryCreated,  Event::kZenmlInitialized,
};

// The event's name as sent to Segment. Never empty.
ZENML_ANALYTICS_EXPORT std::string_view EventName(Event event);

// The event whose name is exactly `name` (case-sensitive), or nullopt.
ZENML_ANALYTICS_EXPORT std::optional<Event> EventFromName(
    std::string_view name);

}  // namespace zenml::analytics

#endif  // ZENML_ANALYTICS_EVENTS_H_
