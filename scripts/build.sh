#!/usr/bin/env bash
# Configures (once) and builds normgrad. Usage: scripts/build.sh [release|asan] [targets...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
preset="${1:-release}"
shift || true
case "$preset" in
    release) dir="$root/build" flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    asan) dir="$root/build-asan" flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNORMGRAD_SANITIZE=ON) ;;
    *) echo "scripts/build.sh: unknown build '$preset' (expected release or asan)" >&2; exit 2 ;;
esac
if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$root" -B "$dir" -G Ninja "${flags[@]}" >/dev/null
fi
jobs=$(nproc 2>/dev/null || echo 2)
if [ $# -gt 0 ]; then
    cmake --build "$dir" -j "$jobs" --target "$@"
else
    cmake --build "$dir" -j "$jobs"
fi
