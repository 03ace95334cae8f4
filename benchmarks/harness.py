"""Times benchmark cases and records their peak memory.

A benchmark file ``benchmarks/bench_<topic>.py`` defines ``cases() -> list[Case]``. Each case builds its inputs
once (``make`` returns the function to time), runs a warm-up, then times ``repeats`` calls and reports the
median. A case may name a comparator built the same way (a naive reference or another library) that runs in the
same process on the same inputs; the table shows the ratio comparator_time / case_time (above 1: we are faster).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch

Thunk = Callable[[], Any]


@dataclass
class Case:
    """One benchmark.

    Attributes:
        name: unique, e.g. "knn K=1 5k x 5k fwd+bwd".
        make: builds the inputs and returns the function to time (called once, not timed).
        comparator: optional (label, make) timed the same way on the same machine in the same run.
        repeats: timed calls after one warm-up call.
        tiny: small enough for the test suite's smoke run (well under a second).
        device: "cpu" or "cuda"; cuda cases are skipped without a GPU.
    """

    name: str
    make: Callable[[], Thunk]
    comparator: tuple[str, Callable[[], Thunk]] | None = None
    repeats: int = 5
    tiny: bool = False
    device: str = "cpu"


@dataclass
class Result:
    name: str
    median_s: float
    min_s: float
    peak_mem_mb: float
    comparator: str | None = None
    comparator_median_s: float | None = None
    ratio: float | None = None  # comparator / ours: above 1 means inverse3d is faster
    comparator_peak_mem_mb: float | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the (monotonic) peak
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class _PeakSampler:
    """Samples resident memory every millisecond on a thread; peak above the level at start."""

    def __enter__(self) -> "_PeakSampler":
        self.base = _rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_thunk(make: Callable[[], Thunk], repeats: int, device: str = "cpu") -> tuple[list[float], float]:
    """Returns (times in seconds of the timed calls, peak memory in MB above the inputs).

    Memory is sampled from the warm-up call on: after it, the allocator reuses the pages it already holds, so the
    timed calls alone would show little growth.
    """
    fn = make()
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    times = []
    with _PeakSampler() as sampler:
        fn()  # warm-up
        _sync(device)
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times.append(time.perf_counter() - t0)
    peak = sampler.peak_mb
    if device == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    del fn
    gc.collect()
    return times, peak


def run_case(case: Case, repeats: int | None = None) -> Result:
    reps = repeats or case.repeats
    if case.device == "cuda" and not torch.cuda.is_available():
        return Result(case.name, float("nan"), float("nan"), float("nan"), error="skipped: no CUDA")
    try:
        times, peak = time_thunk(case.make, reps, case.device)
    except Exception as err:  # a broken case is reported, the others still run
        return Result(case.name, float("nan"), float("nan"), float("nan"), error=f"{type(err).__name__}: {err}")
    res = Result(case.name, statistics.median(times), min(times), peak)
    if case.comparator is not None:
        label, make = case.comparator
        res.comparator = label
        try:
            ctimes, cpeak = time_thunk(make, reps, case.device)
            res.comparator_median_s = statistics.median(ctimes)
            res.comparator_peak_mem_mb = cpeak
            res.ratio = res.comparator_median_s / res.median_s
        except Exception as err:
            res.error = f"comparator {label}: {type(err).__name__}: {err}"
    return res


def format_table(results: list[Result]) -> str:
    head = f"{'case':<52} {'median ms':>10} {'peak MB':>9} {'comparator':<24} {'cmp ms':>10} {'ratio':>7}"
    lines = [head, "-" * len(head)]
    for r in results:
        cmp_ms = f"{r.comparator_median_s * 1e3:10.1f}" if r.comparator_median_s is not None else f"{'':>10}"
        ratio = f"{r.ratio:7.2f}" if r.ratio is not None else f"{'':>7}"
        lines.append(
            f"{r.name:<52} {r.median_s * 1e3:10.1f} {r.peak_mem_mb:9.1f} {(r.comparator or ''):<24} {cmp_ms} {ratio}"
        )
        if r.error:
            lines.append(f"    ! {r.error}")
    return "\n".join(lines)


def to_json(results: list[Result]) -> str:
    return json.dumps([asdict(r) for r in results], indent=2)
