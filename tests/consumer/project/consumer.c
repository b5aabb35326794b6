/* A C11 consumer of the installed C API (zenml/analytics.h), built by the
 * consumer test with `gcc -std=c11 -Wall -Wextra -Werror` and the flags of
 * `pkg-config zenml-analytics`. Tracks one "Pipeline run" into
 * $ZENML_CONFIG_PATH, flushes, and exits 0 only if both succeeded. */
#include <stdio.h>
#include <zenml/analytics.h>

int main(void) {
  zenml_analytics_options o;
  zenml_analytics_options_init(&o);
  zenml_analytics_client* c = NULL;
  if (zenml_analytics_client_new(&o, &c) != ZENML_ANALYTICS_OK) {
    fprintf(stderr, "client_new: %s\n", zenml_analytics_last_error());
    return 1;
  }
  static const char kProps[] = "{\"from\":\"c\"}";
  zenml_analytics_status s =
      zenml_analytics_track(c, "Pipeline run", kProps, sizeof kProps - 1);
  if (s == ZENML_ANALYTICS_OK) s = zenml_analytics_flush(c, 10000);
  if (s != ZENML_ANALYTICS_OK) {
    fprintf(stderr, "track/flush: %s\n", zenml_analytics_strerror(s));
  }
  zenml_analytics_client_free(c);
  return s == ZENML_ANALYTICS_OK ? 0 : 1;
}
