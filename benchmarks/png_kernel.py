"""Benchmark: the fused PNG unfilter + pair-histogram kernel of PQ evaluation, in process.

It times only the kernel call that ``rapkit evaluate`` makes per image
(:func:`rapkit.kernels.pq.pair_keys_png`: two inflated PNGs -> the counted (GT id, predicted
id) pixel pairs) against, in the same run:

* ``previous``: the kernel this one replaced (per-pixel unfiltering with a Paeth shortcut,
  per-pixel id construction and run folding, zero-residual Up rows re-added), kept below
  verbatim as the baseline;
* ``PIL + np.unique``: Pillow decode of both PNGs, ``rgb2id`` and ``np.unique`` of the pair
  keys (panopticapi's way), timed on ``--pil`` pairs (it is about 20x slower).

Inputs: the GT/prediction PNG folders of ``benchmarks/evaluate.py`` (``--data DIR`` as kept
by ``evaluate.py --data DIR``; without it ``--n`` pairs of its default ``coco`` case are
generated: Pillow-written, adaptive filters). The PNGs are read and parsed once; before each
timed call the pair is inflated again (not timed), so the kernel meets the inflated bytes in
the caches as it does in ``rapkit evaluate``. Each pass times every pair once with each
kernel (alternating which goes first); the best and the median pass are printed, as CPU
seconds of the thread (``time.thread_time``: not counting time the process waits for a
core) and wall seconds, with the load average.

Correctness: every pair's keys and counts from the new kernel ``==`` the previous kernel's and
``==`` PIL decode + ``np.unique`` (all ``--n`` pairs unless ``--check`` says fewer).

``--filters K`` also re-filters the first K pairs with one filter type for every row (None,
Sub, Up, Average, Paeth; pixels unchanged) and times both kernels per type: the cost of each
filter type.

    .venv/bin/python benchmarks/png_kernel.py --data /tmp/evcoco --n 300
    .venv/bin/python benchmarks/png_kernel.py --n 100 --passes 3 --filters 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

from rapkit.kernels.hashtable import compact, ensure_room, insert, new_table, pair_key
from rapkit.kernels.png import _unfilter_row
from rapkit.kernels.pq import pair_keys_png

U1 = np.uint64(1)
U2 = np.uint64(2)
U3 = np.uint64(3)


# --------------------------------------------------------------------------- the previous kernel (baseline)
@njit(cache=True, nogil=True)
def _zero_up_row(ftype: np.int64, src: np.ndarray) -> bool:
    """True when the row is Up-filtered with all residuals zero: it repeats the row above."""
    if ftype != 2:
        return False
    acc = np.uint8(0)
    for i in range(src.shape[0]):
        acc |= src[i]
    return acc == 0


@njit(cache=True, nogil=True)
def _fold_rgb_row(
    g: np.ndarray, p: np.ndarray, keys: np.ndarray, counts: np.ndarray, rk: np.ndarray, rc: np.ndarray
) -> tuple:
    """Fold one pair of unfiltered RGB rows into the table; the row's runs (keys, counts) are
    also written to ``rk``/``rc`` so that a repeated row can add them again. Runs end at the
    row's end. Returns (number of runs, number of new keys)."""
    n = np.uint64(g.shape[0] // 3)
    run_g = np.uint32(g[0]) | (np.uint32(g[1]) << 8) | (np.uint32(g[2]) << 16)
    run_p = np.uint32(p[0]) | (np.uint32(p[1]) << 8) | (np.uint32(p[2]) << 16)
    run_n = np.int64(1)
    nr = np.int64(0)
    new = np.int64(0)
    for x in range(U1, n):
        j = x * U3
        gi = np.uint32(g[j]) | (np.uint32(g[j + U1]) << 8) | (np.uint32(g[j + U2]) << 16)
        pi = np.uint32(p[j]) | (np.uint32(p[j + U1]) << 8) | (np.uint32(p[j + U2]) << 16)
        if gi == run_g and pi == run_p:
            run_n += 1
        else:
            key = pair_key(run_g, run_p)
            new += insert(keys, counts, key, run_n)
            rk[nr] = key
            rc[nr] = run_n
            nr += 1
            run_g = gi
            run_p = pi
            run_n = 1
    key = pair_key(run_g, run_p)
    new += insert(keys, counts, key, run_n)
    rk[nr] = key
    rc[nr] = run_n
    nr += 1
    return nr, new


@njit(cache=True, nogil=True)
def _pair_rgb_kernel(
    raw_g: np.ndarray, raw_p: np.ndarray, h: np.int64, w: np.int64, keys: np.ndarray, counts: np.ndarray
) -> tuple:
    # :func:`_pair_png_kernel` for two RGB PNGs. A row that is Up-filtered with zero residuals
    # in both PNGs repeats the previous pair of rows: it is neither unfiltered nor folded, its
    # runs (kept from the last folded row) are added again, once per streak of repeats.
    s = w * 3
    gbuf = np.zeros((2, s), np.uint8)
    pbuf = np.zeros((2, s), np.uint8)
    gk = 0
    pk = 0
    rk = np.zeros(w, np.uint64)
    rc = np.zeros(w, np.int64)
    nr = np.int64(0)
    rep = np.int64(0)
    used = np.int64(0)
    for y in range(h):
        og = y * (s + 1)
        fg = np.int64(raw_g[og])
        fp = np.int64(raw_p[og])
        src_g = raw_g[og + 1 : og + 1 + s]
        src_p = raw_p[og + 1 : og + 1 + s]
        g_same = y > 0 and _zero_up_row(fg, src_g)
        p_same = y > 0 and _zero_up_row(fp, src_p)
        if g_same and p_same:
            rep += 1
            continue
        if rep > 0:
            for i in range(nr):
                insert(keys, counts, rk[i], rc[i] * rep)  # keys already in the table
            rep = 0
        if not g_same:
            if not _unfilter_row(fg, src_g, gbuf[gk], gbuf[1 - gk], np.int64(3)):
                return keys, counts, used, y, 0
            gk = 1 - gk
        if not p_same:
            if not _unfilter_row(fp, src_p, pbuf[pk], pbuf[1 - pk], np.int64(3)):
                return keys, counts, used, y, 1
            pk = 1 - pk
        keys, counts = ensure_room(keys, counts, used, w + 1)
        nr, new = _fold_rgb_row(gbuf[gk], pbuf[pk], keys, counts, rk, rc)
        used += new
    if rep > 0:
        for i in range(nr):
            insert(keys, counts, rk[i], rc[i] * rep)
    return keys, counts, used, -1, 0


def previous_pair_keys_png(raw_gt, bpp_gt, raw_pred, bpp_pred, h, w, capacity=4096):
    """The previous ``pair_keys_png`` for two RGB PNGs (the benchmark's inputs)."""
    assert bpp_gt == 3 and bpp_pred == 3
    keys, counts = new_table(capacity)
    keys, counts, _, bad, _ = _pair_rgb_kernel(raw_gt, raw_pred, np.int64(h), np.int64(w), keys, counts)
    assert bad < 0
    return compact(keys, counts)


# --------------------------------------------------------------------------- inputs


def pil_pair_keys(gt_path: Path, pred_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """panopticapi's way: PIL decode, rgb2id, np.unique of the pair keys."""
    from PIL import Image

    def ids(p):
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB"), np.uint32)
        return a[..., 0] + 256 * a[..., 1] + 65536 * a[..., 2]

    key = ids(gt_path).astype(np.uint64).ravel() << np.uint64(24) | ids(pred_path).astype(np.uint64).ravel()
    k, c = np.unique(key, return_counts=True)
    return k, c.astype(np.int64)


def refilter(px: np.ndarray, ft: int) -> np.ndarray:
    """Inflated PNG bytes of the (h, w, 3) image ``px`` with filter type ``ft`` on every row."""
    h, w, c = px.shape
    x = px.reshape(h, w * c).astype(np.int32)
    a = np.zeros_like(x)
    a[:, c:] = x[:, :-c]
    b = np.zeros_like(x)
    b[1:] = x[:-1]
    cc = np.zeros_like(x)
    cc[1:, c:] = x[:-1, :-c]
    if ft == 0:
        pred = np.zeros_like(x)
    elif ft == 1:
        pred = a
    elif ft == 2:
        pred = b
    elif ft == 3:
        pred = (a + b) >> 1
    else:
        p = a + b - cc
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - cc)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, cc))
    out = np.empty((h, 1 + w * c), np.uint8)
    out[:, 0] = ft
    out[:, 1:] = (x - pred) & 255
    return out.ravel()


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def _time_pairs(kernels: dict, pairs: list, args_of, passes: int) -> dict:
    """{name: (cpu ms per pair per pass, wall ms per pair per pass)}."""
    out = {name: ([], []) for name in kernels}
    names = list(kernels)
    for _ in range(passes):
        cpu = dict.fromkeys(names, 0.0)
        wall = dict.fromkeys(names, 0.0)
        for i, pair in enumerate(pairs):
            for name in names if i % 2 == 0 else names[::-1]:
                a = args_of(pair)
                c0, t0 = time.thread_time(), time.perf_counter()
                kernels[name](*a)
                wall[name] += time.perf_counter() - t0
                cpu[name] += time.thread_time() - c0
        for name in names:
            out[name][0].append(1e3 * cpu[name] / len(pairs))
            out[name][1].append(1e3 * wall[name] / len(pairs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="a folder with gt/ and pred/ PNGs (evaluate.py --data)")
    ap.add_argument("--n", type=int, default=300, help="number of pairs (default 300)")
    ap.add_argument("--passes", type=int, default=5, help="timed passes over the pairs (default 5)")
    ap.add_argument("--pil", type=int, default=30, help="pairs timed with PIL + np.unique (default 30)")
    ap.add_argument("--check", type=int, default=None, help="pairs checked == PIL + np.unique (default all)")
    ap.add_argument("--filters", type=int, default=0, help="time each filter type on K re-filtered pairs")
    args = ap.parse_args()

    from rapkit.io.png import _inflate, parse_png

    with tempfile.TemporaryDirectory(prefix="rapkit-pngk-") as tmp:
        data = args.data
        if data is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from evaluate import generate_coco

            data = Path(tmp) / "data"
            generate_coco(data, args.n)
        files = sorted((data / "gt").glob("*.png"))[: args.n]
        paths = [(f, data / "pred" / f.name) for f in files]
        pngs = [(parse_png(g.read_bytes()), parse_png(p.read_bytes())) for g, p in paths]
        if not all(g is not None and p is not None and g.fast and p.fast for g, p in pngs):
            raise SystemExit("every PNG must be 8-bit RGB/RGBA, not interlaced")

        def args_of(pair):
            g, p = pair
            return _inflate(g), g.bpp, _inflate(p), p.bpp, g.height, g.width

        kernels = {"new": pair_keys_png, "previous": previous_pair_keys_png}
        t = time.perf_counter()
        for k in kernels.values():
            k(*args_of(pngs[0]))
        print(f"{len(pngs)} pairs from {data}; first calls (compile or cache load) {time.perf_counter() - t:.1f} s")

        n_check = len(pngs) if args.check is None else min(args.check, len(pngs))
        same_prev = same_pil = True
        for i, pair in enumerate(pngs):
            a = args_of(pair)
            k_new, c_new = pair_keys_png(*a)
            k_old, c_old = previous_pair_keys_png(*a)
            same_prev &= np.array_equal(k_new, k_old) and np.array_equal(c_new, c_old)
            if i < n_check:
                k_pil, c_pil = pil_pair_keys(*paths[i])
                same_pil &= np.array_equal(k_new, k_pil) and np.array_equal(c_new, c_pil)
        print(f"new == previous kernel on all {len(pngs)} pairs: {same_prev}")
        print(f"new == PIL decode + np.unique on {n_check} pairs: {same_pil}")

        res = _time_pairs(kernels, pngs, args_of, args.passes)
        n_pil = min(args.pil, len(pngs))
        pil = _time_pairs({"pil": pil_pair_keys}, paths[:n_pil], lambda pr: pr, 1)["pil"]
        print(f"\n{args.passes} passes over {len(pngs)} pairs, ms per pair (load {_load()}):")
        print(f"{'kernel':10s} {'CPU best':>9s} {'CPU median':>11s} {'wall best':>10s} {'wall median':>12s}")
        for name, (cpu, wall) in res.items():
            print(f"{name:10s} {min(cpu):9.3f} {np.median(cpu):11.3f} {min(wall):10.3f} {np.median(wall):12.3f}")
        print(f"{'PIL+unique':10s} {pil[0][0]:9.3f} {'':11s} {pil[1][0]:10.3f}   ({n_pil} pairs, one pass)")
        nc, nw = res["new"]
        pc, pw = res["previous"]
        print(
            f"new vs previous: {min(pc) / min(nc):.2f}x (CPU, best), {np.median(pc) / np.median(nc):.2f}x (CPU, median), "
            f"{min(pw) / min(nw):.2f}x (wall, best), {np.median(pw) / np.median(nw):.2f}x (wall, median)"
        )
        print(f"new vs PIL + np.unique: {pil[0][0] / min(nc):.1f}x (CPU)")

        if args.filters:
            k = min(args.filters, len(pngs))
            print(
                f"\neach filter type on every row, {k} pairs re-filtered (pixels unchanged), ms per pair (CPU, best):"
            )
            from rapkit.kernels.png import unfilter

            pix = []
            for g, p in pngs[:k]:
                pix.append(
                    tuple(unfilter(_inflate(x), x.height, x.width, 3).reshape(x.height, x.width, 3) for x in (g, p))
                )
            print(f"{'filter':8s} {'new':>7s} {'previous':>9s} {'ratio':>6s}")
            for ft, name in enumerate(("None", "Sub", "Up", "Average", "Paeth")):
                raws = [(refilter(gp, ft), refilter(pp, ft), gp.shape) for gp, pp in pix]
                for rg, rp, (h, w, _) in raws:
                    want = pair_keys_png(rg, 3, rp, 3, h, w)
                    got = previous_pair_keys_png(rg, 3, rp, 3, h, w)
                    assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])
                r = _time_pairs(
                    kernels,
                    raws,
                    lambda t: (t[0].copy(), 3, t[1].copy(), 3, t[2][0], t[2][1]),
                    max(1, args.passes // 2),
                )
                a, b = min(r["new"][0]), min(r["previous"][0])
                print(f"{name:8s} {a:7.3f} {b:9.3f} {b / a:5.2f}x")


if __name__ == "__main__":
    main()
