#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds, runs every test in the Release build
# (g++ -O3) and again under AddressSanitizer + UndefinedBehaviorSanitizer (clang++), then fuzzes
# each input parser for a bounded time with the fuzz targets of that same sanitizer build
# (scripts/fuzz.sh). The Release suite includes the package test: normgrad installed into
# build/install-prefix and used from tests/consumer/, a project of its own (tests/CMakeLists.txt).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# chromium (about 520 MB with what it pulls in): tests/test_report.cpp renders the report in it.
# Open MPI: the data-parallel tests run under mpirun with 2 ranks (tests/mpi/).
"$root/scripts/install-deps.sh" chromium libopenmpi-dev openmpi-bin
# Each phase says how long it took (the suite should stay under 10 minutes on CI's 2 cores).
phase_start=$SECONDS
took() { echo "-- $1: $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }
took "packages"

echo "== Release build"
"$root/scripts/build.sh" release
took "Release build"
(cd "$root/build" && ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)")
took "Release tests"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
"$root/scripts/build.sh" asan normgrad_tests normgrad_mpi_tests normgrad_cli custom_layer_example
took "sanitizer build"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$root/build-asan" && ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)")
took "sanitizer tests"

# Bounded fuzzing of the IDX reader, the checkpoint reader and the command-line parser
# (FUZZ_SECONDS per target; FUZZ_SECONDS=0 skips it for a quick local run).
fuzz_seconds="${FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != 0 ]; then
    echo "== Fuzzing, $fuzz_seconds s per target"
    "$root/scripts/fuzz.sh" "$fuzz_seconds"
    took "fuzzing (with the fuzz targets' build)"
fi
