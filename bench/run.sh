#!/usr/bin/env bash
# The benchmark against PyTorch in one command: builds normgrad (Release) and the sgemm ceiling
# program, fetches MNIST if needed, then runs bench/bench.py with Debian's Python and PyTorch.
#   bench/run.sh [--runs N] [--threads 1,2] [--models mlp,mlp-bn,cnn,cnn-bn] [--out FILE] ...
#   bench/run.sh --arch @examples/specs/resnet-mnist.arch --arch-norms none,batch,layer \
#       --models resnet-mnist-none,resnet-mnist-batch,resnet-mnist-layer --out /tmp/arch.md
# (--arch SPEC, @FILE or NAME=SPEC, repeatable, times any --arch model under each normalisation
# of --arch-norms, named NAME-NORM; without --models, the presets and every --arch model run.)
# (bench/bench.py --help lists every option.) Prints a Markdown table and writes it, with the
# machine description, to bench/results.md; the raw runs go to runs/bench/results.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh" python3-torch
"$root/scripts/build.sh" release normgrad_cli sgemm_ceiling same_start >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
exec /usr/bin/python3 "$root/bench/bench.py" "$@"
