#!/usr/bin/env python3
"""Writes the bad-input corpus: one hostile or malformed file per case, each asserted by BadInputCorpusTest.

Run from this directory:  python3 make_bad.py   (needs NumPy only for the structured-dtype case).
Files found by the fuzzers are added here by hand, with a line in BadInputCorpusTest. The arrow_*.arrow files
are written by src/test/java/io/cubatch/store/MakeArrowBadFiles.java (they need an Arrow flatbuffer writer).
"""
import struct

import numpy as np


def npy(header: str, data: bytes = b"", version=1, magic=b"\x93NUMPY", length=None):
    h = header.encode("latin1")
    prefix = 10 if version == 1 else 12
    pad = (-(prefix + len(h) + 1)) % 64
    h = h + b" " * pad + b"\n"
    n = len(h) if length is None else length
    size = struct.pack("<H", n) if version == 1 else struct.pack("<I", n)
    return magic + bytes([version, 0]) + size + h + data


def put(name, content):
    with open(name, "wb") as f:
        f.write(content)


I4_24 = np.arange(24, dtype="<i4").tobytes()
GOOD = "{'descr': '<i4', 'fortran_order': False, 'shape': (4, 6), }"

put("npy_empty.npy", b"")
put("npy_bad_magic.npy", npy(GOOD, I4_24, magic=b"\x93NUMPX"))
put("npy_version_9.npy", npy(GOOD, I4_24)[:6] + bytes([9, 0]) + npy(GOOD, I4_24)[8:])
put("npy_header_past_end.npy", npy(GOOD, b"", length=4000))
put("npy_truncated_prefix.npy", b"\x93NUMPY\x02\x00\x10")
put("npy_truncated_data.npy", npy(GOOD, I4_24[:-4]))
put("npy_trailing_bytes.npy", npy(GOOD, I4_24 + b"\x00" * 8))
put("npy_shape_mismatch.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (5, 6), }", I4_24))
put("npy_fortran.npy", npy("{'descr': '<i4', 'fortran_order': True, 'shape': (4, 6), }", I4_24))
put("npy_bigendian.npy", npy("{'descr': '>i4', 'fortran_order': False, 'shape': (4, 6), }", I4_24))
put("npy_object.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (4, 6), }", I4_24))
put("npy_uint32.npy", npy("{'descr': '<u4', 'fortran_order': False, 'shape': (4, 6), }", I4_24))
put("npy_structured.npy", npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (24,), }", I4_24))
put("npy_unknown_key.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4, 6), 'x': 1}", I4_24))
put("npy_missing_shape.npy", npy("{'descr': '<i4', 'fortran_order': False, }", I4_24))
put("npy_duplicate_key.npy", npy("{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (4, 6), }", I4_24))
put("npy_negative_dim.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (-4, 6), }", I4_24))
put("npy_overflow_shape.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }", I4_24))
put("npy_huge_dim.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999999999999, 4), }", I4_24))
put("npy_zero_dims.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", I4_24[:4]))
put("npy_huge_header_length.npy", npy(GOOD, I4_24, version=2, length=0xFFFFFFFF))
put("npy_unterminated_dict.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4, 6)", I4_24))
put("npy_non_ascii_header.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4, 6), }\xe9", I4_24))


def idx(magic=b"MMIDIDX\x00\x00", version=1, code=8, seqs=None, docs=None, lengths=None, pointers=None,
        doc_idx=None, extra=b"", itemsize=2):
    lengths = [3, 1, 0, 2] if lengths is None else lengths
    if pointers is None:
        pointers, p = [], 0
        for n in lengths:
            pointers.append(p)
            p += n * itemsize
    doc_idx = [0, 2, 4] if doc_idx is None else doc_idx
    seqs = len(lengths) if seqs is None else seqs
    docs = len(doc_idx) if docs is None else docs
    return (magic + struct.pack("<Q", version) + struct.pack("<B", code) + struct.pack("<Q", seqs)
            + struct.pack("<Q", docs) + struct.pack(f"<{len(lengths)}i", *lengths)
            + struct.pack(f"<{len(pointers)}q", *pointers) + struct.pack(f"<{len(doc_idx)}q", *doc_idx) + extra)


BIN = np.array([1, 2, 3, 4, 5, 6], dtype="<u2").tobytes()


def megatron(name, index, binary=BIN):
    put(name + ".idx", index)
    put(name + ".bin", binary)


megatron("mm_truncated_header", idx()[:20])
megatron("mm_bad_magic", idx(magic=b"MMIDIDY\x00\x00"))
megatron("mm_version_2", idx(version=2))
megatron("mm_dtype_9", idx(code=9))
megatron("mm_sequence_count_huge", idx(seqs=2 ** 61))
megatron("mm_sequence_count_negative", idx(seqs=2 ** 64 - 1))
megatron("mm_document_count_zero", idx(docs=0))
megatron("mm_negative_length", idx(lengths=[3, -1, 0, 2]))
megatron("mm_pointer_gap", idx(pointers=[0, 8, 10, 10]))
megatron("mm_bin_short", idx(), BIN[:-2])
megatron("mm_bin_long", idx(), BIN + b"\x00\x00")
megatron("mm_document_index_decreasing", idx(doc_idx=[0, 3, 2, 4]))
megatron("mm_document_index_last_wrong", idx(doc_idx=[0, 2, 3]))
megatron("mm_document_index_first_wrong", idx(doc_idx=[1, 2, 4]))
megatron("mm_trailing_bytes", idx(extra=b"\x00\x00\x00"))

put("jsonl_not_array.jsonl", b'[1, 2]\n{"tokens": [1, 2]}\n')
put("jsonl_string.jsonl", b'[1, "2", 3]\n')
put("jsonl_nan.jsonl", b"[1, 2]\n[1, NaN]\n")
put("jsonl_ragged_features.jsonl", b"[[1, 2], [3, 4]]\n[[5, 6], [7]]\n")
put("jsonl_mixed_scalars_then_vectors.jsonl", b"[1, 2]\n[[1, 2]]\n")
put("jsonl_mixed_in_line.jsonl", b"[[1, 2], 3]\n")
put("jsonl_blank_line.jsonl", b"[1]\n\n[2]\n")
put("jsonl_two_arrays.jsonl", b"[1] [2]\n")
put("jsonl_unclosed.jsonl", b"[1, 2\n")
put("jsonl_null.jsonl", b"[1, null]\n")
put("jsonl_big_integer.jsonl", b"[1, 99999999999999999999999]\n")
put("jsonl_too_deep.jsonl", b"[[[1]]]\n")
put("jsonl_bad_utf8.jsonl", b"[1]\n[2, \xff]\n")
put("jsonl_empty_vector.jsonl", b"[[]]\n")
put("jsonl_float_overflow.jsonl", b"[1e400]\n")
put("jsonl_bare_number.jsonl", b"42\n")

# issue 14: sizes that overflow only in a partial product (the total is 0), and numbers past the parser's limit
put("npy_empty_shape_overflow.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4611686018427387904, 4, 0), }"))
put("npy_empty_features_overflow.npy",
    npy("{'descr': '<i4', 'fortran_order': False, 'shape': (0, 1, 4611686018427387904, 4), }"))
put("jsonl_500_digits.jsonl", b"[1, 2]\n[3, " + b"1234567890" * 50 + b"]\n")
put("jsonl_500_digit_float.jsonl", b"[0." + b"1234567890" * 50 + b"]\n")

# issue 14: accepted, but not as raw bytes: a bool array holding bytes other than 0 and 1 reads as NumPy
# reads it (any nonzero byte is True, 1) on every backend; BadInputCorpusTest and BoolBytesTest assert it
put("npy_bool_bytes.npy", npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 8), }",
                              bytes([0, 1, 2, 255, 128, 0, 1, 3, 255, 0, 0, 7, 1, 1, 0, 2])))
