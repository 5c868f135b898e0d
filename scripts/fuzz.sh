#!/usr/bin/env bash
# Bounded fuzzing: builds the libFuzzer targets of fuzz/ in the sanitizer build build-asan/
# (scripts/build.sh asan: clang++, ASan + UBSan + libFuzzer coverage) and runs each for N seconds
# (default 30) on a copy of its corpus.
# Usage: scripts/fuzz.sh [seconds-per-target] [target ...]   (targets: idx checkpoint cli arch)
# Exits non-zero if any target crashes, leaks, times out (10 s per input) or exceeds 2 GB of
# memory, printing where the input was saved. The committed corpora (fuzz/corpus/<target>/) are
# never modified: new inputs stay in build-asan/fuzz-run/<target>/corpus/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(idx checkpoint cli arch)
case "$seconds" in
    '' | *[!0-9]*) echo "scripts/fuzz.sh: seconds must be a positive integer, got '$seconds'" >&2; exit 2 ;;
esac

dir="$root/build-asan"
echo "== Fuzz targets (build-asan: clang++, libFuzzer + ASan + UBSan)"
"$root/scripts/build.sh" asan "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Each libFuzzer process uses one core: as many targets run at once as there are cores (on CI's
# 2 cores, the four targets take twice their seconds rather than four times).
jobs=$(nproc 2>/dev/null || echo 2)
declare -A pid=()
start_target() {
    local t="$1" run="$dir/fuzz-run/$1" dict=()
    rm -rf "$run"
    mkdir -p "$run/corpus" "$run/artifacts"
    cp -r "$root/fuzz/corpus/$t/." "$run/corpus/"
    [ -d "$root/fuzz/regressions/$t" ] && cp -r "$root/fuzz/regressions/$t/." "$run/corpus/"
    [ -f "$root/fuzz/$t.dict" ] && dict=(-dict="$root/fuzz/$t.dict")
    echo "== fuzz_$t for ${seconds} s (log: $run/log)"
    "$dir/fuzz/fuzz_$t" "$run/corpus" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -timeout=10 -artifact_prefix="$run/artifacts/" -print_final_stats=1 >"$run/log" 2>&1 &
    pid[$t]=$!
}
failed=()
finish_target() {
    local t="$1" run="$dir/fuzz-run/$1" rc=0
    wait "${pid[$t]}" || rc=$?
    echo "== fuzz_$t:"
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^Done ' "$run/log" || true
    if [ "$rc" -ne 0 ]; then
        failed+=("$t")
        tail -n 60 "$run/log"
        for f in "$run/artifacts"/*; do
            [ -e "$f" ] || continue
            echo "fuzz_$t: FAILED (exit $rc); input saved to $f"
            echo "  reproduce: $dir/fuzz/fuzz_$t $f"
            echo "  keep as a regression test: mkdir -p $root/fuzz/regressions/$t && cp $f $root/fuzz/regressions/$t/"
        done
        [ -n "$(ls -A "$run/artifacts")" ] || echo "fuzz_$t: FAILED (exit $rc), no input saved"
    fi
}
# In batches of $jobs, each reported once it ends.
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
    batch=("${targets[@]:i:jobs}")
    for t in "${batch[@]}"; do start_target "$t"; done
    for t in "${batch[@]}"; do finish_target "$t"; done
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "scripts/fuzz.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "scripts/fuzz.sh: no failures in ${targets[*]} (${seconds} s each)"
