"""The synthetic world: deterministic, consistent with its own truth, COCO-formatted."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from rapkit.cli import cli
from rapkit.io.panoptic import load_panoptic, read_id_map, segment_stats
from rapkit.synth import SynthConfig, generate_image, make_world

SMALL = SynthConfig(n_images=6, height=120, width=160, seed=3, crowd_prob=0.5)


def test_generation_is_deterministic():
    a = generate_image(SMALL, 2)
    b = generate_image(SMALL, 2)
    assert np.array_equal(a.id_map, b.id_map)
    assert np.array_equal(a.rgb, b.rgb)
    assert a.proposals.rles == b.proposals.rles
    c = generate_image(SynthConfig(**{**SMALL.to_dict(), "seed": 4}), 2)
    assert not np.array_equal(a.id_map, c.id_map)


def test_panoptic_map_paints_instances_far_to_near():
    for k in range(SMALL.n_images):
        img = generate_image(SMALL, k)
        for inst in img.instances:
            vis = img.id_map == inst.id
            # visible part lies inside the amodal mask
            assert not (vis & ~inst.mask).any()
            # every hidden pixel of the instance is covered by a nearer instance
            hidden = inst.mask & ~vis
            nearer = np.zeros_like(hidden)
            for other in img.instances:
                if other.depth < inst.depth or (other.depth == inst.depth and other.id > inst.id):
                    nearer |= other.mask
            assert not (hidden & ~nearer).any()
        stats = segment_stats(img.id_map)
        for s in img.segments:
            assert stats[s.id][0] == s.area
            assert tuple(stats[s.id][1]) == tuple(s.bbox)


def test_world_files_round_trip(tmp_path):
    paths = make_world(tmp_path / "w", SMALL)
    ds = load_panoptic(paths.panoptic)
    assert len(ds.annotations) == SMALL.n_images
    for iid, ann in ds.annotations.items():
        ids = read_id_map(ds.png_path(iid), image_id=iid, shape=(ann.height, ann.width))
        assert np.array_equal(ids, generate_image(SMALL, iid - 1).id_map)
    inst = json.loads(paths.instances.read_text())
    assert any(a["iscrowd"] == 1 and isinstance(a["segmentation"], dict) for a in inst["annotations"])
    assert all(isinstance(a["segmentation"], list) for a in inst["annotations"] if not a["iscrowd"])
    props = json.loads(paths.proposals.read_text())
    assert props and all({"image_id", "category_id", "score", "segmentation", "relation"} <= set(p) for p in props)
    assert all(0.0 <= p["score"] <= 1.0 for p in props)
    truth = json.loads(paths.truth.read_text())
    assert [im["image_id"] for im in truth["images"]] == list(range(1, SMALL.n_images + 1))
    assert 0.5 < truth["category_ceiling"] <= 1.0
    assert len(list(paths.images_dir.glob("*.jpg"))) == SMALL.n_images
    assert len(list(paths.semantic.glob("*.png"))) == SMALL.n_images


def test_same_seed_same_bytes(tmp_path):
    a = make_world(tmp_path / "a", SMALL)
    b = make_world(tmp_path / "b", SMALL, workers=2)
    for name in ("instances.json", "panoptic.json", "proposals.json", "truth.json"):
        assert (a.root / name).read_bytes() == (b.root / name).read_bytes()
    for f in sorted(a.panoptic_dir.iterdir()):
        assert f.read_bytes() == (b.panoptic_dir / f.name).read_bytes()


def test_overlaps_span_the_theta_range_including_same_category():
    cfg = SynthConfig(n_images=30, height=240, width=320, seed=0, render_images=False)
    ratios, same_cat = [], 0
    for k in range(cfg.n_images):
        img = generate_image(cfg, k)
        inst = [i for i in img.instances if not i.iscrowd]
        for a in range(len(inst)):
            for b in range(a + 1, len(inst)):
                o = np.count_nonzero(inst[a].mask & inst[b].mask)
                if o:
                    r = max(o / inst[a].mask.sum(), o / inst[b].mask.sum())
                    ratios.append(r)
                    same_cat += inst[a].category_id == inst[b].category_id
    ratios = np.array(ratios)
    assert (ratios < 0.05).any() and (ratios > 0.9).any()
    for lo, hi in [(0.05, 0.2), (0.2, 0.5), (0.5, 0.9)]:
        assert ((ratios > lo) & (ratios <= hi)).sum() >= 5
    assert same_cat >= 3


def test_detector_knobs():
    none = SynthConfig(
        n_images=1,
        height=120,
        width=160,
        p_miss=0,
        p_dup_same=0,
        p_dup_other=0,
        false_per_image=0,
        relation_noise=0,
        render_images=False,
    )
    img = generate_image(none, 0)
    visible = {s.id for s in img.segments}
    expected = [i.id for i in img.instances if not i.iscrowd and i.id in visible]
    assert img.proposal_kind == ["true"] * len(img.proposals)
    assert sorted(img.proposal_instance.tolist()) == sorted(expected) or len(img.proposals) <= len(expected)
    depth = {i.id: i.depth for i in img.instances}
    for rel, iid in zip(img.proposals.relations, img.proposal_instance):
        assert rel == pytest.approx(depth[int(iid)], abs=1e-4)


def test_cli_synth_refuses_to_overwrite(tmp_path):
    r = CliRunner()
    out = tmp_path / "w"
    res = r.invoke(cli, ["synth", "-o", str(out), "-n", "2", "--height", "64", "--width", "80", "--no-render"])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["synth", "-o", str(out), "-n", "2"])
    assert res.exit_code != 0
    res = r.invoke(
        cli, ["synth", "-o", str(out), "-n", "2", "--height", "64", "--width", "80", "--force", "--format", "json"]
    )
    assert res.exit_code == 0
    assert json.loads(res.output)["images"] == 2
