"""A longer fuzz run than CI's, for releases: random (not derandomized) mutations of every input
kind fed to ``extract-relations``, ``fuse``, ``evaluate`` (PQ and relation accuracy) and
``check`` (the cases of ``tests/cli/test_fuzz.py``), under a memory limit so that an input that
makes rapkit allocate without bound fails the case instead of the machine.

    python tools/fuzz.py                       # 2000 cases per command, 8 GiB address space
    python tools/fuzz.py -n 10000 -k fuse      # one command, more cases
    python tools/fuzz.py --log /tmp/fuzz.log   # one line per case (command, file, mutation)

Exit status: pytest's (0 = every case ended with exit 0 or 3, no traceback, nothing left
behind). A failure prints hypothesis's minimal example and a ``@reproduce_failure`` line;
turn each bug found into a fixed case in ``REGRESSIONS`` of ``tests/cli/test_fuzz.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("fuse", "extract-relations", "evaluate", "relation-accuracy", "check")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("-n", "--examples", type=int, default=2000, help="cases per command (default 2000)")
    ap.add_argument(
        "-k", "--command", choices=COMMANDS, action="append", help="only this command (repeatable; default all)"
    )
    ap.add_argument("--mem-gib", type=float, default=8.0, help="address-space limit of the run (default 8 GiB)")
    ap.add_argument("--log", help="append one line per case to this file")
    ap.add_argument("--derandomize", action="store_true", help="CI's fixed sequence instead of random cases")
    args = ap.parse_args(argv)

    env = dict(os.environ)
    env["RAPKIT_FUZZ_EXAMPLES"] = str(args.examples)
    env["RAPKIT_FUZZ_RANDOM"] = "0" if args.derandomize else "1"
    log = args.log or os.path.join(tempfile.mkdtemp(prefix="rapkit-fuzz-"), "cases.log")
    env["RAPKIT_FUZZ_LOG"] = log
    cmds = args.command or list(COMMANDS)
    select = " or ".join(f"test_fuzz_commands[{c}]" for c in cmds)
    limit = int(args.mem_gib * (1 << 30))

    def cap() -> None:  # in the child: bound memory so runaway allocations fail fast
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    before = Path(log).read_text().count("\n") if Path(log).exists() else 0
    t0 = time.time()
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "tests" / "test_fuzz.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        select,
        "--hypothesis-show-statistics",
    ]
    rc = subprocess.call(cmd, cwd=ROOT, env=env, preexec_fn=cap if os.name == "posix" else None)
    n = Path(log).read_text().count("\n") - before if Path(log).exists() else 0
    print(
        f"fuzz: {n} cases over {', '.join(cmds)} in {time.time() - t0:.0f} s; log {log}; pytest exit {rc}",
        file=sys.stderr,
    )
    return rc


if __name__ == "__main__":
    sys.exit(main())
