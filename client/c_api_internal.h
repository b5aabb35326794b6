// The C API's C++ side door, for bindings written in C++ (python/): track a
// core::Value without a round trip through JSON text. Not installed; the
// functions behave exactly as their C counterparts in
// include/zenml/analytics.h (same counting, same fork and close handling).

#ifndef ZENML_CLIENT_C_API_INTERNAL_H_
#define ZENML_CLIENT_C_API_INTERNAL_H_

#include <string_view>

#include "core/value.h"
#include "include/zenml/analytics.h"

namespace zenml::client::capi {

// zenml_analytics_track with properties already parsed. Never throws.
zenml_analytics_status TrackValue(zenml_analytics_client* client,
                                  std::string_view event,
                                  const core::Value& properties);

// Counts one event refused before it reached the client (a binding could not
// convert its arguments), in stats' rejected_invalid. Never throws.
void CountRejected(zenml_analytics_client* client);

// The options the client was created with (synchronous clients block in
// track, so a binding releases its interpreter lock around them).
bool IsSynchronous(const zenml_analytics_client* client);

}  // namespace zenml::client::capi

#endif  // ZENML_CLIENT_C_API_INTERNAL_H_
