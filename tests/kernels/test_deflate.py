"""The fixed-Huffman tables of deflate (rapkit.kernels.deflate) against RFC 1951, 3.2.5-3.2.6."""

from __future__ import annotations

import zlib

import numpy as np

from rapkit.kernels import deflate

#: the base match length of the length symbols 257..285
BASE_LENGTHS = "3 4 5 6 7 8 9 10 11 13 15 17 19 23 27 31 35 43 51 59 67 83 99 115 131 163 195 227 258"


def _bits(tables, symbols):
    """The bit string of ``symbols`` with the fixed code (codes are stored bit-reversed: sent LSB first)."""
    codes, lens = tables[0], tables[1]
    return "".join(format(int(codes[s]), f"0{int(lens[s])}b")[::-1] for s in symbols)


def test_fixed_tables_are_rfc_1951s():
    tables = deflate.fixed_tables()
    codes, lens, lsym, lext, lval = tables
    for got, cached in zip(tables, deflate.FIXED_TABLES):  # a pure function: the module's copy is the same
        assert np.array_equal(got, cached)
    # literal/length code lengths 8 (0-143), 9 (144-255), 7 (256-279), 8 (280-287): a complete prefix code
    assert np.array_equal(lens, np.repeat([8, 9, 7, 8], [144, 112, 24, 8]))
    assert sum(2.0 ** -int(n) for n in lens) == 1.0
    words = {format(int(c), f"0{int(n)}b")[::-1] for c, n in zip(codes, lens)}
    assert len(words) == 288 and not any(a != b and b.startswith(a) for a in words for b in words)
    # every match length 3..258: its symbol's base length (RFC 1951, 3.2.5) plus its extra bits
    base = dict(zip(range(257, 286), map(int, BASE_LENGTHS.split())))
    for length in range(3, 259):
        s, n, v = int(lsym[length]), int(lext[length]), int(lval[length])
        assert base[s] + v == length and 0 <= v < (1 << n), length
    assert (int(lsym[258]), int(lext[258])) == (285, 0) and (int(lsym[257]), int(lext[257])) == (284, 5)


def test_a_fixed_block_made_from_the_tables_inflates_with_zlib():
    """Literals, a match (its length symbol and extra bits from the tables) and the end of
    block, as the PNG encoder writes them: zlib inflates the original bytes."""
    tables = deflate.fixed_tables()
    _, _, lsym, lext, lval = tables
    bits = "1" + "10"  # BFINAL = 1, then BTYPE = 01 (fixed), least significant bit first
    bits += _bits(tables, list(b"abc"))
    length, dist_code = 20, 2  # copy 20 bytes from 3 back (distance 3 = code 2, no extra bits)
    bits += _bits(tables, [int(lsym[length])])
    bits += format(int(lval[length]), f"0{int(lext[length])}b")[::-1]  # extra bits, LSB first
    bits += format(dist_code, "05b")  # fixed 5-bit distance code, MSB first
    bits += _bits(tables, [256])  # end of block
    bits += "0" * (-len(bits) % 8)
    raw = bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))
    assert zlib.decompress(raw, -15) == b"abc" + (b"abc" * 7)[:20]
