"""The open-addressing pair table (rapkit.kernels.hashtable) counts like np.unique."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rapkit.kernels import hashtable as H


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 5)), max_size=300), st.integers(1, 64))
def test_insert_grow_compact_match_unique_counts(pairs, capacity):
    keys, counts = H.new_table(capacity)
    assert keys.shape[0] >= max(capacity, 16) and keys.shape[0] & (keys.shape[0] - 1) == 0
    used = 0
    want: dict[int, int] = {}
    for g, p, n in pairs:
        keys, counts = H.ensure_room(keys, counts, np.int64(used), np.int64(1))
        used += bool(H.insert(keys, counts, H.pair_key(np.uint32(g), np.uint32(p)), np.int64(n)))
        want[(g << 24) | p] = want.get((g << 24) | p, 0) + n
        assert 2 * used <= keys.shape[0]
    k, c = H.compact(keys, counts)
    assert k.tolist() == sorted(want) and c.tolist() == [want[x] for x in sorted(want)]
    assert used == len(want)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=60))
def test_fold_pair_row_counts_runs_and_carries_the_open_run(row):
    gi = np.array([g for g, _ in row], np.uint32)
    pi = np.array([p for _, p in row], np.uint32)
    keys, counts = H.new_table(2 * len(row) + 2)
    run_g, run_p, run_n, _ = H.fold_pair_row(gi, pi, keys, counts, np.uint32(0), np.uint32(0), np.int64(0))
    H.insert(keys, counts, H.pair_key(run_g, run_p), run_n)  # close the open run
    k, c = H.compact(keys, counts)
    uk, uc = np.unique((gi.astype(np.uint64) << np.uint64(24)) | pi.astype(np.uint64), return_counts=True)
    assert np.array_equal(k, uk) and np.array_equal(c, uc)
