#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds, runs every test in the Release build
# and again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"

echo "== Release build"
"$root/scripts/build.sh" release
(cd "$root/build" && ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)")

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
"$root/scripts/build.sh" asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$root/build-asan" && ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)")
