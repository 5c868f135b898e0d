#!/usr/bin/env bash
# Installs the Debian packages normgrad needs to build, and only those that are missing; the
# callers name what else they need (scripts/main.sh: npm and curl for the MNIST download;
# scripts/test.sh: chromium for the report's browser test; scripts/build.sh asan: clang).
# Usage: scripts/install-deps.sh [extra-package ...]
# Idempotent: when everything is present it returns at once without touching apt.
set -euo pipefail

# catch2 (2.6 MB) too: configuring the project declares its tests, which needs Catch2's CMake
# files, and build/ is the same for the main job and the tests. libdnnl-dev (oneDNN, about
# 20 MB with its OpenCL loader): the GEMM on processors with AVX-512 (src/kernels/gemm.cpp).
packages=(build-essential cmake ninja-build pkg-config libopenblas-dev libdnnl-dev libfmt-dev catch2
          zlib1g-dev libcli11-dev nlohmann-json3-dev "$@")

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "normgrad: installing missing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
