#!/usr/bin/env bash
# The main job: install, build, and run the normgrad command line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" release normgrad_cli
"$root/build/normgrad" --version
"$root/build/normgrad" --help
