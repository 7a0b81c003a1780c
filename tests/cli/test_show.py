"""``rapkit show``: overlay / compare / relations / charts through the command line.

Must-show: overlay colours at --alpha 1 decode back to the fused map; compare marks exactly
the planted differing pixels; relation arrows lie between the two instances' centroids;
charts write PNGs with matplotlib and exit 2 with the install hint without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rapkit.viz import palette as P
from rapkit.viz.pictures import overlay

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    """A 2-image world with JPEGs, fused by the library (rapkit fuse's code path)."""
    from rapkit.pipeline.fuse import fuse
    from rapkit.synth import SynthConfig, make_world
    from rapkit.types import FusionParams

    root = tmp_path_factory.mktemp("show")
    w = make_world(root / "w", SynthConfig(n_images=2, height=96, width=128, seed=5))
    out = root / "fused"
    fuse(w.proposals, w.panoptic, w.categories, out, FusionParams(), semantic=w.semantic)
    return w, out


def write_id_map_png(path, ids: np.ndarray) -> None:
    ids = np.asarray(ids, np.uint32)
    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], axis=2).astype(np.uint8)
    Image.fromarray(rgb, mode="RGB").save(path, format="PNG")


def read_id_map(path) -> np.ndarray:
    rgb = read_png(path).astype(np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def read_png(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def write_panoptic(
    root: Path,
    name: str,
    maps: dict[int, np.ndarray],
    cats_of: dict[int, dict[int, int]],
    categories: list[dict] | None,
) -> Path:
    """A COCO panoptic JSON ``root/name.json`` + PNG folder ``root/name/`` from id maps."""
    d = root / name
    d.mkdir(parents=True)
    images, anns = [], []
    for iid, ids in maps.items():
        fn = f"{iid:012d}.png"
        write_id_map_png(d / fn, ids.astype(np.uint32))
        images.append({"id": iid, "file_name": f"{iid:012d}.jpg", "height": ids.shape[0], "width": ids.shape[1]})
        segs = [
            {
                "id": int(s),
                "category_id": int(cats_of[iid][int(s)]),
                "area": int((ids == s).sum()),
                "bbox": [0, 0, 1, 1],
                "iscrowd": 0,
            }
            for s in np.unique(ids)
            if s != 0
        ]
        anns.append({"image_id": iid, "file_name": fn, "segments_info": segs})
    doc = {"images": images, "annotations": anns}
    if categories is not None:
        doc["categories"] = categories
    p = root / f"{name}.json"
    p.write_text(json.dumps(doc))
    return p


CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "dog", "isthing": 1, "color": [0, 0, 230]},
    {"id": 3, "name": "grass", "isthing": 0, "color": [0, 160, 0]},
]


# --------------------------------------------------------------------------- overlay


def test_overlay_alpha_one_decodes_back_to_the_fused_map(fused, tmp_path, cli):
    world, out = fused
    pics = tmp_path / "pics"
    code, stdout, err = cli(
        "show",
        "overlay",
        "--panoptic",
        out / "panoptic.json",
        "--images",
        world.images_dir,
        "--alpha",
        "1",
        "-o",
        pics,
        "--format",
        "json",
    )
    assert code == 0, err
    listed = json.loads(stdout)["pictures"]
    pj = json.loads((out / "panoptic.json").read_text())
    assert [p["image_id"] for p in listed] == [a["image_id"] for a in pj["annotations"]]
    from rapkit.io.panoptic import parse_categories

    cats = json.loads(Path(world.categories).read_text())
    palette = P.category_palette(parse_categories(cats))
    # each category keeps its own colour unless an earlier category took it (the synthetic
    # world has one such pair); the palette's colours are distinct, so they decode
    taken: set = set()
    for c in cats:
        own = tuple(c["color"])
        assert (palette[c["id"]] == own) == (own not in taken)
        taken.add(own)
    colour_to_cat = {v: k for k, v in palette.items()}
    assert len(colour_to_cat) == len(cats)
    assert not set(colour_to_cat) & {P.CONTOUR_COLOR, P.LABEL_BACKGROUND}
    infos = {i["id"]: i for i in pj["images"]}
    for ann in pj["annotations"]:
        ids = read_id_map(out / "panoptic" / ann["file_name"])
        seg_cat = {s["id"]: s["category_id"] for s in ann["segments_info"]}
        cat_map = np.vectorize(lambda s: seg_cat.get(int(s), 0))(ids)
        rgb = read_png(pics / Path(infos[ann["image_id"]]["file_name"]).with_suffix(".png").name)
        photo = read_png(Path(world.images_dir) / infos[ann["image_id"]]["file_name"])
        assert rgb.shape == photo.shape
        # contours by their definition (not the library's function)
        contour = np.zeros(ids.shape, bool)
        contour[:, :-1] |= ids[:, :-1] != ids[:, 1:]
        contour[:-1, :] |= ids[:-1, :] != ids[1:, :]
        # label boxes: the library's placement, a small share of the picture
        segs = {s["id"]: s["category_id"] for s in ann["segments_info"]}
        labels = overlay(photo, ids, segs, parse_categories(cats)).labels
        assert labels.mean() < 0.25
        free = ~contour & ~labels
        decoded = np.zeros(ids.shape, np.int64)
        for y, x in zip(*np.nonzero(free & (ids != 0))):
            decoded[y, x] = colour_to_cat[tuple(int(v) for v in rgb[y, x])]
        assert np.array_equal(decoded[free], cat_map[free])  # the fused map's categories, every free pixel
        assert np.array_equal(rgb[free & (ids == 0)], photo[free & (ids == 0)])  # VOID: the image
        assert (rgb[contour & ~labels] == P.CONTOUR_COLOR).all()


def test_overlay_missing_images_are_grey_and_said_once(fused, tmp_path, cli):
    world, out = fused
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli(
        "show",
        "overlay",
        "--panoptic",
        world.panoptic,
        "--images",
        empty,
        "--alpha",
        "0",
        "-o",
        tmp_path / "p",
        "--max-size",
        "64",
    )
    assert code == 0, err
    assert err.count("grey") == 1 and "2 of 2 images" in err
    rgb = read_png(tmp_path / "p" / "000000000001.png")
    assert max(rgb.shape[:2]) == 64
    assert (rgb == P.GREY_BACKGROUND).all(axis=2).mean() > 0.5  # alpha 0: grey apart from contours and labels


def test_overlay_bad_input_exits_3_and_writes_nothing(tmp_path, cli):
    ids = np.zeros((20, 30), np.uint32)
    ids[5:15, 5:15] = 7
    good = write_panoptic(tmp_path, "good", {1: ids}, {1: {7: 1}}, CATEGORIES)
    out = tmp_path / "out"
    code, _, err = cli("show", "overlay", "--panoptic", good, "--ids", "1,99", "-o", out)
    assert code == 3 and "image 99" in err and not out.exists()
    (tmp_path / "good" / "000000000001.png").unlink()
    code, _, err = cli("show", "overlay", "--panoptic", good, "-o", out)
    assert code == 3 and "000000000001.png" in err and "not found" in err and not out.exists()
    nocat = write_panoptic(tmp_path, "nocat", {1: ids}, {1: {7: 1}}, None)
    code, _, err = cli("show", "overlay", "--panoptic", nocat, "-o", out)
    assert code == 3 and "--categories" in err and not out.exists()
    cats_file = tmp_path / "cats.json"
    cats_file.write_text(json.dumps(CATEGORIES[1:]))  # category 1 missing
    code, _, err = cli("show", "overlay", "--panoptic", nocat, "--categories", cats_file, "-o", out)
    assert code == 3 and "segment 7" in err and "category 1" in err and not out.exists()
    stray = ids.copy()
    stray[0, 0] = 55  # an id in the PNG that the JSON does not list
    bad = write_panoptic(tmp_path, "stray", {1: ids}, {1: {7: 1}}, CATEGORIES)
    write_id_map_png(tmp_path / "stray" / "000000000001.png", stray)
    code, _, err = cli("show", "overlay", "--panoptic", bad, "-o", out)
    assert code == 3 and "segment 55" in err and "image 1" in err and not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if "rapkit" in p.name]
    assert leftovers == []


def test_overlay_refuses_to_overwrite_without_force(tmp_path, cli):
    ids = np.ones((10, 10), np.uint32)
    pj = write_panoptic(tmp_path, "p", {3: ids}, {3: {1: 3}}, CATEGORIES)
    out = tmp_path / "out"
    assert cli("show", "overlay", "--panoptic", pj, "-o", out, "-q")[0] == 0
    code, _, err = cli("show", "overlay", "--panoptic", pj, "-o", out)
    assert code == 2 and "--force" in err
    assert cli("show", "overlay", "--panoptic", pj, "-o", out, "--force", "-q")[0] == 0


# --------------------------------------------------------------------------- compare


def planted_pair(tmp_path: Path, with_gt: bool = False):
    """A and B (B renumbers every segment) that differ in exactly ``expect``; the GT agrees
    with B on the split block and with A elsewhere."""
    a = np.zeros((40, 60), np.uint32)
    a[:, :20], a[:, 20:40], a[:, 40:] = 1, 2, 3
    a[35:, :] = 0
    b = np.vectorize({0: 0, 1: 11, 2: 12, 3: 13}.get)(a).astype(np.uint32)
    expect = np.zeros(a.shape, bool)
    b[:35, 18:20] = 12  # boundary shift
    expect[:35, 18:20] = True
    b[5:12, 25:33] = 14  # split (same category)
    expect[5:12, 25:33] = True
    b[20:28, 45:55] = 15  # another category
    expect[20:28, 45:55] = True
    cats_a = {1: 1, 2: 2, 3: 3}
    cats_b = {11: 1, 12: 2, 13: 3, 14: 2, 15: 1}
    pa = write_panoptic(tmp_path, "a", {1: a}, {1: cats_a}, CATEGORIES)
    pb = write_panoptic(tmp_path, "b", {1: b}, {1: cats_b}, CATEGORIES)
    g = a.copy()
    g[5:12, 25:33] = 9
    pg = write_panoptic(tmp_path, "gt", {1: g}, {1: {**cats_a, 9: 2}}, CATEGORIES) if with_gt else None
    return pa, pb, pg, expect


def third_panel(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    top = rgb.shape[0] - h
    x0 = 2 * (w + 4)
    return rgb[top:, x0 : x0 + w]


def test_compare_marks_exactly_the_planted_pixels(tmp_path, cli):
    pa, pb, _, expect = planted_pair(tmp_path)
    out = tmp_path / "cmp"
    code, stdout, err = cli(
        "show", "compare", "--a", pa, "--b", pb, "--names", "heuristic,rap", "-o", out, "--format", "json"
    )
    assert code == 0, err
    rec = json.loads(stdout)["pictures"][0]
    assert rec["differing_pixels"] == int(expect.sum())
    rgb = read_png(out / "000000000001.png")
    assert rgb.shape[1] == 3 * 60 + 2 * 4
    panel = third_panel(rgb, 40, 60)
    marked = (panel == P.DIFF_COLOR).all(axis=2)
    assert np.array_equal(marked, expect)


def test_compare_colours_differences_by_the_gt(tmp_path, cli):
    pa, pb, pg, expect = planted_pair(tmp_path, with_gt=True)
    out = tmp_path / "cmp"
    code, _, err = cli("show", "compare", "--a", pa, "--b", pb, "--gt", pg, "-o", out, "-q")
    assert code == 0, err
    panel = third_panel(read_png(out / "000000000001.png"), 40, 60)
    b_right = np.zeros_like(expect)
    b_right[5:12, 25:33] = True
    green = (panel == P.A_RIGHT_COLOR).all(axis=2)
    magenta = (panel == P.B_RIGHT_COLOR).all(axis=2)
    assert np.array_equal(magenta, b_right)
    assert np.array_equal(green, expect & ~b_right)
    assert (panel[~expect] <= P.DIM_MAX).all()


def test_compare_top_picks_the_images_that_differ_most_in_pq(tmp_path, cli):
    maps, cats = {}, {}
    for iid in (1, 2, 3):
        m = np.zeros((30, 40), np.uint32)
        m[:, :20], m[:, 20:] = 1, 2
        maps[iid] = m
        cats[iid] = {1: 1, 2: 3}
    pg = write_panoptic(tmp_path, "gt", maps, cats, CATEGORIES)
    pa = write_panoptic(tmp_path, "a", maps, cats, CATEGORIES)
    bmaps = {k: v.copy() for k, v in maps.items()}
    bmaps[2][:, :] = 2  # image 2: B misses the person entirely
    bmaps[3][:, 18:22] = 2  # image 3: a small shift, still matched
    pb = write_panoptic(tmp_path, "b", bmaps, cats, CATEGORIES)
    code, stdout, err = cli(
        "show", "compare", "--a", pa, "--b", pb, "--gt", pg, "--top", "1", "-o", tmp_path / "top", "--format", "json"
    )
    assert code == 0, err
    pics = json.loads(stdout)["pictures"]
    assert [p["image_id"] for p in pics] == [2]
    assert pics[0]["a"]["pq"] == 100.0 and pics[0]["dpq"] < -40  # percent in JSON
    code, _, err = cli("show", "compare", "--a", pa, "--b", pb, "--top", "1", "-o", tmp_path / "x")
    assert code == 2 and "--gt" in err


def test_compare_unknown_id_exits_3(tmp_path, cli):
    pa, pb, _, _ = planted_pair(tmp_path)
    code, _, err = cli("show", "compare", "--a", pa, "--b", pb, "--ids", "4", "-o", tmp_path / "o")
    assert code == 3 and "image 4" in err and not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- relations


def rect_poly(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def relations_inputs(tmp_path: Path):
    h, w = 80, 120
    inst = {
        "images": [{"id": 1, "file_name": "000000000001.jpg", "height": h, "width": w}],
        "categories": [
            {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
            {"id": 2, "name": "dog", "isthing": 1, "color": [0, 0, 230]},
        ],
        "annotations": [
            {
                "id": 5,
                "image_id": 1,
                "category_id": 1,
                "segmentation": rect_poly(10, 10, 50, 40),
                "iscrowd": 0,
                "area": 1200,
                "bbox": [10, 10, 40, 30],
            },
            {
                "id": 6,
                "image_id": 1,
                "category_id": 2,
                "segmentation": rect_poly(40, 30, 110, 70),
                "iscrowd": 0,
                "area": 2800,
                "bbox": [40, 30, 70, 40],
            },
            {
                "id": 7,
                "image_id": 1,
                "category_id": 2,
                "segmentation": rect_poly(90, 5, 115, 25),
                "iscrowd": 0,
                "area": 500,
                "bbox": [90, 5, 25, 20],
            },
        ],
    }
    ip = tmp_path / "instances.json"
    ip.write_text(json.dumps(inst))
    rel = {
        "schema_version": 1,
        "kind": "relations",
        "parameters": {"theta": 0.2, "rule": "majority"},
        "totals": {},
        "images": [
            {
                "image_id": 1,
                "relations": [
                    {
                        "front": 5,
                        "back": 6,
                        "overlap": 100,
                        "ratio_front": 0.1,
                        "ratio_back": 0.05,
                        "front_pixels": 80,
                        "back_pixels": 20,
                    },
                    {
                        "front": 7,
                        "back": 6,
                        "overlap": 0,
                        "ratio_front": 0.0,
                        "ratio_back": 0.0,
                        "front_pixels": 0,
                        "back_pixels": 0,
                    },
                ],
            }
        ],
    }
    rp = tmp_path / "relations.json"
    rp.write_text(json.dumps(rel))
    return ip, rp, (h, w)


def test_relations_arrow_pixels_lie_between_the_centroids(tmp_path, cli):
    from rapkit.io.coco import decode_instances, full_mask, load_instances

    ip, rp, (h, w) = relations_inputs(tmp_path)
    out = tmp_path / "rel"
    code, stdout, err = cli("show", "relations", "--relations", rp, "--instances", ip, "-o", out, "--format", "json")
    assert code == 0, err
    assert json.loads(stdout)["pictures"][0]["relations"] == 2
    rgb = read_png(out / "000000000001.png")
    assert rgb.shape[1] == w and rgb.shape[0] > h  # the legend strip on top
    assert (rgb[: rgb.shape[0] - h] == P.ARROW_COLOR).all(axis=2).any()  # its swatch
    rgb = rgb[rgb.shape[0] - h :]
    ds = load_instances(ip)
    masks = {m.id: full_mask(m, h, w) for m in decode_instances(ds.by_image[1], h, w, fast=False)}
    cent = {k: (np.nonzero(m)[1].mean(), np.nonzero(m)[0].mean()) for k, m in masks.items()}
    arrow = (rgb == P.ARROW_COLOR).all(axis=2)
    ys, xs = np.nonzero(arrow)
    assert ys.size > 50
    head = 10 / 2  # the default head width / 2: the farthest an arrow pixel may be from its segment
    near = np.zeros(ys.size, bool)
    for f, b in ((5, 6), (7, 6)):
        p, q = np.array(cent[f]), np.array(cent[b])
        d = q - p
        t = ((xs - p[0]) * d[0] + (ys - p[1]) * d[1]) / float(d @ d)
        tc = np.clip(t, 0, 1)
        dist = np.hypot(xs - (p[0] + tc * d[0]), ys - (p[1] + tc * d[1]))
        on = (dist <= head + 1e-9) & (t >= -1e-9) & (t <= 1 + 1e-9)
        assert on.sum() > 20  # each relation has its arrow
        near |= on
    assert near.all()  # every arrow pixel lies between the centroids of its relation


def test_relations_colours_arrows_by_the_proposals(tmp_path, cli):
    from pycocotools import mask as mask_utils

    ip, rp, (h, w) = relations_inputs(tmp_path)
    props = []
    for _ann_id, box, cat, rel in (
        (5, (10, 10, 50, 40), 1, 0.2),
        (6, (40, 30, 110, 70), 2, 0.5),
        (7, (90, 5, 115, 25), 2, 0.9),
    ):
        m = np.zeros((h, w), np.uint8, order="F")
        m[box[1] : box[3], box[0] : box[2]] = 1
        rle = mask_utils.encode(np.asfortranarray(m))
        rle["counts"] = rle["counts"].decode()
        props.append({"image_id": 1, "category_id": cat, "score": 0.9, "segmentation": rle, "relation": rel})
    pp = tmp_path / "proposals.json"
    pp.write_text(json.dumps(props))
    out = tmp_path / "rel"
    code, stdout, err = cli(
        "show", "relations", "--relations", rp, "--instances", ip, "--proposals", pp, "-o", out, "--format", "json"
    )
    assert code == 0, err
    rec = json.loads(stdout)["pictures"][0]
    assert (rec["correct"], rec["wrong"], rec["unmatched"]) == (1, 1, 0)  # 5 (0.2) < 6 (0.5); 7 (0.9) > 6
    rgb = read_png(out / "000000000001.png")
    assert (rgb == P.CORRECT_COLOR).all(axis=2).sum() > 20
    assert (rgb == P.WRONG_COLOR).all(axis=2).sum() > 20


# --------------------------------------------------------------------------- charts


def sweep_rows(scale: float) -> list[dict]:
    rows = [
        {
            "row": "baseline",
            "strategy": "heuristic",
            "rho": 0.5,
            "tau": 0.5,
            "gamma": 0.5,
            "PQ": 0.40 * scale,
            "PQ_th": 0.3 * scale,
            "PQ_st": 0.5 * scale,
            "dPQ": 0.0,
        }
    ]
    for rho in (0.5, 0.6):
        for tau in (0.5, 0.6):
            for gamma in (0.4, 0.5):
                pq = 0.40 + 0.1 * rho - 0.05 * tau + 0.01 * gamma
                rows.append(
                    {
                        "row": f"rho={rho}",
                        "strategy": "rap",
                        "rho": rho,
                        "tau": tau,
                        "gamma": gamma,
                        "PQ": pq * scale,
                        "PQ_th": pq * scale,
                        "PQ_st": 0.5 * scale,
                        "dPQ": (pq - 0.4) * scale,
                    }
                )
    return rows


def test_charts_write_pngs_from_csv_json_in_either_unit(tmp_path, cli):
    pytest.importorskip("matplotlib")
    import pandas as pd

    pd.DataFrame(sweep_rows(1.0)).to_csv(tmp_path / "sweep.csv", index=False)  # fractions
    (tmp_path / "ablation.json").write_text(
        json.dumps(
            {
                "schema_version": 2,
                "unit": "percent",
                "rows": [
                    {"row": "heuristic", "PQ": 40.0, "PQ_th": 30.0, "PQ_st": 50.0},
                    {"row": "RA", "PQ": 44.0, "PQ_th": 36.0, "PQ_st": 50.0},
                    {"row": "RA+CA+EO", "PQ": 46.0, "PQ_th": 39.0, "PQ_st": 50.0},
                ],
            }
        )
    )
    pd.DataFrame(
        [
            {"front": f, "back": b, "gap": 0.1 * i}
            for i, (f, b) in enumerate([("person", "dog"), ("dog", "person"), ("person", "person")])
        ]
    ).to_csv(tmp_path / "gap.csv", index=False)
    out = tmp_path / "charts"
    code, stdout, err = cli(
        "show",
        "charts",
        "--sweep-table",
        tmp_path / "sweep.csv",
        "--ablation-table",
        tmp_path / "ablation.json",
        "--gap-table",
        tmp_path / "gap.csv",
        "-o",
        out,
        "--format",
        "json",
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["ablation.png", "relation_gap.png", "sweep.png"]
    for name in ("ablation.png", "relation_gap.png", "sweep.png"):
        rgb = read_png(out / name)
        assert rgb.shape[0] > 200 and rgb.shape[1] > 300 and rgb.std() > 10
    assert [p["chart"] for p in json.loads(stdout)["pictures"]] == ["sweep", "ablation", "gap"]
    code, _, err = cli(
        "show", "charts", "--sweep-table", tmp_path / "sweep.csv", "--style", "lines", "-o", tmp_path / "lines", "-q"
    )
    assert code == 0, err and (tmp_path / "lines" / "sweep.png").is_file()


def test_charts_without_matplotlib_exit_2_with_the_install_hint(tmp_path, cli, monkeypatch):
    (tmp_path / "sweep.csv").write_text("row,strategy,rho,tau,gamma,PQ\nb,heuristic,0.5,0.5,0.5,40\n")
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "charts"
    code, _, err = cli("show", "charts", "--sweep-table", tmp_path / "sweep.csv", "-o", out)
    assert code == 2
    assert "pip install 'rapkit[plot]'" in err
    assert not out.exists()


def test_charts_bad_table_exits_3(tmp_path, cli):
    pytest.importorskip("matplotlib")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    code, _, err = cli("show", "charts", "--sweep-table", tmp_path / "t.csv", "-o", tmp_path / "c")
    assert code == 3 and "t.csv" in err and not (tmp_path / "c").exists()
    code, _, err = cli("show", "charts", "--sweep-table", tmp_path / "t.txt", "-o", tmp_path / "c")
    assert code == 3 and "t.txt" in err


# --------------------------------------------------------------------------- help and imports


@pytest.mark.parametrize("sub", ["overlay", "compare", "relations", "charts"])
def test_every_subcommand_has_an_example_and_defaults(cli, sub):
    code, out, _ = cli("show", sub, "--help")
    assert code == 0 and f"Example: rapkit show {sub}" in out
    assert "--format" in out and "default" in out


def test_show_help_loads_neither_matplotlib_nor_numba_nor_torch():
    probe = (
        "import sys\nfrom rapkit.cli import main\n"
        "for argv in (['show', '--help'], ['show', 'charts', '--help'], ['show', 'overlay', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('LOADED:' + ','.join(m for m in ('matplotlib', 'numba', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "LOADED:", out.stdout + out.stderr


def test_same_inputs_give_the_same_picture_bytes_whatever_the_workers(tmp_path, cli):
    pa, pb, pg, _ = planted_pair(tmp_path, with_gt=True)
    outs = []
    for k, workers in enumerate(("1", "2")):
        out = tmp_path / f"o{k}"
        code, _, err = cli("show", "compare", "--a", pa, "--b", pb, "--gt", pg, "-o", out, "--workers", workers, "-q")
        assert code == 0, err
        outs.append((out / "000000000001.png").read_bytes())
    assert outs[0] == outs[1]


def test_relations_unknown_image_or_instance_exits_3(tmp_path, cli):
    ip, rp, _ = relations_inputs(tmp_path)
    code, _, err = cli("show", "relations", "--relations", rp, "--instances", ip, "--ids", "8", "-o", tmp_path / "r")
    assert code == 3 and "image 8" in err and not (tmp_path / "r").exists()
    doc = json.loads(rp.read_text())
    doc["images"][0]["relations"][0]["back"] = 66
    rp.write_text(json.dumps(doc))
    code, _, err = cli("show", "relations", "--relations", rp, "--instances", ip, "-o", tmp_path / "r")
    assert code == 3 and "segment 66" in err and "image 1" in err and not (tmp_path / "r").exists()


def test_charts_read_parquet_or_say_what_is_missing(tmp_path, cli):
    pytest.importorskip("matplotlib")
    import pandas as pd

    df = pd.DataFrame(sweep_rows(100.0))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        (tmp_path / "sweep.parquet").write_bytes(b"PAR1")
        code, _, err = cli("show", "charts", "--sweep-table", tmp_path / "sweep.parquet", "-o", tmp_path / "c")
        assert code == 2 and "pyarrow" in err and not (tmp_path / "c").exists()
        return
    df.to_parquet(tmp_path / "sweep.parquet")
    code, _, err = cli("show", "charts", "--sweep-table", tmp_path / "sweep.parquet", "-o", tmp_path / "c", "-q")
    assert code == 0, err and (tmp_path / "c" / "sweep.png").is_file()
