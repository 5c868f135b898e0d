#!/usr/bin/env python3
"""Loads normgrad checkpoints (safetensors files) into PyTorch tensors, independently of normgrad.

Uses only torch and the standard library (the `safetensors` Python package is not needed), and
applies the safetensors format rules: 8-byte little-endian header length N (at most 100 MB), a
UTF-8 JSON object of N bytes (space padded), then the data section, which the tensors' byte
ranges `data_offsets` must cover exactly. Only dtype F32 is supported, as in normgrad. The CRC-32 of
the whole file in metadata "normgrad.crc32" (computed with its own 8 digits read as "00000000",
see include/normgrad/safetensors.hpp) is verified; a file with normgrad metadata but without it is
refused, as normgrad refuses it.

Usage (from the repository root):

    /usr/bin/python3 tests/reference/check_safetensors_torch.py FILE [FILE ...]
    /usr/bin/python3 tests/reference/check_safetensors_torch.py --reference \\
        build/safetensors_reference.safetensors

The first form loads each file and prints its tensors. --reference also checks every value
against the reference checkpoint the C++ test "checkpoint: reference file for the PyTorch check"
(tests/test_safetensors.cpp) writes into the build directory, bit for bit.

As a library: `from check_safetensors_torch import load_normgrad_checkpoint`.
"""

import argparse
import json
import struct
import sys
import zlib
from collections import OrderedDict

import torch

MAX_HEADER_BYTES = 100_000_000
CHECKSUM_KEY = "normgrad.crc32"
CHECKSUM_FIELD = b'"normgrad.crc32":"'


class CheckpointError(ValueError):
    """A file that is not a valid normgrad safetensors checkpoint; the message names the file."""


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _non_negative_int(value):
    return type(value) is int and value >= 0  # bool is an int subclass: excluded by `type is`


def load_normgrad_checkpoint(path):
    """Returns (OrderedDict name -> float32 torch.Tensor in data order, metadata dict)."""

    def fail(what):
        raise CheckpointError(f"{path}: {what}")

    with open(path, "rb") as f:
        content = f.read()
    if len(content) < 8:
        fail(f"file has {len(content)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", content[:8])
    if n == 0 or n > MAX_HEADER_BYTES or n > len(content) - 8:
        fail(f"header length {n} is invalid (file has {len(content)} bytes)")
    raw = content[8 : 8 + n]
    if not raw.startswith(b"{"):
        fail("header is not a JSON object")
    try:
        header = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError) as e:
        fail(f"header is not valid UTF-8 JSON: {e}")
    data = memoryview(content)[8 + n :]

    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        fail("__metadata__ is not an object of strings")

    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"tensor {name!r}: expected exactly the keys dtype, shape, data_offsets")
        if info["dtype"] != "F32":
            fail(f"tensor {name!r}: dtype {info['dtype']!r} is not supported (expected F32)")
        shape = info["shape"]
        if not isinstance(shape, list) or len(shape) > 4 or not all(map(_non_negative_int, shape)):
            fail(f"tensor {name!r}: shape {shape!r} is not a list of at most 4 non-negative ints")
        offsets = info["data_offsets"]
        if not isinstance(offsets, list) or len(offsets) != 2:
            fail(f"tensor {name!r}: data_offsets {offsets!r} is not [begin, end]")
        begin, end = offsets
        if not (_non_negative_int(begin) and _non_negative_int(end) and begin <= end <= len(data)):
            fail(f"tensor {name!r}: data_offsets {offsets!r} are outside the data section")
        numel = 1
        for d in shape:
            numel *= d
        if end - begin != 4 * numel:
            fail(f"tensor {name!r}: {end - begin} bytes for shape {shape} (expected {4 * numel})")
        entries.append((begin, end, name, shape))

    entries.sort(key=lambda e: (e[0], e[1]))
    position = 0
    for begin, end, name, _ in entries:
        if begin != position:
            fail(f"tensor {name!r} starts at byte {begin}, expected {position} (gap or overlap)")
        position = end
    if position != len(data):
        fail(f"{len(data) - position} bytes of the data section belong to no tensor")

    if any(k.startswith("normgrad.") for k in metadata):
        if CHECKSUM_KEY not in metadata:
            fail(f"normgrad metadata without {CHECKSUM_KEY} (written by an older normgrad?)")
        at = raw.find(CHECKSUM_FIELD)
        if at < 0 or raw.find(CHECKSUM_FIELD, at + 1) >= 0:
            fail(f"the header must hold the text {CHECKSUM_FIELD.decode()} exactly once")
        digits = at + len(CHECKSUM_FIELD)
        zeroed = content[:8] + raw[:digits] + b"00000000" + raw[digits + 8 :]
        crc = zlib.crc32(data, zlib.crc32(zeroed))
        if int(metadata[CHECKSUM_KEY], 16) != crc:
            fail(f"checksum mismatch: the file's CRC-32 is {crc:08x}, metadata has "
                 f"{metadata[CHECKSUM_KEY]}")

    if sys.byteorder != "little":
        raise NotImplementedError("this loader assumes a little-endian machine")
    tensors = OrderedDict()
    for begin, end, name, shape in entries:
        if begin == end:
            tensors[name] = torch.empty(shape, dtype=torch.float32)
        else:
            buf = bytearray(data[begin:end])  # a private, writable copy
            tensors[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(shape)
    return tensors, metadata


# --- The reference checkpoint of tests/test_safetensors.cpp (sample_checkpoint there). ---


def _reference_values(tensor_index, count):
    # C++: static_cast<float>((i * 37 + tensor_index * 11) % 101 - 50) / 8.f, exact in float32.
    return torch.tensor(
        [((i * 37 + tensor_index * 11) % 101 - 50) / 8.0 for i in range(count)],
        dtype=torch.float32,
    )


def _bits(t):
    return t.contiguous().view(torch.int32).reshape(-1).tolist()


def check_reference(tensors, metadata):
    """Raises AssertionError unless this is the C++ test's reference checkpoint, bit for bit."""
    expected = OrderedDict()
    expected["fc.weight"] = _reference_values(0, 12).reshape(3, 4)
    expected["fc.bias"] = _reference_values(1, 3)
    expected["scalar"] = torch.tensor(3.5, dtype=torch.float32)
    expected["conv.weight"] = _reference_values(3, 18).reshape(2, 1, 3, 3)
    expected["empty"] = torch.empty(0, 3, dtype=torch.float32)
    # 0.0, -0.0, +inf, smallest denormal, a NaN with payload 1
    special_bits = [0x00000000, -0x80000000, 0x7F800000, 0x00000001, 0x7FC00001]
    expected["special"] = torch.tensor(special_bits, dtype=torch.int32).view(torch.float32)

    assert list(tensors) == list(expected), f"names/order {list(tensors)} != {list(expected)}"
    for name, want in expected.items():
        got = tensors[name]
        assert got.dtype == torch.float32, f"{name}: dtype {got.dtype}"
        assert tuple(got.shape) == tuple(want.shape), f"{name}: shape {tuple(got.shape)}"
        assert _bits(got) == _bits(want), f"{name}: values {got} != {want}"
    assert metadata.get("format") == "pt", metadata
    assert metadata.get("normgrad.test") == "reference-v1", metadata
    assert metadata.get("note") == 'h\u00e9llo \u2713 "quoted"', metadata
    assert len(metadata.get(CHECKSUM_KEY, "")) == 8, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--reference", action="store_true",
                        help="check the values of the C++ test's reference checkpoint")
    args = parser.parse_args()
    for path in args.files:
        tensors, metadata = load_normgrad_checkpoint(path)
        print(f"{path}: {len(tensors)} tensors, metadata {metadata}")
        for name, t in tensors.items():
            head = t.reshape(-1)[:4].tolist()
            print(f"  {name}: {list(t.shape)} {t.dtype} first values {head}")
        if args.reference:
            check_reference(tensors, metadata)
            print(f"{path}: matches the reference checkpoint bit for bit")
    print("OK")


if __name__ == "__main__":
    main()
