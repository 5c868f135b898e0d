#!/usr/bin/env bash
# Installs the Debian packages normgrad needs, and only those that are missing.
# Usage: scripts/install-deps.sh [extra-package ...]
# Idempotent: when everything is present it returns at once without touching apt.
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config libopenblas-dev libfmt-dev catch2 zlib1g-dev
          libcli11-dev nlohmann-json3-dev chromium "$@")

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
