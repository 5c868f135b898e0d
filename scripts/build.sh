#!/usr/bin/env bash
# Configures (when needed) and builds normgrad with a preset of CMakePresets.json, which holds
# each build's directory, compiler and flags.
# Usage: scripts/build.sh [release|asan] [targets...]
#   release: build/, g++ -O3: the trainer, the benchmark, the Release test run.
#   asan:    build-asan/, clang++ -O2 with AddressSanitizer + UndefinedBehaviorSanitizer, and
#            libFuzzer's coverage instrumentation, so that one build gives both the sanitized
#            test suite and the fuzz targets of fuzz/ (scripts/fuzz.sh). A unity build
#            (CMAKE_UNITY_BUILD: the files of each library compiled a few at a time, which
#            halves its compile time); the release build compiles every file on its own, which
#            is what proves that each includes what it uses.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
preset="${1:-release}"
shift || true
cd "$root"
case "$preset" in
    release) dir="$root/build" ;;  # the preset's binaryDir
    asan)
        # clang, libFuzzer (compiler-rt) and clang's OpenMP runtime.
        "$root/scripts/install-deps.sh" clang libclang-rt-dev libomp-dev
        dir="$root/build-asan"
        ;;
    *) echo "scripts/build.sh: unknown build '$preset' (expected release or asan)" >&2; exit 2 ;;
esac

# A build directory configured otherwise (another generator, or a build-asan/ of an older
# version of this script, without clang or the fuzz instrumentation) cannot be reconfigured in
# place: start afresh.
cache="$dir/CMakeCache.txt"
if [ -f "$cache" ]; then
    otherwise=false
    grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache" || otherwise=true
    if [ "$preset" = asan ]; then
        grep -q '^NORMGRAD_FUZZ:BOOL=ON$' "$cache" || otherwise=true
        grep -q '^NORMGRAD_SANITIZE:BOOL=ON$' "$cache" || otherwise=true
        grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=\(.*/\)\?clang++$' "$cache" || otherwise=true
    fi
    if [ "$otherwise" = true ]; then
        echo "scripts/build.sh: $dir was configured otherwise; configuring it afresh"
        rm -rf "$dir"
    fi
fi
# Configure when the directory is new or CMakePresets.json changed since it was configured
# (a later build reruns CMake by itself when a CMakeLists.txt changes).
stamp="$dir/.configured-with-preset"
want="$preset $(cksum <CMakePresets.json)"
if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    cmake --preset "$preset" >/dev/null
    echo "$want" >"$stamp"
fi
jobs=$(nproc 2>/dev/null || echo 2)
if [ $# -gt 0 ]; then
    cmake --build --preset "$preset" -j "$jobs" --target "$@"
else
    cmake --build --preset "$preset" -j "$jobs"
fi
