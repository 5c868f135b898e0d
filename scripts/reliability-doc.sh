#!/usr/bin/env bash
# Rewrites the tables of docs/reliability.md from the reliability cases (tests/reliability.hpp):
# builds the Release tests, runs every "[reliability]" case and writes what each command gave.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh" release normgrad_tests normgrad_cli
NORMGRAD_WRITE_RELIABILITY_DOC=1 "$root/build/tests/normgrad_tests" "[reliability]"
echo "wrote $root/docs/reliability.md"
