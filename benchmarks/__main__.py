"""Runs the benchmark cases: ``python -m benchmarks [--filter SUBSTR] [--repeats N] [--json PATH] [--tiny]``.

Each ``benchmarks/bench_<topic>.py`` contributes ``cases()``. The table gives the median time over the repeats
(after one warm-up), the peak memory above the inputs, and the ratio to the comparator run in the same process.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

import torch

from benchmarks.harness import Case, format_table, run_case, to_json


def discover(filter_: str | None = None, tiny: bool = False) -> list[Case]:
    """All cases of benchmarks/bench_*.py whose name contains ``filter_`` (and tiny ones only if asked)."""
    here = Path(__file__).parent
    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        for case in module.cases():
            if filter_ and filter_.lower() not in case.name.lower() and filter_.lower() not in info.name:
                continue
            if tiny and not case.tiny:
                continue
            cases.append(case)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--filter", default=None, help="run only cases (or files) whose name contains this text")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per case (default: the case's own)")
    parser.add_argument("--json", default=None, help="also write the results as JSON to this path")
    parser.add_argument("--tiny", action="store_true", help="run only the tiny smoke cases")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = discover(args.filter, args.tiny)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(cases)} cases", flush=True)
    results = []
    for case in cases:
        print(f"  running {case.name} ...", file=sys.stderr, flush=True)
        results.append(run_case(case, args.repeats))
    print(format_table(results))
    text = to_json(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text)
    else:
        print(text)
    return 0 if all(r.error is None or r.error.startswith("skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
