#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: a few valid and near-valid IDX and safetensors
files (tiny, deterministic). Run from anywhere: python3 tests/fuzz/make_corpus.py"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(data)


# ---- IDX: {0, 0, type code, rank}, big-endian uint32 sizes, big-endian elements ----
FMT = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}


def idx(code, dims, values=None):
    n = 1
    for d in dims:
        n *= d
    if values is None:
        values = [(i * 7) % 100 - (0 if FMT[code] == "B" else 50) for i in range(n)]
    return (bytes([0, 0, code, len(dims)]) + struct.pack(">%dI" % len(dims), *dims) +
            struct.pack(">%d%s" % (n, FMT[code]), *values))


write("corpus_idx", "ubyte_images.idx", idx(0x08, [2, 3, 3]))
write("corpus_idx", "ubyte_labels.idx", idx(0x08, [6], [0, 1, 2, 7, 8, 9]))
write("corpus_idx", "sbyte.idx", idx(0x09, [4]))
write("corpus_idx", "short.idx", idx(0x0B, [2, 2]))
write("corpus_idx", "int.idx", idx(0x0C, [3]))
write("corpus_idx", "float.idx", idx(0x0D, [2, 2], [0.5, -1.0, 3.25, 1e30]))
write("corpus_idx", "double.idx", idx(0x0E, [2], [0.1, -2.5]))
write("corpus_idx", "scalar.idx", idx(0x08, [], [42]))
write("corpus_idx", "zero_dim.idx", idx(0x0C, [0, 5], []))
write("corpus_idx", "gzip.idx.gz", gzip.compress(idx(0x08, [2, 4]), mtime=0))
write("corpus_idx", "gzip_float.idx.gz", gzip.compress(idx(0x0D, [3], [1.0, 2.0, 3.0]), mtime=0))
# near-valid: one byte short, one byte extra, a truncated gzip, an unknown type code
write("corpus_idx", "truncated.idx", idx(0x08, [2, 3])[:-1])
write("corpus_idx", "trailing.idx", idx(0x0B, [2]) + b"\x00")
write("corpus_idx", "gzip_truncated.idx.gz", gzip.compress(idx(0x08, [8]), mtime=0)[:-6])
write("corpus_idx", "bad_code.idx", bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]))


# ---- safetensors: little-endian u64 header length, JSON header, raw little-endian data ----
def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype code, shape, raw bytes) in data order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


f32 = ("w", "F32", [2, 2], struct.pack("<4f", 1.0, -2.0, 0.5, 3.0))
f64 = ("b", "F64", [2], struct.pack("<2d", 0.25, -1e-300))
i64 = ("step", "I64", [], struct.pack("<q", 1234))
u8 = ("mask", "U8", [3], bytes([0, 1, 255]))
write("corpus_safetensors", "model.st",
      safetensors([f64, f32, i64, u8], {"format": "pt", "step": "7"}))
write("corpus_safetensors", "empty.st", safetensors([]))
write("corpus_safetensors", "zero_size.st", safetensors([("e", "F32", [0, 3], b"")]))
write("corpus_safetensors", "unpadded.st", safetensors([u8], pad=False))
write("corpus_safetensors", "optimizer.st",
      safetensors([("state.0.exp_avg", "F32", [3], struct.pack("<3f", 0.1, 0.2, 0.3)),
                   ("param_groups.0.lr", "F64", [], struct.pack("<d", 1e-3))]))
# near-valid: a gap between tensors, a trailing byte, an unknown dtype, a truncated file
good = safetensors([f32, u8])
write("corpus_safetensors", "trailing.st", good + b"\x00")
write("corpus_safetensors", "truncated.st", good[:-2])
write("corpus_safetensors", "bf16.st", safetensors([("h", "BF16", [2], b"\x80\x3f\x00\x40")]))
gap = json.dumps({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                  "b": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}}).encode()
write("corpus_safetensors", "gap.st", struct.pack("<Q", len(gap)) + gap + b"abcde")

# ---- issue 17: hostile nesting and gzip bombs ----
# Nesting near the header's 64-level cap, in every place it can hide: a tensor's value,
# __metadata__, inside shape, under an unknown key. (A FIFO, the other hostile input of issue 17,
# cannot live in a corpus: test_misuse_io and test_idx make one with mkfifo.)
def raw_header(text, data=b""):
    text = text.encode()
    return struct.pack("<Q", len(text)) + text + data


def nest(depth):
    return "[" * depth + "]" * depth


write("corpus_safetensors", "nested_63.st", raw_header('{"a":%s}' % nest(63)))
write("corpus_safetensors", "nested_64.st", raw_header('{"a":%s}' % nest(64)))
write("corpus_safetensors", "nested_metadata.st",
      raw_header('{"__metadata__":{"k":%s}}' % nest(70)))
write("corpus_safetensors", "nested_shape.st",
      raw_header('{"w":{"dtype":"U8","shape":[%s],"data_offsets":[0,1]}}' % nest(70), b"x"))
write("corpus_safetensors", "nested_unused_key.st",
      raw_header('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":%s}}' % nest(70), b"x"))
# The crash itself (SIGSEGV before the fix): 100k levels, 200 KB; a regression, not a seed (it
# would make libFuzzer's inputs 200 KB long).
write("regressions", "safetensors_nested_100k.st", raw_header('{"a":%s}' % nest(100000)))
# gzip: a stream longer than its header declares (only declared + 1 bytes may be inflated), and
# a header declaring 2 GiB (above the 1 GiB gzip cap) in front of a few bytes.
write("corpus_idx", "gzip_longer_than_declared.idx.gz",
      gzip.compress(idx(0x08, [4], [1, 2, 3, 4]) + bytes(4096), mtime=0))
write("corpus_idx", "gzip_above_cap.idx.gz",
      gzip.compress(bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2, 1 << 30) + bytes(16), mtime=0))
