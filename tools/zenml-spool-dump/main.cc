#include "tools/zenml-spool-dump/spool_dump.h"

int main(int argc, char** argv) {
  return zenml::tools::SpoolDumpMain(argc, argv);
}
