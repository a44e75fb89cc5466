"""Numeric series from CSV files (forecasting) and labelled sequences from UCR-style files
(classification), read carefully: every problem is one SeqgenError naming the file, row and column."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

import numpy as np

from seqgen.errors import SeqgenError

# Built-in series shipped inside the package (seqgen/data/<file>), so they work offline.
BUILTIN_SERIES = {
    "airline": ("airline.csv", "passengers", "monthly international airline passengers, thousands, 1949-1960 (Box & Jenkins)", 12),
}
_MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}


@dataclass(frozen=True)
class Series:
    name: str
    values: np.ndarray  # (N,) float64
    dates: Optional[list]  # N strings from the date column, or None
    column: str


def _number(cell: str) -> Optional[float]:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SeqgenError(f"cannot read {path}: {error.strerror or error}") from None
    if b"\x00" in data:  # anywhere in the file: a NUL is never part of a CSV or UCR text file
        raise SeqgenError(f"{path} looks like a binary file (it holds a NUL byte); give a text file (CSV or UCR format)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text.strip():
        raise SeqgenError(f"{path} is empty; give a file with numbers in it")
    return text


def read_series_csv(path: str | Path, column: Optional[str] = None, name: Optional[str] = None) -> Series:
    """One numeric column of a CSV file (a header row optional), with the first column as dates when
    it is not the value column. Missing and non-numeric cells are refused, not guessed."""
    path = Path(path)
    text = _read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    except csv.Error as error:  # a stray quote or carriage return, a field over the csv module's size limit
        raise SeqgenError(f"{path} is not a readable CSV file ({error}); give comma-, semicolon- or tab-separated "
                          "values with a header row") from None
    if not rows:
        raise SeqgenError(f"{path} holds no values, only separators or blank lines; give a CSV file of numbers")
    first = [cell.strip() for cell in rows[0]]
    header = any(_number(cell) is None for cell in first[-1:]) or (column is not None)
    if header:
        names, rows = first, rows[1:]
    else:
        names = [f"column {i + 1}" for i in range(len(first))]
    if column is None:
        index = len(names) - 1
    elif column in names:
        index = names.index(column)
    elif _number(first[-1]) is not None:  # the test that finds a header when no --column is given
        raise SeqgenError(f"{path} has no header row (its first line ends in a number), so no column named {column!r}; "
                          "add a header row, or leave out --column to use the last column")
    else:
        raise SeqgenError(f"{path} has no column {column!r}; its columns are: {', '.join(repr(n) for n in names)}")
    if not rows:
        raise SeqgenError(f"{path} has a header but no rows of data")
    date_index = 0 if index != 0 and len(names) > 1 else None
    values, dates = [], []
    for row_number, row in enumerate(rows, start=1):
        line = row_number + (1 if header else 0)
        cell = row[index].strip() if index < len(row) else ""
        if cell.lower() in _MISSING:
            raise SeqgenError(f"{path} line {line} has a missing value in column {names[index]!r}; "
                              "fill or drop missing values first (seqgen does not guess them)")
        value = _number(cell)
        if value is None:
            raise SeqgenError(f"{path} line {line}, column {names[index]!r} holds {cell[:30]!r}, which is not a number")
        values.append(value)
        if date_index is not None:
            dates.append(row[date_index].strip() if date_index < len(row) else "")
    return Series(name or path.stem, np.asarray(values, dtype=np.float64), dates or None, names[index])


def load_series(spec: str, column: Optional[str] = None) -> tuple[Series, Optional[int]]:
    """A built-in series name or a CSV path → (series, its natural season or None)."""
    if spec in BUILTIN_SERIES:
        filename, default_column, _, season = BUILTIN_SERIES[spec]
        with resources.as_file(resources.files("seqgen.data") / filename) as path:
            return read_series_csv(path, column or default_column, name=spec), season
    path = Path(spec).expanduser()
    if not path.is_file():
        raise SeqgenError(f"no built-in series named {spec!r} and no such file; built in: {', '.join(BUILTIN_SERIES)}; "
                          "or give a CSV file with --column NAME")
    return read_series_csv(path, column), None


def check_series(series: Series, season: int, horizon: int, window: int, log: bool) -> None:
    """Refuse series that cannot be learned or forecast as asked, saying which option to change."""
    n = len(series.values)
    if n < season:
        raise SeqgenError(f"the series {series.name!r} has {n} points, shorter than one season (--season {season})")
    if n < horizon:
        raise SeqgenError(f"the series {series.name!r} has {n} points, shorter than the horizon (--horizon {horizon})")
    needed = window + horizon + 1
    if n < needed:
        raise SeqgenError(f"the series {series.name!r} has {n} points for training; --window {window} and "
                          f"--horizon {horizon} need at least {needed}: lower them or give a longer series")
    if log and np.any(series.values <= 0):
        first = int(np.argmax(series.values <= 0))
        raise SeqgenError(f"the series {series.name!r} has a value <= 0 (point {first + 1}: {series.values[first]:g}); "
                          "the log transform needs positive values: pass --no-log-transform")


def _label(cell: str) -> str:
    """UCR files write labels as floats ("1.0000000e+00"); keep them as the integers they are."""
    value = _number(cell)
    if value is not None and value == int(value):
        return str(int(value))
    return cell


def read_labeled_sequences(path: str | Path, label_column: Optional[str] = None, labeled: bool = True) -> tuple[list, list]:
    """(labels, sequences) from a UCR file (label first, then values, whitespace- or comma-separated),
    or a CSV file with a header and a label column. Trailing NaN or empty cells mark shorter sequences.
    With labeled=False every cell is a value and the labels come back empty."""
    labels, sequences, _ = read_labeled_file(path, label_column, labeled)
    return labels, sequences


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _is_header(cells: list) -> bool:
    """A first row of names, not of values: more of its cells are words than numbers. A row of numbers with a typo
    in one cell is data, and its bad cell is reported, instead of being dropped as a header."""
    words = sum(1 for cell in cells if _number(cell) is None and cell.lower() not in _MISSING)
    numbers = sum(1 for cell in cells if _number(cell) is not None)
    return words > 0 and words >= numbers


def read_labeled_file(path: str | Path, label_column: Optional[str] = None, labeled: bool = True) -> tuple[list, list, dict]:
    """read_labeled_sequences, plus the file's layout (see `describe_layout`) for checking later files against it."""
    path = Path(path)
    text = _read_text(path)
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise SeqgenError(f"{path} has no sequences in it")
    split = re.compile(r"\s*[,;\t]\s*|\s+")
    rows = [(number, split.split(line.strip())) for number, line in lines]
    header_cells = rows[0][1]
    label_index = 0
    names, wanted = None, None
    if not labeled:
        if _is_header(header_cells):
            names = header_cells
            rows = rows[1:]
        label_index = None
    elif _is_header(header_cells[1:]):
        names = header_cells
        wanted = label_column or ("label" if "label" in names else names[0])
        if wanted not in names:
            raise SeqgenError(f"{path} has no column {wanted!r}; its columns are: {', '.join(repr(n) for n in names)}")
        label_index = names.index(wanted)
        rows = rows[1:]
    elif label_column is not None:
        raise SeqgenError(f"{path} has no header row, so it has no column named {label_column!r}; "
                          "in UCR files the label is the first value of each line")
    if not rows:
        raise SeqgenError(f"{path} has no sequences in it")
    labels, sequences = [], []
    for number, cells in rows:
        label = ""
        if label_index is not None:
            label = cells[label_index].strip() if label_index < len(cells) else ""
            if label.lower() in _MISSING:
                raise SeqgenError(f"{path} line {number} has no label")
            cells = cells[:label_index] + cells[label_index + 1:]
        while cells and cells[-1].strip().lower() in _MISSING:
            cells = cells[:-1]  # padding of a shorter sequence
        values = []
        for position, cell in enumerate(cells, start=1):
            value = _number(cell)
            if value is None:
                what = "a missing value" if cell.strip().lower() in _MISSING else f"{cell[:30]!r}, which is not a number"
                raise SeqgenError(f"{path} line {number}, value {position} is {what}; "
                                  "only trailing missing values (a shorter sequence) are allowed")
            if abs(value) > _FLOAT32_MAX:
                raise SeqgenError(f"{path} line {number}, value {position} is {cell[:30]}, beyond the range of "
                                  f"32-bit floats (±{_FLOAT32_MAX:.3g}); rescale the data")
            values.append(value)
        if not values:
            raise SeqgenError(f"{path} line {number} has {'a label but ' if label_index is not None else ''}no values")
        labels.append(_label(label) if label else "")
        sequences.append(np.asarray(values, dtype=np.float32))
    lengths = [len(s) for s in sequences]
    layout = {"format": "csv" if names is not None else "ucr", "columns": list(names) if names is not None else None,
              "label_column": wanted if names is not None else (0 if label_index is not None else None),
              "min_length": min(lengths), "max_length": max(lengths),
              "cells_per_row": max(len(cells) for _, cells in rows)}
    return labels, sequences, layout


# A sequence may be shorter or longer than the training sequences by this factor at most: the networks read any
# length, but one far outside the lengths they learned from is another kind of data (or another file layout).
LENGTH_TOLERANCE = 2


def _values(n: int) -> str:
    return f"{n} value{'s' if n != 1 else ''}"


def _describe_format(layout: dict) -> str:
    if layout["format"] == "csv":
        return f"a CSV file with a header ({', '.join(repr(c) for c in layout['columns'][:6])}{', …' if len(layout['columns']) > 6 else ''})"
    return "a UCR file (no header, the label first on each line)"


def check_layout(path: str | Path, layout: dict, trained: Optional[dict], labeled: bool = True, lengths: bool = True) -> None:
    """Refuse a file laid out unlike the training file (`trained`, from the checkpoint; None for old checkpoints):
    another format or header, or sequences far shorter or longer than the model was trained on."""
    if not trained:
        return
    if labeled and layout["format"] != trained["format"]:
        raise SeqgenError(f"{path} is {_describe_format(layout)}, but the model was trained on {_describe_format(trained)}; "
                          "give a file laid out as the training file")
    if labeled and layout["format"] == "csv":
        if layout["label_column"] != trained["label_column"]:
            raise SeqgenError(f"{path} has its labels in column {layout['label_column']!r}, the model was trained with "
                              f"labels in column {trained['label_column']!r}")
        if layout["columns"] != trained["columns"]:
            ours, theirs = set(layout["columns"]), set(trained["columns"])
            missing, extra = sorted(theirs - ours), sorted(ours - theirs)
            what = "; ".join(part for part in (
                f"lacks column(s) {', '.join(map(repr, missing[:5]))}" if missing else "",
                f"has column(s) {', '.join(map(repr, extra[:5]))} the training file had not" if extra else "") if part)
            raise SeqgenError(f"{path} {what or 'has the columns of the training file in another order'}; "
                              "give a file with the training file's header")
    if not lengths:
        return
    low = max(1, trained["min_length"] // LENGTH_TOLERANCE)
    high = trained["max_length"] * LENGTH_TOLERANCE
    if layout["min_length"] < low or layout["max_length"] > high:
        if layout["min_length"] == layout["max_length"]:
            have = f"has {_values(layout['min_length'])} per row"
        else:
            have = f"has rows of {layout['min_length']} to {_values(layout['max_length'])}"
        if trained["min_length"] == trained["max_length"]:
            want = f"sequences of {_values(trained['max_length'])}"
        else:
            want = f"sequences of {trained['min_length']} to {_values(trained['max_length'])}"
        raise SeqgenError(f"{path} {have}, the model was trained on {want} (accepted: {low} to {high}); "
                          "give a file laid out as the training file" + ("" if labeled else ", one sequence per line"))


def check_known_labels(labels: list, classes: list, path: str | Path) -> None:
    """Every label of a test file must be one the model was trained on."""
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise SeqgenError(f"{path} has label(s) {', '.join(repr(u) for u in unknown)} never seen in training "
                          f"(the model knows: {', '.join(repr(c) for c in classes)})")
