#!/usr/bin/env python3
"""Writes the fuzzers' seeds near the limits into ReaderFuzzTestInputs/ (ReaderFuzzTest replays them in every
./test; ./fuzz mutates from them). Each is a VALID file at an edge the readers check: a shape whose size fits
63 bits only just, empty shapes with huge dimensions, a 400-character number (the limit), int64 and float64
extremes, bool bytes other than 0 and 1, zero-length sequences. Mutating one byte of these reaches the
invalid side of the same check. Crashes the fuzzers find are added beside them by Jazzer (crash-*), renamed.

Run from this directory:  python3 make_fuzz_seeds.py   (needs NumPy)
"""
import struct

import numpy as np

OUT = "ReaderFuzzTestInputs/"


def npy(name, header, data=b"", version=1):
    h = header.encode("latin1")
    prefix = 10 if version == 1 else 12
    h = h + b" " * ((-(prefix + len(h) + 1)) % 64) + b"\n"
    size = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    with open(OUT + "npy/" + name, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + size + h + data)


def text(name, content):
    with open(OUT + "jsonl/" + name, "wb") as f:
        f.write(content)


# (2^61 - 1) * 4 bytes = 2^63 - 4: the largest int32 shape whose size fits, empty because of its 0
npy("seed_empty_rows_widest.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (0, 2305843009213693951), }")
npy("seed_empty_timesteps.npy", "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 0, 7), }")
npy("seed_bool_bytes.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 4), }", bytes([0, 1, 2, 255, 128, 0, 7, 1]))
npy("seed_v2_float16_edges.npy", "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 6), }",
    np.array([65504, -65504, np.inf, np.nan, -0.0, 6e-8], dtype="<f2").tobytes(), version=2)
npy("seed_five_dims_int64.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1, 1, 1, 2), }",
    np.array([-2**63, 2**63 - 1, 0, -1], dtype="<i8").tobytes())
npy("seed_int32_extremes.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
    np.array([-2**31, 2**31 - 1, 0, 1, -1, 7], dtype="<i4").tobytes())
npy("seed_uint16_one_dim.npy", "{'descr': '<u2', 'fortran_order': False, 'shape': (5,), }",
    np.array([0, 1, 255, 256, 65535], dtype="<u2").tobytes())

text("seed_400_char_number.jsonl", b"[1, 2]\n[0." + b"1234567890" * 39 + b"12345678]\n")
text("seed_int64_extremes.jsonl", b"[-9223372036854775808, 9223372036854775807]\n[0]\n")
text("seed_float64_edges.jsonl", b"[1.7976931348623157e308, 4.9e-324, -0.0, 2.2250738585072014e-308]\n")
text("seed_features_crlf.jsonl", b"[[1, 2], [3, 4]]\r\n[]\r\n[[5, 6]]\r\n")


def megatron(name, code, lengths, tokens, doc_idx, itemsize):
    pointers, p = [], 0
    for n in lengths:
        pointers.append(p)
        p += n * itemsize
    idx = (b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", code) + struct.pack("<Q", len(lengths))
           + struct.pack("<Q", len(doc_idx)) + struct.pack(f"<{len(lengths)}i", *lengths)
           + struct.pack(f"<{len(pointers)}q", *pointers) + struct.pack(f"<{len(doc_idx)}q", *doc_idx))
    # ReaderFuzzTest.megatron: bytes 0-1 (big-endian) give the .idx length, bytes 2-3 are unused
    with open(OUT + "megatron/" + name, "wb") as f:
        f.write(struct.pack(">H", len(idx)) + b"\x00\x00" + idx + tokens)


megatron("seed_zero_length_sequences", 8, [0, 0, 3], np.array([1, 65535, 0], dtype="<u2").tobytes(), [0, 2, 3], 2)
megatron("seed_int64_tokens", 5, [2], np.array([-2**63, 2**63 - 1], dtype="<i8").tobytes(), [0, 1], 8)
