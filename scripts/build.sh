#!/usr/bin/env bash
# Configures (once) and builds normgrad. Usage: scripts/build.sh [release|asan] [targets...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
preset="${1:-release}"
shift || true
#   release: build/, g++ -O3: the trainer, the benchmark, the Release test run.
#   asan:    build-asan/, clang++ -O2 with AddressSanitizer + UndefinedBehaviorSanitizer, and
#            libFuzzer's coverage instrumentation, so that one build gives both the sanitized
#            test suite and the fuzz targets of fuzz/ (scripts/fuzz.sh).
case "$preset" in
    release) dir="$root/build" flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    asan)
        # clang, libFuzzer (compiler-rt) and clang's OpenMP runtime.
        "$root/scripts/install-deps.sh" clang libclang-rt-dev libomp-dev
        dir="$root/build-asan"
        flags=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo
               "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG"
               -DNORMGRAD_SANITIZE=ON -DNORMGRAD_FUZZ=ON)
        # A build-asan/ configured otherwise (by an older version of this script): start afresh.
        if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^NORMGRAD_FUZZ:BOOL=ON' "$dir/CMakeCache.txt"; then
            rm -rf "$dir"
        fi
        ;;
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
