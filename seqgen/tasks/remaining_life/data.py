"""The remaining-life task's data: run-to-failure logs read and checked (C-MAPSS text without a header, or CSV
with one), the columns the network reads (constant ones dropped), the scaling fitted on the training units,
capped targets, the windows over each unit's history, the held-out units of each network, and the true
remaining steps of test units."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from seqgen.data.corpora import REGISTRY, dataset_file
from seqgen.data.series import read_text
from seqgen.errors import SeqgenError
from seqgen.tasks.remaining_life.config import RemainingLifeConfig

# C-MAPSS's 26 columns (its readme.txt): unit number, time in cycles, three operational settings, 21 sensors.
CMAPSS_COLUMNS = (["unit", "cycle"] + [f"setting_{i}" for i in range(1, 4)] + [f"sensor_{i}" for i in range(1, 22)])


@dataclass
class Logs:
    """A file of logs: each unit's rows, in the file's order."""

    path: str
    columns: list  # every column's name, in the file's order (a file without a header: C-MAPSS's or column_N)
    header: bool  # whether the file names its columns
    units: list  # each unit's id (int), in the file's order
    times: list  # per unit: its time steps (T,)
    values: list  # per unit: every column but the unit and time ones (T, C) float64
    lines: list  # per unit: the file's line number of its first row
    value_columns: list  # the names of `values`' columns

    def select(self, names: list) -> list:
        """Each unit's values of the columns `names`, (T, len(names))."""
        index = [self.value_columns.index(name) for name in names]
        return [v[:, index] for v in self.values]

    def describe(self, unit: int) -> str:
        return f"{self.path} unit {self.units[unit]} (line {self.lines[unit]})"


def _cells(line: str, comma: bool) -> list:
    return [cell.strip() for cell in line.split(",")] if comma else line.split()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


TASK = "remaining-life"  # the task's name, as the data-set registry knows it


def data_path(spec, role: str) -> Path:
    """`spec` as a file: a path, or the `role` file (train, test or rul) of a named data set such as cmapss-fd001,
    fetched and checked on first use."""
    return dataset_file(spec, role, TASK) if isinstance(spec, str) and spec in REGISTRY else Path(spec)


def named_targets(test) -> Optional[str]:
    """The test units' true remaining steps that come with `test` when it names a data set holding them."""
    entry = REGISTRY.get(test) if isinstance(test, str) else None
    return test if entry is not None and "rul" in dict(entry.roles) else None


def read_logs(path, unit_column: str = "unit", time_column: str = "cycle", role: str = "train") -> Logs:
    """Read a file of run logs: CSV with a header (comma-separated, columns chosen by name), or text without a
    header (space- or comma-separated) whose first two columns are the unit and the time step (C-MAPSS's 26 columns
    take its names: unit, cycle, setting_1-3, sensor_1-21; other widths column_1, column_2, …). Every row of a
    unit comes together and in time order; every value is a finite number; anything else is one line naming the
    file, line and column. A data set's name reads its `role` file."""
    path = data_path(path, role)
    text = read_text(path)
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    comma = "," in numbered[0][1]
    first = _cells(numbered[0][1], comma)
    header = not all(_is_number(cell) for cell in first)
    if header:
        columns = first
        numbered = numbered[1:]
        if not numbered:
            raise SeqgenError(f"{path} holds a header and no rows; give one row per unit and time step")
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates or "" in columns:
            raise SeqgenError(f"{path}: its header {'names ' + ', '.join(duplicates) + ' twice' if duplicates else 'has an unnamed column'}; "
                              "give every column its own name")
    else:
        columns = CMAPSS_COLUMNS if len(first) == len(CMAPSS_COLUMNS) else \
            ["unit", "cycle"] + [f"column_{j}" for j in range(3, len(first) + 1)]
    for name, flag in ((unit_column, "--unit-column"), (time_column, "--time-column")):
        if name not in columns:
            where = "its header names" if header else "it has no header; its columns are"
            raise SeqgenError(f"{path} has no column {name!r} ({flag}); {where} {', '.join(columns[:8])}"
                              f"{', …' if len(columns) > 8 else ''}")
    if unit_column == time_column:
        raise SeqgenError(f"--unit-column and --time-column both name {unit_column!r}; give two columns")
    table = _numbers(path, numbered, columns, comma, header)
    return _units(path, table, [n for n, _ in numbered], columns, header, unit_column, time_column)


def _numbers(path: Path, numbered: list, columns: list, comma: bool, header: bool) -> np.ndarray:
    """The rows as a (rows, columns) float64 array; a short row, a missing or non-numeric cell is one line."""
    rows = []
    for number, line in numbered:
        cells = _cells(line, comma)
        if len(cells) != len(columns):
            raise SeqgenError(f"{path} line {number} has {len(cells)} values, the {'header' if header else 'first line'} "
                              f"{len(columns)}; give every row a value in every column (a missing value cannot be "
                              "guessed)")
        rows.append(cells)
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError:
        table = None
    if table is None or not np.isfinite(table).all():
        for (number, _), cells in zip(numbered, rows):
            for name, cell in zip(columns, cells):
                try:
                    value = float(cell)
                except ValueError:
                    value = None
                if value is None or not math.isfinite(value):
                    what = "is missing" if cell == "" else f"{cell!r} is not a finite number"
                    raise SeqgenError(f"{path} line {number}, column {name}: the value {what}; every value must be a "
                                      "number (fill or drop the row)")
    return table


def _units(path: Path, table: np.ndarray, lines: list, columns: list, header: bool, unit_column: str,
           time_column: str) -> Logs:
    unit_at, time_at = columns.index(unit_column), columns.index(time_column)
    ids = table[:, unit_at]
    whole = ids == np.round(ids)
    if not whole.all():
        row = int(np.argmin(whole))
        raise SeqgenError(f"{path} line {lines[row]}: the unit {ids[row]:g} (column {unit_column}) is not a whole "
                          "number; the unit column holds each unit's number")
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    seen: dict = {}
    for start in starts:
        unit = int(ids[start])
        if unit in seen:
            raise SeqgenError(f"{path} line {lines[start]}: unit {unit} appears again after other units (first at line "
                              f"{lines[seen[unit]]}); keep each unit's rows together, in time order")
        seen[unit] = start
    times = table[:, time_at]
    backwards = np.flatnonzero((np.diff(times) <= 0) & (ids[1:] == ids[:-1]))
    if len(backwards):
        row = int(backwards[0]) + 1
        raise SeqgenError(f"{path} line {lines[row]}: unit {int(ids[row])}'s {time_column} {times[row]:g} does not come "
                          f"after {times[row - 1]:g}; give each unit's rows in time order")
    keep = [j for j in range(len(columns)) if j not in (unit_at, time_at)]
    if not keep:
        raise SeqgenError(f"{path} has no columns besides the unit and the time; give the measurements too")
    ends = np.r_[starts[1:], len(table)]
    return Logs(str(path), list(columns), header, [int(ids[s]) for s in starts], [times[s:e] for s, e in zip(starts, ends)],
                [table[s:e][:, keep] for s, e in zip(starts, ends)], [lines[s] for s in starts],
                [columns[j] for j in keep])


def check_like(logs: Logs, trained: dict) -> None:
    """A file to score or estimate holds the training file's columns, no more and no fewer (a file without a header:
    as many columns)."""
    if logs.columns == trained["columns"]:
        return
    if not (logs.header and trained["header"]):
        raise SeqgenError(f"{logs.path} has {len(logs.columns)} columns, the training file {len(trained['columns'])} "
                          f"({', '.join(trained['columns'][:4])}, …); give a file laid out as the training file")
    missing = [c for c in trained["columns"] if c not in logs.columns]
    extra = [c for c in logs.columns if c not in trained["columns"]]
    if missing or extra:
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"has {', '.join(extra)}"] if extra else [])
        raise SeqgenError(f"{logs.path} {' and '.join(parts)} unlike the training file; give a file with the training "
                          f"file's columns ({', '.join(trained['columns'])})")


def check_lengths(logs: Logs, window: int) -> None:
    """Every unit has at least `window` steps: a shorter one could not fill the network's first window."""
    for unit, times in enumerate(logs.times):
        if len(times) < window:
            raise SeqgenError(f"{logs.describe(unit)} has {len(times)} steps, fewer than the window of {window} the "
                              f"model reads; give units of {window} steps or more (or train with --window "
                              f"{max(2, min(len(t) for t in logs.times))})")


def choose_columns(logs: Logs, config: RemainingLifeConfig) -> tuple[list, dict]:
    """(the columns the network reads, the columns left out with the reason): --columns, else every measurement
    column that is neither constant in the training file nor uncorrelated with the capped remaining steps
    (|r| < --min-correlation over the training rows)."""
    rows = np.concatenate(logs.values)  # (sum T, C)
    targets = np.concatenate([remaining(len(t), config.cap) for t in logs.times])
    constant = {name for name, spread in zip(logs.value_columns, np.ptp(rows, axis=0)) if spread == 0}
    if config.columns is None:
        left_out = {}
        for j, name in enumerate(logs.value_columns):
            if name in constant:
                left_out[name] = "constant"
                continue
            r = float(np.corrcoef(rows[:, j], targets)[0, 1]) if np.ptp(targets) > 0 else 0.0
            if not abs(r) >= config.min_correlation:
                left_out[name] = f"r = {r:+.3f}"
        kept = [name for name in logs.value_columns if name not in left_out]
        if not kept:
            raise SeqgenError(f"{logs.path}: no measurement column is both varying and correlated with the remaining "
                              "steps; lower --min-correlation or name the columns with --columns")
        return kept, left_out
    if config.min_correlation != RemainingLifeConfig.min_correlation:
        raise SeqgenError("--min-correlation chooses among the default columns; with --columns, leave it out")
    names = [name.strip() for name in config.columns.split(",") if name.strip()]
    if not names:
        raise SeqgenError("--columns names no column; give names separated by commas, e.g. sensor_2,sensor_3")
    for name in names:
        if name not in logs.value_columns:
            raise SeqgenError(f"--columns names {name!r}, which is not a measurement column of {logs.path}; it has "
                              f"{', '.join(logs.value_columns)}")
        if name in constant:
            raise SeqgenError(f"--columns names {name!r}, which is constant in {logs.path} and tells the network "
                              "nothing; leave it out")
    if len(set(names)) != len(names):
        raise SeqgenError("--columns names a column twice; give each once")
    return names, {}


def smoothed(values: np.ndarray, alpha: float) -> np.ndarray:
    """Each column's exponential moving average over the unit's history so far (alpha: the weight of the newest
    step; 1 or 0 leaves the values as they are). It looks only back, so an estimate never sees the future."""
    if not 0 < alpha < 1:
        return values
    out = np.array(values, dtype=np.float64)
    for t in range(1, len(out)):
        out[t] = alpha * out[t] + (1 - alpha) * out[t - 1]
    return out


def fit_scaling(values: list, smoothing: float = 0.0) -> dict:
    """How the networks' inputs are prepared: each unit smoothed (`smoothing`, see `smoothed`), then each column
    z-scaled with the mean and standard deviation of every row of the training units."""
    rows = np.concatenate([smoothed(v, smoothing) for v in values])  # (sum T, C)
    std = rows.std(0)
    return {"mean": [float(x) for x in rows.mean(0)], "std": [float(x) if x > 0 else 1.0 for x in std],
            "smoothing": float(smoothing)}


def scaled(values: np.ndarray, scaling: dict) -> np.ndarray:
    """A unit's measurements (T, C) as the networks read them: smoothed, then z-scaled (see fit_scaling)."""
    values = smoothed(values, scaling.get("smoothing", 0.0))
    return ((values - np.asarray(scaling["mean"])) / np.asarray(scaling["std"])).astype(np.float32)


def remaining(length: int, cap: int) -> np.ndarray:
    """The remaining steps after each step of a unit that fails after its last one, capped: (length,)."""
    return np.minimum(np.arange(length - 1, -1, -1), cap).astype(np.float64)


def windows(unit: np.ndarray, window: int, last_only: bool = False) -> np.ndarray:
    """The windows of `window` steps ending at each step of a unit from its window-th on (only its last with
    `last_only`): (N, window, C)."""
    if last_only:
        return unit[None, len(unit) - window:]
    ends = np.arange(window, len(unit) + 1)
    return np.stack([unit[end - window:end] for end in ends])


def unit_folds(count: int, folds: int, seed: int) -> np.ndarray:
    """A fold number for every unit, dealt in random order; network m holds out fold m % folds."""
    return np.random.default_rng(seed).permutation(count) % folds if folds > 1 else np.zeros(count, dtype=np.int64)


def fold_count(val_fraction: float, units: int) -> int:
    return min(units, max(2, round(1 / val_fraction))) if val_fraction > 0 and units > 1 else 1


def read_targets(path, units: int) -> np.ndarray:
    """The true remaining steps of `units` test units: one whole number >= 0 a line (a data set's name: its rul file)."""
    path = data_path(path, "rul")
    numbered = [(n, line.strip()) for n, line in enumerate(read_text(path).splitlines(), start=1) if line.strip()]
    values = []
    for number, cell in numbered:
        try:
            value = float(cell)
        except ValueError:
            value = -1.0
        if not math.isfinite(value) or value < 0:
            raise SeqgenError(f"{path} line {number}: {cell!r} is not a remaining number of steps (a number >= 0); "
                              "give one number a line")
        values.append(value)
    if len(values) != units:
        raise SeqgenError(f"{path} holds {len(values)} remaining lives but the test file {units} units; give one "
                          "number a line for each unit, in the test file's order")
    return np.asarray(values)


@dataclass
class TrainingData:
    logs: Logs
    features: list  # the columns the network reads
    dropped: dict  # the columns left out: name → why (constant, or their correlation with the remaining steps)
    scaling: dict
    fingerprint: str
    test: Optional[tuple] = None  # (Logs, true remaining steps) of --test

    def scaled_units(self) -> list:
        return [scaled(v, self.scaling) for v in self.logs.select(self.features)]


def read_training_data(config: RemainingLifeConfig) -> TrainingData:
    """--corpus (and --test with --test-targets), read and checked before any training."""
    if not config.corpus:
        raise SeqgenError("--task remaining-life needs --corpus TRAIN_FILE: run-to-failure logs (C-MAPSS text, or CSV "
                          "with unit and time columns)")
    targets = config.test_targets or named_targets(config.test)
    if (config.test is None) != (targets is None):
        given, needed = ("--test", "--test-targets") if config.test else ("--test-targets", "--test")
        raise SeqgenError(f"{given} needs {needed}: the test units' logs and their true remaining steps go together")
    logs = read_logs(config.corpus, config.unit_column, config.time_column)
    check_lengths(logs, config.window)
    features, dropped = choose_columns(logs, config)
    test = None
    if config.test:
        test_logs = read_logs(config.test, config.unit_column, config.time_column, role="test")
        check_like(test_logs, layout_of(logs))
        check_lengths(test_logs, config.window)
        test = (test_logs, read_targets(targets, len(test_logs.units)))
    selected = logs.select(features)
    digest = hashlib.sha256(repr((logs.units, features)).encode())
    for values in selected:
        digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes() + b"|")
    return TrainingData(logs, features, dropped, fit_scaling(selected, config.smoothing), digest.hexdigest()[:16],
                        test)


def layout_of(logs: Logs) -> dict:
    """What later files are checked against: the training file's columns and whether it named them."""
    return {"columns": list(logs.columns), "header": logs.header}


def default_run_stem(config: RemainingLifeConfig) -> str:
    return f"{Path(config.corpus).stem}-remaining-life"
