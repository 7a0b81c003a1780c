"""Start-up of a fresh ``rapkit evaluate`` and ``rapkit fuse`` on one image: where the time goes
before (and around) the first image, against the floors measured in the same run.

    python benchmarks/startup.py                          # /tmp/one (1-image evaluate), 5 rounds
    python benchmarks/startup.py --gt G.json --pred P.json --repeat 9
    python benchmarks/startup.py --before /tmp/start23-base   # also an older rapkit tree

Rows (each a fresh process, as a user runs it; all rows interleaved in each of ``--repeat``
rounds; wall and CPU = user + sys of the child, medians):

* floors: ``python -c pass`` (the interpreter and site), ``python -c "import numpy"``
  (rapkit cannot go below it), and hotcoco's 1-image ``pq_compute`` (a script that imports
  hotcoco and calls it, as benchmarks/evaluate.py runs it);
* ``import rapkit`` and ``import rapkit.cli``;
* ``rapkit evaluate`` of the 1-image pair (``--gt``/``--pred``, default ``/tmp/one``), its
  default path (few images: numpy only, no numba), and with ``RAPKIT_EVALUATE_PATH=kernels``
  (the numba path a large job takes) to show what the numba import and the cached-kernel
  loads cost;
* ``rapkit fuse`` of a 1-image synthetic world (made once under ``--data``).

Then a breakdown of one process of each command (``-X importtime`` self times summed by
package, plus the phases timed inside the process by ``benchmarks/_startup_probe.py``: the
JSON reads, the kernel loads, the image, the report), so the table names where the
milliseconds are. On a shared machine the wall-clock figures follow the load average
(printed); the CPU seconds much less: compare rows of the same run only.

``PYTHONDONTWRITEBYTECODE`` is dropped from the children's environment and every row is run
once before the rounds, so the package's ``.pyc`` files exist (as in any installed package):
otherwise every module would be compiled from source on every start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TREE = HERE.parent

HOTCOCO = (
    "import sys, contextlib, io\nfrom hotcoco.panoptic import pq_compute\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n    pq_compute(sys.argv[1], sys.argv[2])"
)


def env_for(tree: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), RAPKIT_FSYNC="0", RAPKIT_PROGRESS="0")
    env.update(extra or {})
    return env


#: the children's working folder: not a checkout (``python -m rapkit`` would import the
#: ``rapkit`` folder of its working folder before PYTHONPATH's tree)
CWD = Path("/")


def run(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one fresh process."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=CWD)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def evaluate_cmd(gt: Path, pred: Path) -> list[str]:
    return [sys.executable, "-m", "rapkit", "evaluate", "--gt", str(gt), "--pred", str(pred)]


def fuse_cmd(world: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rapkit",
        "fuse",
        "--proposals",
        str(world / "proposals.json"),
        "--image-info",
        str(world / "panoptic.json"),
        "--categories",
        str(world / "categories.json"),
        "--semantic",
        str(world / "semantic"),
        "-o",
        str(out),
        "--force",
        "--quiet",
    ]


def one_image_world(data: Path) -> Path:
    world = data / "world1"
    if not (world / "proposals.json").exists():
        cmd = [sys.executable, "-m", "rapkit", "synth", "-o", str(world), "-n", "1", "--seed", "0", "--no-render"]
        subprocess.run([*cmd, "--quiet", "--force"], check=True, env=env_for(TREE), capture_output=True, cwd=CWD)
    return world


def rows_for(args: argparse.Namespace, trees: dict[str, Path], data: Path) -> dict[str, tuple[list[str], dict]]:
    """name -> (command, environment) of every row."""
    gt, pred = Path(args.gt), Path(args.pred)
    world = one_image_world(data)
    base = env_for(TREE)
    rows: dict[str, tuple[list[str], dict]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], base),
        "python -c 'import numpy'": ([sys.executable, "-c", "import numpy"], base),
    }
    try:
        import hotcoco  # noqa: F401

        rows["hotcoco pq_compute, 1 image"] = ([sys.executable, "-c", HOTCOCO, str(gt), str(pred)], base)
    except ImportError:
        pass
    for label, tree in trees.items():
        env = env_for(tree)
        rows[f"{label}: import rapkit"] = ([sys.executable, "-c", "import rapkit"], env)
        rows[f"{label}: import rapkit.cli"] = ([sys.executable, "-c", "import rapkit.cli"], env)
        rows[f"{label}: evaluate, 1 image"] = (evaluate_cmd(gt, pred), env)
        rows[f"{label}: evaluate, 1 image, kernel path"] = (
            evaluate_cmd(gt, pred),
            env_for(tree, {"RAPKIT_EVALUATE_PATH": "kernels"}),
        )
        rows[f"{label}: fuse, 1 image"] = (fuse_cmd(world, data / f"fused-{label}"), env)
    return rows


def measure_rows(rows: dict[str, tuple[list[str], dict]], repeat: int) -> dict[str, dict[str, float]]:
    """Medians of ``repeat`` interleaved rounds (after one warm-up run of each row)."""
    for cmd, env in rows.values():
        run(cmd, env)
    walls: dict[str, list[float]] = {k: [] for k in rows}
    cpus: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(repeat):
        for k, (cmd, env) in rows.items():
            w, c = run(cmd, env)
            walls[k].append(w)
            cpus[k].append(c)
    return {k: {"wall_s": statistics.median(walls[k]), "cpu_s": statistics.median(cpus[k])} for k in rows}


def _group(name: str) -> str:
    root = name.strip().split(".")[0]
    if root in ("numpy", "numba", "llvmlite", "click", "rich", "PIL", "deflate", "orjson"):
        return "numba + llvmlite" if root in ("numba", "llvmlite") else root
    if root == "rapkit":
        return "rapkit's own modules"
    return "standard library and site"


def import_breakdown(cmd: list[str], env: dict) -> dict[str, float]:
    """Seconds of import per package group (``-X importtime`` self times)."""
    r = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, env=env, cwd=CWD)
    out: dict[str, float] = {}
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cum, name = line[len("import time:") :].split("|")
        out[_group(name)] = out.get(_group(name), 0.0) + int(self_us.strip()) / 1e6
    return out


def phases(command: str, argv: list[str], env: dict) -> dict[str, float]:
    """Seconds of each phase of one in-process run (benchmarks/_startup_probe.py)."""
    cmd = [sys.executable, str(HERE / "_startup_probe.py"), command, *argv]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=CWD)
    if r.returncode != 0:
        raise SystemExit(f"probe failed: {r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def breakdown(args: argparse.Namespace, data: Path, repeat: int = 3) -> dict[str, dict[str, float]]:
    """Per command (evaluate default path, evaluate kernel path, fuse): median seconds per
    import group and per phase over ``repeat`` fresh processes."""
    gt, pred = Path(args.gt), Path(args.pred)
    world = one_image_world(data)
    cases = {
        "evaluate": ("evaluate", evaluate_cmd(gt, pred), env_for(TREE)),
        "evaluate (kernel path)": (
            "evaluate",
            evaluate_cmd(gt, pred),
            env_for(TREE, {"RAPKIT_EVALUATE_PATH": "kernels"}),
        ),
        "fuse": ("fuse", fuse_cmd(world, data / "fused-probe"), env_for(TREE)),
    }
    out: dict[str, dict[str, float]] = {}
    for name, (command, cmd, env) in cases.items():
        samples: list[dict[str, float]] = []
        for _ in range(repeat):
            d = {f"-X importtime, self: {k}": v for k, v in import_breakdown(cmd, env).items()}
            d.update(phases(command, cmd[4:], env))
            samples.append(d)
        keys = sorted({k for s in samples for k in s})
        out[name] = {k: statistics.median(s.get(k, 0.0) for s in samples) for k in keys}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gt", default="/tmp/one/gt.json", help="GT panoptic JSON of one image (default /tmp/one)")
    ap.add_argument("--pred", default="/tmp/one/pred.json", help="its prediction")
    ap.add_argument("--data", default="/tmp/rapkit-startup", help="folder for the 1-image fuse world")
    ap.add_argument("--repeat", type=int, default=5, help="rounds (medians; default 5)")
    ap.add_argument("--before", default=None, help="also measure this rapkit source tree (an older commit)")
    ap.add_argument("--no-breakdown", action="store_true", help="only the whole-process rows")
    args = ap.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    trees = {"rapkit": TREE} if args.before is None else {"rapkit": TREE, "before": Path(args.before)}
    rows = rows_for(args, trees, data)
    print(f"load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    res = measure_rows(rows, args.repeat)
    floor = res["python -c pass"]["cpu_s"]
    print(f"\nwhole process, medians of {args.repeat} interleaved rounds")
    print(f"{'row':48s} {'wall s':>8s} {'CPU s':>7s} {'CPU above python':>17s}")
    for k, v in res.items():
        print(f"{k:48s} {v['wall_s']:8.3f} {v['cpu_s']:7.3f} {v['cpu_s'] - floor:17.3f}")
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if "before" in trees:
        for what in ("evaluate, 1 image", "fuse, 1 image"):
            b, a = res[f"before: {what}"], res[f"rapkit: {what}"]
            print(f"{what}: before/after wall {b['wall_s'] / a['wall_s']:.2f}x, CPU {b['cpu_s'] / a['cpu_s']:.2f}x")
    if args.no_breakdown:
        return
    bd = breakdown(args, data)
    keys = sorted({k for d in bd.values() for k in d})
    print("\nbreakdown of one process (ms wall, medians of 3; '-X importtime' rows: that run's import self")
    print("times by package; the other rows: benchmarks/_startup_probe.py, phases timed inside the process)")
    print(f"{'part':70s}" + "".join(f"{n:>24s}" for n in bd))
    for k in keys:
        print(f"{k[:70]:70s}" + "".join(f"{1000 * d.get(k, 0.0):24.1f}" for d in bd.values()))


if __name__ == "__main__":
    main()
