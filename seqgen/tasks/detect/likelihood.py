"""Prediction errors turned into an anomaly score in [0, 1], record by record, from their recent past only:
the anomaly likelihood of Ahmad et al. (2017, Numenta's HTM detector) put on a forecaster's errors.

    e_t        |value − forecast| in the series' probation scale
    m_t        mean of the last SHORT errors                       (what is happening now)
    μ_t, σ_t   mean and spread of m over the last LONG records      (what is usual lately)
    L_t        1 − Q((m_t − μ_t) / σ_t)                             (how unusual now is; Q: Gaussian tail)
    score_t    log(1 − L_t) / log(10⁻¹⁰), in [0, 1]                 (0.5: a 1-in-10⁵ tail)

Like HTM's, a tail beyond 10⁻⁵ right after another is held at 10⁻³ (score 0.3): an anomaly is news once, and
the records that follow it, whose averages still hold its error, would otherwise each count as a false alarm.
The constants are HTM's published ones (window 10, history 8640, 10⁻⁵ and 10⁻³), not fitted to NAB's labels.

A value beyond the range seen so far by more than a twentieth of that range scores 1 at once, whatever the
forecaster says: a level never seen is news even to a model that extrapolates it well.
"""

from __future__ import annotations

import math
from collections import deque

SHORT = 10  # records averaged into "now": one spike is not an anomaly, ten bad forecasts in a row are
LONG = 8640  # records of history the usual error level is measured on (a month of 5-minute records)
RANGE_TOLERANCE = 0.05  # fraction of the seen range a value may pass the seen extremes by without scoring 1
_TAIL_FLOOR = 1e-10  # the smallest tail probability told apart: score 1
RED = 1e-5  # a tail this small is an anomaly (score 0.5) ...
YELLOW = 1e-3  # ... and one that follows it at once is held at this one (score 0.3)
_MIN_SPREAD = 1e-6  # of m, in probation scale units: a perfectly predicted stretch must not divide by zero


class ErrorLikelihood:
    """Scores one record at a time from its forecast error and value; state holds only the past."""

    def __init__(self, short: int = SHORT, long: int = LONG):
        self.short_window: deque = deque(maxlen=short)
        self.long_window: deque = deque(maxlen=long)
        self.short_sum = 0.0
        self.long_sum = 0.0
        self.long_squares = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.red = False  # whether the last scored record's tail was beyond RED

    def observe(self, error: float, value: float, scored: bool = True) -> float:
        """The score of a record whose forecast missed by `error` (0 while `scored` is false: the probation),
        after which the record joins the history."""
        if len(self.short_window) == self.short_window.maxlen:
            self.short_sum -= self.short_window[0]
        self.short_window.append(error)
        self.short_sum += error
        now = self.short_sum / len(self.short_window)
        score = self._score(now, value) if scored else 0.0
        if len(self.long_window) == self.long_window.maxlen:
            old = self.long_window[0]
            self.long_sum -= old
            self.long_squares -= old * old
        self.long_window.append(now)
        self.long_sum += now
        self.long_squares += now * now
        self.low, self.high = min(self.low, value), max(self.high, value)
        return score

    def _score(self, now: float, value: float) -> float:
        if self.high > self.low:
            margin = (self.high - self.low) * RANGE_TOLERANCE
            if value > self.high + margin or value < self.low - margin:
                return 1.0
        count = len(self.long_window)
        if count < 2:
            return 0.0
        mean = self.long_sum / count
        spread = math.sqrt(max(self.long_squares / count - mean * mean, 0.0))
        spread = max(spread, _MIN_SPREAD, 1e-3 * abs(mean))
        tail = 0.5 * math.erfc((now - mean) / (spread * math.sqrt(2.0)))  # Q(z)
        if tail <= RED:
            tail, self.red = (max(tail, YELLOW) if self.red else tail), True
        else:
            self.red = False
        return min(1.0, math.log(max(tail, _TAIL_FLOOR)) / math.log(_TAIL_FLOOR))
