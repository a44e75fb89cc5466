"""Reading a series to watch: the forecast readers' CSV rules (header found or named, dates in the first text
column, values in --column else the last, missing and non-numeric cells refused), then the timestamps checked:
in order, no duplicates, and evenly spaced unless --allow-gaps. Anomaly windows for a plot, from a JSON file."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Optional

import numpy as np

from seqgen.data.series import read_series_csv
from seqgen.errors import SeqgenError

GAP_FACTOR = 1.5  # a step this many times the usual one (the median) is a gap


def _instant(text: str) -> Optional[float]:
    """Seconds of an ISO 8601 date or time, or of a plain number; None for anything else."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def check_timestamps(path, stamps: list, allow_gaps: bool) -> None:
    """Refuse, in one line each, a timestamp seqgen cannot read, one out of order, a duplicate, and (unless
    allow_gaps) a gap: the detector reads records in order and takes them as evenly spaced."""
    instants = []
    for k, text in enumerate(stamps):
        instant = _instant(text)
        if instant is None:
            raise SeqgenError(f"{path} record {k + 1} has the timestamp {text[:40]!r}, which is not a date seqgen "
                              "reads; write dates as ISO 8601 (2014-04-01 00:05:00) or numbers")
        instants.append(instant)
    steps = np.diff(np.asarray(instants))
    for k in np.flatnonzero(steps <= 0)[:1]:
        if steps[k] == 0:
            raise SeqgenError(f"{path} has the timestamp {stamps[k + 1]} twice (records {k + 1} and {k + 2}); keep "
                              "one record per time (drop or average the duplicates)")
        raise SeqgenError(f"{path} is not in time order: record {k + 2} ({stamps[k + 1]}) comes before record "
                          f"{k + 1} ({stamps[k]}); sort the file by its timestamps")
    if allow_gaps or not len(steps):
        return
    usual = float(np.median(steps))
    gaps = np.flatnonzero(steps > GAP_FACTOR * usual)
    if len(gaps):
        k = int(gaps[0])
        raise SeqgenError(f"{path} has a gap between {stamps[k]} and {stamps[k + 1]} ({steps[k] / usual:.3g} usual "
                          f"steps; {len(gaps)} gap(s) in all); fill the gaps, or pass --allow-gaps to read the "
                          "records in order as if evenly spaced")


def read_stream(path, column: Optional[str] = None, allow_gaps: bool = False) -> tuple[Optional[list], np.ndarray]:
    """(timestamps or None, values) of a series file, checked (see the module's docstring)."""
    series = read_series_csv(path, column)
    if series.dates is not None:
        check_timestamps(path, series.dates, allow_gaps)
    return series.dates, series.values


def read_windows(path, series_path, stamps: Optional[list]) -> list[tuple[int, int]]:
    """Labelled anomaly windows as (first, last) record indices: `path` is a JSON list of [start, end]
    timestamp pairs, or NAB's combined_windows.json, whose entry for the series is found by its file name."""
    from seqgen.tasks.detect.evaluate import window_indices

    try:
        found = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise SeqgenError(f"cannot read --labels {path}: {getattr(error, 'strerror', None) or error}") from None
    if isinstance(found, dict):
        name = Path(series_path).name
        keys = [key for key in found if Path(key).name == name]
        if len(keys) != 1:
            raise SeqgenError(f"--labels {path} has {'no' if not keys else 'more than one'} entry for {name}; give "
                              "a JSON list of [start, end] timestamps, or a file keyed by the series' file name")
        found = found[keys[0]]
    if not (isinstance(found, list) and all(isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w)
                                            for w in found)):
        raise SeqgenError(f"--labels {path} must hold a list of [start, end] timestamp pairs")
    if stamps is None:
        raise SeqgenError(f"--labels needs timestamps in {series_path} to place the windows; the file has none")
    try:
        times = [datetime.datetime.fromtimestamp(_instant(t), datetime.timezone.utc).replace(tzinfo=None)
                 for t in stamps]
        return window_indices([t.isoformat() for t in times], [[_iso(a), _iso(b)] for a, b in found])
    except (TypeError, ValueError):
        raise SeqgenError(f"--labels {path} holds a timestamp that is not an ISO 8601 date") from None


def _iso(text: str) -> str:
    instant = _instant(text)
    if instant is None:
        raise ValueError(text)
    return datetime.datetime.fromtimestamp(instant, datetime.timezone.utc).replace(tzinfo=None).isoformat()
