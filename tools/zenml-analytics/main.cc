#include "tools/zenml-analytics/analytics_main.h"

int main(int argc, char** argv) {
  return zenml::tools::AnalyticsMain(argc, argv);
}
