#!/usr/bin/env bash
# normgrad train under mpirun with 2 ranks, on a tiny generated data set (256 training and 64
# test images of 28x28, random pixels, labels 0..9):
#   1. a run trains, prints once what each rank does, and rank 0 alone writes the model and log;
#   2. ranks given different flags are refused before anything runs (the fingerprint check);
#   3. a rank that fails (its --data folder is missing) stops both, with its message, not a hang.
# Usage: cli.sh NORMGRAD MPIEXEC
set -euo pipefail
normgrad="$1"
mpiexec="$2"
mpirun=("$mpiexec" --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1)
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "cli.sh: FAILED: $*" >&2; exit 1; }

# IDX files: a big-endian header, then the bytes.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
split() {  # prefix count
    { be32 2051; be32 "$2"; be32 28; be32 28; head -c $(($2 * 784)) /dev/urandom; } >"data/$1-images-idx3-ubyte"
    { be32 2049; be32 "$2"; for ((i = 0; i < $2; i++)); do printf "\\x$(printf %02x $((i % 10)))"; done; } >"data/$1-labels-idx1-ubyte"
}
mkdir data
split train 256
split t10k 64

# 1. A run on 2 ranks.
out=$("${mpirun[@]}" -np 2 "$normgrad" train --data data --batchnorm on --batch 32 --max-steps 4 \
    --no-progress --save model.safetensors --log run.jsonl 2>&1) || fail "the 2-rank run failed: $out"
echo "$out"
grep -q "data-parallel on MPI (.*), 2 ranks: global batch 32, 16 images per rank; BatchNorm statistics global" <<<"$out" ||
    fail "no line telling what each rank does"
[ "$(grep -c "^epoch 1: train loss" <<<"$out")" = 1 ] || fail "the epoch line is not printed once"
[ -f model.safetensors ] && [ -f run.jsonl ] || fail "no model or log written"
[ "$(grep -c '"type":"step"' run.jsonl)" = 4 ] || fail "the log does not hold 4 steps"
grep -q '"ranks (mpirun -np)":"2"' run.jsonl || fail "the log's settings do not say 2 ranks"
"$normgrad" eval --load model.safetensors --data data >/dev/null || fail "the saved model does not load"

# 2. Mismatched flags: refused by the fingerprint check, status 2, naming the flag.
set +e
out=$("${mpirun[@]}" -np 1 "$normgrad" train --data data --lr 0.05 : -np 1 "$normgrad" train --data data --lr 0.1 2>&1)
status=$?
set -e
echo "$out"
[ "$status" != 0 ] || fail "mismatched flags were not refused"
grep -q "the ranks do not run the same program with the same arguments (rank 1: its argument 5 is '0.1' where rank 0 has '0.05')" <<<"$out" ||
    fail "no fingerprint message naming the differing argument"

# 3. One rank fails: rank 1 starts in an empty folder, where --data data does not exist, while
# rank 0 goes on and waits for it in the first collective. Both end, with rank 1's message.
mkdir empty
set +e
out=$(timeout 60 "${mpirun[@]}" -np 1 -wdir "$dir" "$normgrad" train --data data --max-steps 2 \
    : -np 1 -wdir "$dir/empty" "$normgrad" train --data data --max-steps 2 2>&1)
status=$?
set -e
echo "$out"
[ "$status" != 124 ] || fail "the ranks hung after one failed"
[ "$status" != 0 ] || fail "a failing rank did not fail the run"
grep -q "normgrad train (rank 1 of 2): .*data" <<<"$out" || fail "no message from the failing rank"
echo "cli.sh: all passed"
