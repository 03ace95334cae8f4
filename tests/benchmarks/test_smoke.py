"""The benchmark runner works end to end on its tiny cases (timings are not asserted)."""

import json

from benchmarks.__main__ import discover, main
from benchmarks.harness import Case, run_case


def test_run_case_with_comparator_reports_ratio():
    case = Case("sum", lambda: (lambda: sum(range(1000))), comparator=("loop", lambda: (lambda: [i for i in range(1000)])), repeats=3)
    res = run_case(case)
    assert res.error is None
    assert res.median_s > 0 and res.comparator_median_s > 0
    assert abs(res.ratio - res.comparator_median_s / res.median_s) < 1e-12


def test_broken_case_is_reported_not_raised():
    def make():
        raise RuntimeError("boom")

    res = run_case(Case("broken", make))
    assert res.error and "boom" in res.error


def test_tiny_cases_run(tmp_path):
    cases = discover(tiny=True)
    assert cases, "every benchmark file should mark one tiny case"
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["name"] for r in rows} == {c.name for c in cases}
    assert all(r["median_s"] > 0 for r in rows)
