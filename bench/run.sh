#!/usr/bin/env bash
# The benchmark against PyTorch in one command: builds normgrad (Release) and the sgemm ceiling
# programs, fetches MNIST if needed, then runs bench/bench.py with Debian's Python and PyTorch.
#   bench/run.sh [--runs N] [--threads 1,2] [--models mlp,mlp-bn,cnn,cnn-bn] [--out FILE] ...
#   bench/run.sh --arch @examples/specs/resmlp20.arch --arch-norms none,batch,layer \
#       --models resmlp20-none,resmlp20-batch,resmlp20-layer --out /tmp/arch.md
# (--arch SPEC, @FILE or NAME=SPEC, repeatable, times any --arch model under each normalisation
# of --arch-norms, named NAME-NORM; by default the presets and examples/specs/resnet-mnist.arch
# with none, batch, layer and group:4 run.) (bench/bench.py --help lists every option.) Prints
# a Markdown table and writes it, with the machine description (processor, flags, the kernels
# each framework ran), to bench/results-KIND.md, KIND the machine kind (avx512 or avx2), and into
# the README's section for that kind; the raw runs go to runs/bench/results.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh" python3-torch
"$root/scripts/build.sh" release normgrad_cli sgemm_ceiling same_start grad_stats_cost placement_cost >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
exec /usr/bin/python3 "$root/bench/bench.py" "$@"
