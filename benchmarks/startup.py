"""Start-up of the ``gat`` command against ``python -c 'import numpy, scipy.sparse'`` (issue 12).

Each round runs the baseline and then every command once, in the same order, so that a load
change on a shared machine hits both sides of each ratio alike; the table gives the median
wall time of each over all rounds and its ratio to the baseline's median.

    python benchmarks/startup.py                 # 20 rounds, a Markdown table on stdout
    python benchmarks/startup.py --rounds 5 --json out.json
    python -X importtime -c 'import gatcli.cli.embed' 2>&1 | sort -t'|' -k2 -n | tail

Targets: ``gat embed`` on the karate example at most 1.5x the baseline, ``gat --version`` and
``gat --help`` at most 1.2x.

gatcli's bytecode is compiled first (``compileall``, as ``pip install`` does): numpy and scipy
are timed from their installed ``.pyc`` files, and with ``PYTHONDONTWRITEBYTECODE`` set (as on
the benchmark machine) an editable checkout would otherwise compile every gatcli module from
source on every run (about 0.1-0.4 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KARATE = ROOT / "examples" / "graphs" / "karate"

#: name -> (command, target ratio to the baseline or None)
def commands(gat: str) -> dict[str, tuple[list[str], float | None]]:
    return {
        "baseline: python -c 'import numpy, scipy.sparse'": (
            [sys.executable, "-c", "import numpy, scipy.sparse"], None),
        "gat --version": ([gat, "--version"], 1.2),
        "gat --help": ([gat, "--help"], 1.2),
        "gat embed karate": ([gat, "embed", str(KARATE / "edges.csv"),
                              str(KARATE / "features.csv")], 1.5),
        "gat embed --help": ([gat, "embed", "--help"], None),
        "gat explain (tutorial)": ([gat, "explain"], None),
    }


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env={**os.environ, "COLUMNS": "80"})
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--gat", default=shutil.which("gat"), help="the gat to time")
    parser.add_argument("--json", help="also write the raw times here")
    args = parser.parse_args()
    if args.gat is None:
        raise SystemExit("no gat on PATH (pip install -e .)")
    table = commands(args.gat)
    import gatcli

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(gatcli.__file__).parent)], check=True)
    for command, _ in table.values():  # warm the file cache once
        wall(command)
    times: dict[str, list[float]] = {name: [] for name in table}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for name, (command, _) in table.items():
            times[name].append(wall(command))
    load_after = os.getloadavg()
    base = statistics.median(next(iter(times.values())))
    print(f"{platform.node()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {args.rounds} rounds; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; gat {args.gat}")
    print()
    print("| command | median wall (s) | min (s) | ratio to baseline | target |")
    print("|---|---:|---:|---:|---|")
    for name, (_, target) in table.items():
        median = statistics.median(times[name])
        ratio = median / base
        verdict = "" if target is None else (f"<= {target}x: "
                                             + ("met" if ratio <= target else "NOT met"))
        print(f"| {name} | {median:.3f} | {min(times[name]):.3f} | {ratio:.2f}x | {verdict} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"times": times, "load": [load_before,
                                                                      load_after]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
