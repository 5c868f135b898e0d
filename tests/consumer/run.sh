#!/usr/bin/env bash
# The package test (a ctest test of the Release suite, tests/CMakeLists.txt): installs this
# build of normgrad into <build>/install-prefix with `cmake --install`, then configures, builds
# and runs tests/consumer/, a project of its own that finds it there with find_package.
# Usage: tests/consumer/run.sh <normgrad build directory> [cmake] [C++ compiler] [generator]
# (ctest passes the cmake, compiler and generator of the build being tested).
set -euo pipefail
build="$(cd "$1" && pwd)"
cmake="${2:-cmake}"
cxx="${3:-c++}"
generator="${4:-Ninja}"
here="$(cd "$(dirname "$0")" && pwd)"
source_dir="$(cd "$here/../.." && pwd)"
prefix="$build/install-prefix"
work="$build/consumer"

# Afresh each time, so that no file of an earlier install stands in for one not installed now.
rm -rf "$prefix" "$work"
"$cmake" --install "$build" --prefix "$prefix" >/dev/null

# The package must not point back into the tree it was built from.
if grep -rlF "$source_dir" "$prefix/lib/cmake/normgrad"; then
    echo "run.sh: the installed CMake files above name $source_dir" >&2
    exit 1
fi

"$cmake" -S "$here" -B "$work" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
found="$(sed -n 's/^normgrad_DIR:PATH=//p' "$work/CMakeCache.txt")"
case "$found" in
    "$prefix"/*) ;;
    *) echo "run.sh: find_package found normgrad in '$found', not in $prefix" >&2; exit 1 ;;
esac
"$cmake" --build "$work"

"$work/normgrad_consumer"
cli="$(cat "$work/normgrad_cli_path.txt")"
case "$cli" in "$prefix"/bin/*) ;; *) echo "run.sh: normgrad::cli is $cli, not in $prefix/bin" >&2; exit 1 ;; esac
echo "normgrad::cli: $cli: $("$cli" --version)"
