"""Relation accuracy on images where fusion keeps no proposal, under every protocol and
every fusion strategy: it runs without error, and every count is exactly determined.

The ``--protocol authors`` crash of issue 21 (``IndexError`` in ``authors_events``, and the
same lookup in ``ocfusion_authors_events``, on an image of a 400-image world that has no
proposal at all) is one of these images;
tests/cli/test_evaluate_no_proposals.py runs that case, made small, through the CLI.

Images that keep nothing: no proposals; every score below rho; every mask empty; and (RAP
only: the heuristic always keeps the first non-empty candidate) every proposal dropped by
the canvas check (``tau = 1``: ``|C_i| / |I_i| <= 1`` always holds).
"""

from __future__ import annotations

import numpy as np
from builders import props
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapkit.core.fusion import decode_scene, fuse_scene
from rapkit.core.relation_acc import PROTOCOLS, relation_accuracy_image
from rapkit.kernels.status import KEPT
from rapkit.types import STRATEGIES, FusionParams, InstanceMask, Proposals

MODES = ("none", "score", "empty", "checks")


def _params(strategy: str, mode: str, rho: float, variant: str) -> FusionParams:
    if strategy == "rap":
        return FusionParams(strategy="rap", rho=rho, tau=1.0 if mode == "checks" else 0.5, variant=variant)
    return FusionParams.of(strategy, rho=rho)


@st.composite
def nothing_kept(draw):
    """(proposals, instances, relations, params, mode, kept-copies) of one small image."""
    strategy = draw(st.sampled_from(STRATEGIES))
    mode = draw(st.sampled_from(MODES if strategy == "rap" else MODES[:3]))
    variant = draw(st.sampled_from(("paper", "reference")))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    rho = draw(st.sampled_from((0.3, 0.6, 1.0)))
    n = draw(st.integers(1, 4))
    gts: list[InstanceMask] = []
    for k in range(n):  # one category per instance: a proposal copying instance k matches it alone
        y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
        gts.append(InstanceMask(100 + k, 1 + k, 0, x0, y0, np.ones((y1 - y0, x1 - x0), bool)))
    crowd = draw(st.booleans())
    if crowd:
        gts.append(InstanceMask(999, 50, 1, 0, 0, np.ones((h, w), bool)))
    pairs = [(100 + a, 100 + b) for a in range(n) for b in range(n) if a != b]
    rels = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=4)) if pairs else []
    params = _params(strategy, mode, rho, variant)
    if mode == "none":
        p = Proposals(1, h, w, np.zeros(0), np.zeros(0, np.int64), np.zeros(0), [])
        return p, gts, rels, params, mode
    full = []
    for g in gts[:n]:
        m = np.zeros((h, w), bool)
        if mode != "empty":
            m[g.y0 : g.y0 + g.mask.shape[0], g.x0 : g.x0 + g.mask.shape[1]] = True
        full.append(m)
    if mode == "score":  # below rho
        scores = [draw(st.floats(0.0, rho, exclude_max=True)) for _ in range(n)]
    else:  # above rho, strictly (the authors' loader keeps scores > rho), or 1 = rho
        above = float(np.nextafter(rho, 2.0)) if rho < 1.0 else 1.0
        scores = [draw(st.floats(above, 1.0)) for _ in range(n)]
    rel_values = [draw(st.sampled_from((0.0, 1.0, 2.0, float("nan")))) for _ in range(n)]
    if strategy == "rap" and mode != "score":  # RAP needs a value for every candidate
        rel_values = [0.5 if np.isnan(v) else v for v in rel_values]
    return props(full, scores, [1 + k for k in range(n)], rel_values), gts, rels, params, mode


def expected(p: Proposals, gts, rels, mode: str) -> dict[str, int]:
    """The counts, from first principles: nothing kept means no fusion events; the pair
    accuracy (b) does not depend on the fusion: proposal k copies instance 100 + k (its own
    category), so it matches it whenever the mask is not empty."""
    n = len(p.scores)
    copies = mode in ("score", "checks")
    out = dict.fromkeys(
        (
            "events",
            "fusion_pairs",
            "fusion_correct",
            "fusion_ties",
            "fusion_score_correct",
            "pairs",
            "pair_correct",
            "pair_ties",
            "pair_score_correct",
        ),
        0,
    )
    out.update(images=1, proposals=n, instances=sum(1 for g in gts if not g.iscrowd), gt_pairs=len(rels))
    out["matched"] = n if copies else 0
    if copies:
        rank = {k: r for r, k in enumerate(sorted(range(n), key=lambda k: -p.scores[k]))}  # stable
        for f, b in rels:
            pf, pb = f - 100, b - 100
            out["pairs"] += 1
            vf, vb = p.relations[pf], p.relations[pb]
            out["pair_correct"] += bool(vf < vb)
            out["pair_ties"] += not (vf < vb or vf > vb)
            out["pair_score_correct"] += rank[pf] < rank[pb]
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nothing_kept())
def test_relation_accuracy_when_fusion_keeps_nothing(case):
    p, gts, rels, params, mode = case
    assert not (fuse_scene(decode_scene(p), None, params, np.zeros(256, bool)).status == KEPT).any()
    want = expected(p, gts, rels, mode)
    for protocol in PROTOCOLS:
        got = relation_accuracy_image(p, gts, rels, params, protocol=protocol).to_dict()
        box = got.pop("box_matched")
        assert got == want, (protocol, mode, params)
        # the authors' box matching: any category, argmax of box IoU > 0 (copies: all)
        assert box == (want["matched"] if protocol == "authors" else 0)
