#include <zenml/analytics/client.h>

int main() {
  zenml::analytics::Client c;
  (void)c.Track("Pipeline run", {});
  return c.Flush().ok() ? 0 : 1;
}
