// Tracks "Pipeline run" with one property through the installed shared
// library, flushes, and prints the event's messageId (the test then finds it
// with the installed zenml-spool-dump). Exit 1 on any error.
#include <zenml/analytics/client.h>

#include <cstdio>
#include <string>

static_assert(__cplusplus == 201703L, "the consumer is built as C++17");

int main() {
  namespace za = zenml::analytics;
  za::Client client;
  if (!client.enabled()) {
    std::fprintf(stderr, "consumer: analytics disabled: %s\n",
                 client.consent().detail.c_str());
    return 1;
  }
  std::string id;
  za::Status s =
      client.Track(za::Event::kPipelineRun,
                   za::Value::Object{{"consumer", "installed"}}, &id);
  if (!s.ok()) {
    std::fprintf(stderr, "consumer: %s\n", s.ToString().c_str());
    return 1;
  }
  s = client.Flush();
  if (!s.ok()) {
    std::fprintf(stderr, "consumer: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%s\n", id.c_str());
  return 0;
}
