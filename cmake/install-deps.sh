#!/usr/bin/env bash
# Installs the Debian 12 packages sit needs when any is missing (as root), or says what to install.
set -euo pipefail
packages=(cmake ninja-build g++ libtorch-dev libopenblas0-openmp libfmt-dev libcli11-dev catch2
          nlohmann-json3-dev libstb-dev libspdlog-dev zlib1g-dev libgloo-dev dataset-fashion-mnist "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "sit needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
