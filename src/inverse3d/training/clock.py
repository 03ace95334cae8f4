"""A run's training time across resumes, and how far a run is when it is limited by steps or by a time budget."""

from __future__ import annotations

import time

__all__ = ["RunClock"]


class RunClock:
    """Training seconds of one run: those of the processes before a resume (``seconds_before``, stored in the
    checkpoint) plus this process's since its first step (``tick`` at every step starts it).

    ``fraction(step, iterations, max_minutes)`` is how far the run is, in [0, 1]: ``step / iterations``, or with a
    time budget the larger of that and the share of the budget spent, so that a schedule (a learning-rate decay)
    reaches its end whichever limit stops the run first. A schedule that reads the clock is not bit-exact on resume;
    without ``max_minutes`` it is a function of the step alone.
    """

    def __init__(self, seconds_before: float = 0.0) -> None:
        self.seconds_before = float(seconds_before)
        self._t0: float | None = None

    def tick(self) -> None:
        """Called at every step; the first call starts this process's share of the clock."""
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def seconds(self) -> float:
        return self.seconds_before + (0.0 if self._t0 is None else time.perf_counter() - self._t0)

    def fraction(self, step: int, iterations: int, max_minutes: float | None = None) -> float:
        frac = step / max(iterations, 1)
        if max_minutes is not None:
            frac = max(frac, self.seconds() / (60.0 * max_minutes))
        return min(frac, 1.0)
