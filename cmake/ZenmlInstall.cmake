# Install rules and the CMake package are added with the library targets
# (see issue 2); this file is included when ZENML_INSTALL is ON.
