"""``rapkit demo`` end to end on a small world: tables printed, RAP beats the heuristic on PQ_th."""

import json

from click.testing import CliRunner

from rapkit.cli import cli


def test_demo_runs_and_rap_beats_heuristic_on_things(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(
        cli,
        [
            "demo",
            "-o",
            str(out),
            "-n",
            "16",
            "--height",
            "240",
            "--width",
            "320",
            "--workers",
            "1",
            "--no-render",
            "--format",
            "json",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["kind"] == "demo"
    rap, heu = d["pq"]["rap"], d["pq"]["heuristic"]
    assert rap["Things"]["pq"] > heu["Things"]["pq"]
    # Boundary PQ beside PQ: the same layout, and below PQ (min(mask IoU, boundary IoU) <= mask IoU)
    bpq = d["boundary_pq"]
    assert set(bpq) == {"heuristic", "rap"}
    for name in bpq:
        assert bpq[name]["Things"]["n"] == d["pq"][name]["Things"]["n"]
        assert 0 < bpq[name]["All"]["pq"] <= d["pq"][name]["All"]["pq"]
    # one baseline, the heuristic at rho = tau = 0.5, with no gamma it does not use
    assert [row["row"] for row in d["ablation"]] == ["baseline", "RA", "RA+CA", "RA+CA+EO"]
    base = d["ablation"][0]
    assert (base["strategy"], base["rho"], base["tau"], base["gamma"]) == ("heuristic", 0.5, 0.5, None)
    # pictures: 3 overlays, the 3 images where heuristic and RAP differ most, 3 relation pictures
    assert {k: len(v) for k, v in d["pictures"].items()} == {"overlay": 3, "compare": 3, "relations": 3}
    for names in d["pictures"].values():
        for name in names:
            png = (out / name).read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000, name
    assert len(d["sweep"]) == 9 and d["sweep"][0]["gamma"] is None
    # the sweep's best setting is the RAP of the comparison and the ablation, with the same numbers
    best = max(d["sweep"][1:], key=lambda r: r["PQ"])
    assert {k: d["rap_params"][k] for k in ("rho", "tau", "gamma")} == {k: best[k] for k in ("rho", "tau", "gamma")}
    assert abs(best["PQ"] - rap["All"]["pq"]) < 1e-9 and abs(d["ablation"][-1]["PQ"] - rap["All"]["pq"]) < 1e-9
    assert abs(d["sweep"][0]["PQ"] - heu["All"]["pq"]) < 1e-9
    assert d["relation_values"] == "simulated relation values (synthetic world)" and len(d["next"]) == 3
    acc = d["relation_accuracy"]
    assert acc["pair_accuracy"] > acc["pair_score_order_accuracy"]
    for name in ("world", "relations.json", "fused_heuristic", "fused_rap", "ablation.csv", "sweep.csv"):
        assert (out / name).exists(), name
    # table output shows the paper-shaped tables with a reading under them
    r2 = CliRunner().invoke(
        cli,
        [
            "demo",
            "-o",
            str(out),
            "-n",
            "8",
            "--height",
            "160",
            "--width",
            "200",
            "--workers",
            "1",
            "--no-render",
            "--force",
            "--quiet",
        ],
    )
    assert r2.exit_code == 0, r2.output
    for title in ("Table 1", "Table 2", "Table 3", "Table 4", "PQ: RAP", "BPQ_th"):
        assert title in r2.output
    text = " ".join(r2.output.split())
    assert "BPQ = Boundary PQ" in text and "BPQ_th, " in text  # the columns said, and in the PQ reading
    assert text.count("simulated relation values (synthetic world)") >= 4  # every result table says so
    assert text.count("heuristic at rho=0.5 tau=0.5") >= 3
    assert "next: the same on your own data" in text and "rapkit fuse --proposals" in text


def test_demo_refuses_existing_output(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    r = CliRunner().invoke(cli, ["demo", "-o", str(out), "-n", "4"])
    assert r.exit_code == 2, r.output  # a usage/config error: the output exists and --force was not given
    assert "exists" in r.output and "--force" in r.output
    assert list(out.iterdir()) == []
