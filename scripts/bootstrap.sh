#!/usr/bin/env bash
# Installs, with apt-get, whatever a fresh Debian 12 machine lacks to build,
# test and benchmark this project. Idempotent and quiet when all is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libleveldb-dev libsnappy-dev libfmt-dev libcurl4-openssl-dev rapidjson-dev
  libyaml-cpp-dev libcli11-dev zlib1g-dev libdeflate-dev libssl-dev
  libgtest-dev libgmock-dev libcpp-httplib-dev libbenchmark-dev
  clang-format
  # Man pages from docs/*.md at build time (289 kB; pandoc would be 168 MB).
  # Packages: CPack's DEB generator uses dpkg-deb and dpkg-shlibdeps (dpkg-dev,
  # pulled in by build-essential) and, for dependencies, `file`.
  lowdown file
  # Tests only: python3-yaml reads a rewritten config.yaml back the way ZenML's
  # Python CLI does; systemd brings systemd-analyze to verify contrib/systemd.
  python3 python3-yaml systemd
  # The zenml_analytics Python package (python/): built with Debian's pybind11
  # against Debian's python3, tested with Debian's pytest.
  python3-dev pybind11-dev python3-pytest
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
