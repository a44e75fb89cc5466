"""Scoring detections the way the Numenta Anomaly Benchmark does (Lavin & Ahmad 2015, NAB v1.0): labelled
windows, a scaled sigmoid that rewards the earliest detection in a window and discounts false positives near
one, three cost profiles, one threshold optimised over the corpus, and the figure normalised so that the null
detector scores 0 and the perfect one 100.

    record i inside window [a, b] (w records):  sweep = σ̃(−(b − i + 1) / w) · tp / σ̃(−1)
    record i after window [a, b]:               sweep = σ̃(|b − i| / (w − 1)) · fp   (before any window: −fp)
    σ̃(x) = 2 / (1 + e^{5x}) − 1, and −1 beyond x > 3

At a threshold θ a record is a detection when its score ≥ θ. A window scores its best (earliest) detection,
or −fn when none; every detection outside windows adds its (negative) sweep. Records in a file's probation
period (the first min(⌊0.15 n⌋, 750)) and windows wholly inside it are not scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqgen.errors import SeqgenError

PROBATION_FRACTION = 0.15
PROBATION_CAP = PROBATION_FRACTION * 5000  # NAB caps the probation period at 750 records
# NAB's config/profiles.json: the weights of true positives, false positives and false negatives.
PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}


def probation_length(records: int) -> int:
    """The records at the start of a file that are not scored (NAB: 15 %, at most 750)."""
    return int(min(math.floor(PROBATION_FRACTION * records), PROBATION_CAP))


def scaled_sigmoid(x):
    """NAB's σ̃: about 0.987 at −1 (a window's first record), 0 at 0 (its end), −1 for x > 3."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(np.clip(5.0 * x, -700, 700))) - 1.0)


def window_indices(timestamps, windows) -> list[tuple[int, int]]:
    """Each window (start, end) of timestamps as the indices of its first and last record in `timestamps`."""
    times = np.asarray(timestamps, dtype="datetime64[ms]")
    found = []
    for start, end in windows:
        first = int(np.searchsorted(times, np.datetime64(start, "ms"), side="left"))
        last = int(np.searchsorted(times, np.datetime64(end, "ms"), side="right")) - 1
        if first > last:
            raise SeqgenError(f"the anomaly window {start} – {end} holds no record of the series")
        found.append((first, last))
    return found


@dataclass
class ScoredFile:
    """One file ready for the threshold sweep: its detector scores and, per record, the sweep value and the
    window it lies in (−1: outside every window), probation records left out."""

    scores: np.ndarray  # (n,) anomaly scores of the scored records
    sweep: np.ndarray  # (n,) their weighted sweep values
    window: np.ndarray  # (n,) window number within the file, −1 outside
    windows: int  # windows with at least one scored record


def sweep_file(scores, windows: list[tuple[int, int]], profile: dict) -> ScoredFile:
    """The sweep value of every record of one file for a cost `profile` (see the module's docstring)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    sweep = np.empty(n)
    window = np.full(n, -1)
    best_tp = float(scaled_sigmoid(-1.0))
    previous = None  # (last index, width) of the window most recently passed
    position = 0
    for number, (first, last) in enumerate(sorted(windows)):
        outside = np.arange(position, first)
        sweep[outside] = _after(outside, previous, profile)
        width = last - first + 1
        inside = np.arange(first, last + 1)
        sweep[inside] = scaled_sigmoid(-(last - inside + 1) / width) * profile["tp"] / best_tp
        window[inside] = number
        previous, position = (last, width), last + 1
    outside = np.arange(position, n)
    sweep[outside] = _after(outside, previous, profile)
    start = probation_length(n)
    kept = window[start:]
    return ScoredFile(scores[start:], sweep[start:], kept, len(set(kept[kept >= 0].tolist())))


def _after(indices: np.ndarray, previous, profile: dict) -> np.ndarray:
    if previous is None:
        return np.full(len(indices), -1.0 * profile["fp"])
    last, width = previous
    return scaled_sigmoid(np.abs(last - indices) / max(width - 1, 1)) * profile["fp"]


def score_at(files: list[ScoredFile], threshold: float, profile: dict) -> float:
    """The raw NAB score of the corpus when every record scoring ≥ threshold is a detection."""
    total = 0.0
    for f in files:
        hit = f.scores >= threshold
        total += float(f.sweep[hit & (f.window < 0)].sum())
        for number in set(f.window[f.window >= 0].tolist()):
            caught = hit & (f.window == number)
            total += float(f.sweep[caught].max()) if caught.any() else -profile["fn"]
    return total


def best_threshold(files: list[ScoredFile], profile: dict) -> tuple[float, float]:
    """(threshold, raw score) maximising the corpus's raw score: NAB's sweep over every distinct score, from
    above the highest (no detection) down to the lowest (all records detected)."""
    scores = np.concatenate([f.scores for f in files])
    sweep = np.concatenate([f.sweep for f in files])
    offsets = np.cumsum([0] + [max(f.window.max(initial=-1) + 1, 0) for f in files])
    window = np.concatenate([np.where(f.window >= 0, f.window + offsets[k], -1) for k, f in enumerate(files)])
    order = np.argsort(-scores, kind="stable")
    scores, sweep, window = scores[order], sweep[order], window[order]
    windows = sum(f.windows for f in files)
    best_in = np.full(int(offsets[-1]), np.nan)  # each window's best detection so far
    fp_sum, tp_sum, caught = 0.0, 0.0, 0
    best = (float(scores[0]) + 0.1 if len(scores) else 1.1, -profile["fn"] * windows)
    i = 0
    while i < len(scores):
        j = i
        while j < len(scores) and scores[j] == scores[i]:  # records tied on one score are detected together
            w = window[j]
            if w < 0:
                fp_sum += sweep[j]
            elif np.isnan(best_in[w]):
                best_in[w] = sweep[j]
                tp_sum += sweep[j]
                caught += 1
            elif sweep[j] > best_in[w]:
                tp_sum += sweep[j] - best_in[w]
                best_in[w] = sweep[j]
            j += 1
        raw = fp_sum + tp_sum - profile["fn"] * (windows - caught)
        if raw > best[1]:
            best = (float(scores[i]), raw)
        i = j
    return best


def normalised(raw: float, windows: int, profile: dict) -> float:
    """100 (raw − null) / (perfect − null): the null detector (no detection) misses every window, the perfect
    one catches each at its first record."""
    if windows < 1:
        raise SeqgenError("the corpus holds no labelled window: its NAB score cannot be normalised (only the raw "
                          "score, the sum of false-positive costs, is defined)")
    null, perfect = -profile["fn"] * windows, profile["tp"] * windows
    return 100.0 * (raw - null) / (perfect - null)


def nab_score(corpus: dict, profile_name: str, threshold=None) -> dict:
    """The NAB figure of a detector on a corpus {file: (scores, window indices)} for one profile: the threshold
    (optimised over the corpus unless given), the raw and the normalised score (None without any window)."""
    if profile_name not in PROFILES:
        raise SeqgenError(f"unknown NAB profile {profile_name!r}; NAB has: {', '.join(PROFILES)}")
    profile = PROFILES[profile_name]
    files = [sweep_file(scores, windows, profile) for scores, windows in corpus.values()]
    if threshold is None:
        threshold, raw = best_threshold(files, profile)
    else:
        raw = score_at(files, threshold, profile)
    windows = sum(len(w) for _, w in corpus.values())
    return {"threshold": threshold, "raw": raw, "score": normalised(raw, windows, profile) if windows else None}
