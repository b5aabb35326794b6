#include "tools/zenml-upload/upload_main.h"

int main(int argc, char** argv) { return zenml::tools::UploadMain(argc, argv); }
