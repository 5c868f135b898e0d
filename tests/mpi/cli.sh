#!/usr/bin/env bash
# normgrad train under mpirun with 2 ranks, on a tiny generated data set (256 training and 64
# test images of 28x28, random pixels, labels 0..9):
#   1. a run trains, prints once what each rank does, and rank 0 alone writes the model and log;
#   2. ranks given different flags are refused before anything runs (the fingerprint check);
#   3. a rank that fails (its --data folder is missing) stops both, with its message, not a hang;
#   4. a 2-rank checkpoint resumes on 2 ranks step for step and is refused on 1 process;
#   5. SIGTERM to rank 1 alone stops both ranks after the same step; rank 0 writes the checkpoint.
# Usage: cli.sh NORMGRAD MPIEXEC
set -euo pipefail
normgrad="$1"
mpiexec="$2"
mpirun=("$mpiexec" --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1)
dir="$(mktemp -d)"
pid=""  # the run of part 5, in the background: ended with the script, passed or failed
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT
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
# 4. A checkpoint of 2 ranks resumes on 2 ranks, step for step as the run without a stop, and
# is refused on 1 process.
"${mpirun[@]}" -np 2 "$normgrad" train --data data --batchnorm on --batch 32 --max-steps 6 \
    --no-progress --log whole.jsonl --checkpoint whole.ck >/dev/null 2>&1 || fail "the 6-step run failed"
"${mpirun[@]}" -np 2 "$normgrad" train --data data --batchnorm on --batch 32 --max-steps 3 \
    --checkpoint-every 3 --checkpoint part.ck --no-progress --log part.jsonl >/dev/null 2>&1 ||
    fail "the 3-step run failed"
"${mpirun[@]}" -np 2 "$normgrad" train --data data --batchnorm on --batch 32 --max-steps 6 \
    --resume part.ck --checkpoint part.ck --no-progress --log part.jsonl >/dev/null 2>&1 ||
    fail "the resumed run failed"
losses() { grep '"type":"step"' "$1" | sed 's/.*"loss":\([^,]*\).*/\1/'; }
[ "$(losses whole.jsonl)" = "$(losses part.jsonl)" ] || fail "the resumed run's losses differ"
[ "$(losses part.jsonl | wc -l)" = 6 ] || fail "the resumed log does not hold 6 steps"
set +e
out=$("$normgrad" train --data data --batchnorm on --batch 32 --max-steps 6 --resume part.ck \
    --checkpoint part.ck --no-progress 2>&1)
status=$?
set -e
[ "$status" = 2 ] && grep -q "ranks (mpirun -np) is 2 in the checkpoint and not set now" <<<"$out" ||
    fail "resuming on 1 process was not refused: $out"

# 5. A stop request (SIGTERM) to one rank, rank 1: both ranks stop after the same step (agreed in
# the step) and rank 0 writes the checkpoint. (Ctrl-C on mpirun sends SIGTERM to every rank, and
# SIGKILL 1 s later, too soon on a loaded machine for a test: the rank is signalled directly.)
"${mpirun[@]}" -np 2 "$normgrad" train --data data --batchnorm on --batch 32 --epochs 100000 \
    --no-progress --checkpoint stop.ck >stop.out 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q "^normgrad train: data-parallel" stop.out && break; sleep 0.1; done
sleep 1
rank1=""
for child in $(pgrep -P "$pid"); do
    tr '\0' '\n' <"/proc/$child/environ" | grep -qx "OMPI_COMM_WORLD_RANK=1" && rank1=$child
done
[ -n "$rank1" ] || fail "rank 1's process not found"
kill -TERM "$rank1"
set +e
wait "$pid"
status=$?
set -e
cat stop.out
[ "$status" = 130 ] || fail "the stopped run's status is $status, not 130"
grep -q "^interrupted by a stop request after step [0-9]*: checkpoint written to stop.ck" stop.out ||
    fail "rank 0 did not say it was interrupted (rank 1 was asked; rank 0 saw the request in the step)"
[ -f stop.ck ] || fail "no checkpoint written when stopped"
echo "cli.sh: all passed"
