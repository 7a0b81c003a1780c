"""The fixed-Huffman tables of deflate (RFC 1951, 3.2.6), as numpy arrays.

Shared by the PNG encoder kernel (:mod:`rapkit.kernels.png_encode`) and its Python twin
(:mod:`rapkit.kernels._reference_png_encode`); numpy only.

>>> codes, lens, lsym, lext, lval = FIXED_TABLES
>>> int(lens[0]), int(lens[256]), int(lsym[258]), int(lext[258])
(8, 7, 285, 0)
"""

from __future__ import annotations

import numpy as np

#: the modulus of zlib's Adler-32 checksum
ADLER_MOD = 65521


def fixed_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, lens, lsym, lext, lval)``: the bit-reversed fixed Huffman code and its length
    of each literal/length symbol (288), and for each match length 3..258 its length symbol,
    number of extra bits and extra-bits value (259 entries, indexed by length)."""
    codes = np.zeros(288, np.int64)
    lens = np.zeros(288, np.int64)
    for s in range(288):
        if s < 144:
            c, n = 0x30 + s, 8
        elif s < 256:
            c, n = 0x190 + s - 144, 9
        elif s < 280:
            c, n = s - 256, 7
        else:
            c, n = 0xC0 + s - 280, 8
        codes[s] = int(format(c, f"0{n}b")[::-1], 2)  # Huffman codes are sent MSB first
        lens[s] = n
    base = [
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        13,
        15,
        17,
        19,
        23,
        27,
        31,
        35,
        43,
        51,
        59,
        67,
        83,
        99,
        115,
        131,
        163,
        195,
        227,
        258,
    ]
    extra = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
    lsym = np.zeros(259, np.int64)
    lext = np.zeros(259, np.int64)
    lval = np.zeros(259, np.int64)
    for k in range(29):
        hi = 258 if k == 28 else min(base[k] + (1 << extra[k]) - 1, 257)
        for length in range(base[k], hi + 1):
            lsym[length] = 257 + k
            lext[length] = extra[k]
            lval[length] = length - base[k]
    return codes, lens, lsym, lext, lval


FIXED_TABLES = fixed_tables()
