# Helpers for the bench scripts that time `normgrad train` runs against each other
# (avx2_paths.sh, wait_policy.sh, models_vs_commit.sh, threads_vs_commit.sh). Sourced, not
# run.

# epoch_seconds LOG: the seconds of the training loop of the last epoch in a run log (--log).
epoch_seconds() {
    /usr/bin/python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if '\"type\":\"epoch\"' in l][-1]['train_seconds'])" "$1"
}

# cpu_model: the processor's name (/proc/cpuinfo), for the first lines of a report.
cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'; }
# cpu_flags_line: which of the instruction sets normgrad's kernels are built for it has.
cpu_flags_line() {
    local flags
    flags="$(grep -m1 '^flags' /proc/cpuinfo)"
    if [[ " $flags " == *" avx512f "* ]]; then echo "AVX2 and AVX-512"
    elif [[ " $flags " == *" avx2 "* ]]; then echo "AVX2, no AVX-512"
    else echo "no AVX2"; fi
}

# median A B C ...: the middle one of an odd number of times, to two decimals.
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p" | xargs printf %.2f; }

# ratio NEW OLD: NEW / OLD to two decimals.
ratio() { /usr/bin/python3 -c "print(f'{$1 / $2:.2f}')"; }

# build_commit COMMIT DIR: builds normgrad's command line at COMMIT in DIR/COMMIT (a git worktree,
# made once) and prints the binary's path.
build_commit() {
    local src="$2/$1"
    [ -d "$src" ] || git worktree add --detach "$src" "$1" >/dev/null
    (cd "$src" && cmake --preset release -DNORMGRAD_BUILD_TESTS=OFF -DNORMGRAD_BUILD_BENCH=OFF \
        >/dev/null && cmake --build build --target normgrad_cli >/dev/null)
    echo "$src/build/normgrad"
}

# old_normgrad SCRIPT COMMIT DIR: for a comparison of this version with COMMIT. Refuses a COMMIT
# that is not one of this repository (naming SCRIPT), builds this version's command line, fetches
# MNIST, and prints the path of COMMIT's binary: $OLD_NORMGRAD when set, else built in DIR/COMMIT.
old_normgrad() {
    git rev-parse --verify --quiet "$2^{commit}" >/dev/null ||
        { echo "$1: $2 is not a commit of this repository" >&2; return 2; }
    scripts/build.sh release normgrad_cli >/dev/null
    data/fetch_mnist.sh >/dev/null
    if [ -n "${OLD_NORMGRAD:-}" ]; then
        echo "$OLD_NORMGRAD"
    else
        build_commit "$2" "$3"
    fi
}

# start_busy, stop_busy: one other process spinning on one core (a shell loop), for the runs
# "beside a busy process". stop_busy may be called when none runs (scripts trap it on EXIT).
busy=
start_busy() {
    sh -c 'while :; do :; done' &
    busy=$!
    sleep 1
}
stop_busy() {
    [ -n "$busy" ] && kill "$busy" 2>/dev/null
    busy=
}

# vs_commit_setup SCRIPT NAME [COMMIT [OUT]]: the arguments of SCRIPT, a comparison of this
# version with COMMIT (a usage error naming SCRIPT without one). Sets commit, out (default
# docs/results/NAME-vs-COMMIT.md), dir (runs/vs-commit, made with out's folder) and old
# (old_normgrad's binary).
vs_commit_setup() {
    local script="$1" name="$2"
    shift 2
    if [ $# -lt 1 ]; then
        echo "usage: $script COMMIT [OUT]" >&2
        exit 2
    fi
    commit="$1"
    out="${2:-docs/results/$name-vs-$commit.md}"
    dir=runs/vs-commit
    mkdir -p "$dir" "$(dirname "$out")"
    old="$(old_normgrad "$script" "$commit" "$dir")"
}
