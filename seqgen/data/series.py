"""Numeric series from CSV files (forecasting) and labelled sequences from UCR text, CSV and the UEA/UCR
`.ts` archive format (classification), read carefully: every problem is one SeqgenError naming the
file, line and what is wrong."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from seqgen.data.corpora import BUILTIN_SERIES, cannot_read, did_you_mean
from seqgen.errors import SeqgenError

_MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the networks compute in 32-bit floats


class LabelError(SeqgenError):
    """A labelled file's labels are missing or unknown: perhaps the file holds no labels at all."""


@dataclass(frozen=True)
class Series:
    name: str
    values: np.ndarray  # (N,) float64
    dates: Optional[list]  # N strings from the date column, or None
    column: str
    covariates: Optional[dict] = None  # other columns read beside it: name → (N,) float64


def _number(cell: str) -> Optional[float]:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# A cell that reads as a date or time: 2000-01, 1949-01-31T06:00, 12/31/1999, 1949 Q1, Jan 1949, 1-Jan-2000.
_DATE = re.compile(r"\d[\d\s:/.\-TZ+]*|\d{4}\s?-?Q[1-4]|(\d{1,2}[-/ ])?[a-z]{3,9}\.?[-/ ,]+\d{2,4}", re.IGNORECASE)
_SNIFF_ROWS = 100  # rows below the first that a header is judged against


def _kind(cell: str) -> str:
    if cell.lower() in _MISSING:
        return "empty"
    if _number(cell) is not None:
        return "number"
    return "date" if _DATE.fullmatch(cell) else "text"


def _first_row_names_columns(rows: list) -> Optional[bool]:
    """Whether the first of `rows` (lists of stripped cells) names the columns rather than holding values: True when
    more of its cells parse unlike the cells below them (a name over numbers or dates; an empty cell over values, as
    pandas heads an unnamed index) than like them (a number over numbers, a date over dates), so a row of values with
    one typo stays data and its bad cell is reported. pandas names unnamed columns 0, 1, 2, …: such a row is a header
    beside a name or an empty cell, or above values pandas wrote as decimals; alone above whole numbers it may be
    either, and the answer is None."""
    first, below = rows[0], [[_kind(cell) for cell in row] for row in rows[1:_SNIFF_ROWS + 1]]
    numeric = [cell for cell in first if _kind(cell) == "number"]
    pandas_names = bool(numeric) and all(cell == str(i) for i, cell in enumerate(numeric))
    names = data = 0
    for j, cell in enumerate(first):
        kind = _kind(cell)
        filled = [kinds[j] for kinds in below if j < len(kinds) and kinds[j] != "empty"]
        column = max(("number", "date", "text"), key=filled.count) if filled else None
        if kind == "number" and pandas_names:
            continue
        if column is None:  # nothing below this cell: judge it alone
            names += kind == "text"
            data += kind in ("number", "date")
        elif kind in ("empty", "text") and column in ("number", "date"):
            names += 1
        elif kind == "empty" and column == "text":
            names += 1
        elif kind == column and kind in ("number", "date"):
            data += 1
    if names != data or names or not pandas_names:
        return names > data
    if len(numeric) > 1 and len(numeric) < len(first):
        return True  # 0, 1, … beside a name: no row of values looks like that
    columns = [j for j, cell in enumerate(first) if _kind(cell) == "number"]
    below_numbers = [row[j] for row, kinds in zip(rows[1:], below) for j in columns if j < len(row) and
                     kinds[j] == "number"]
    if below_numbers and all(re.search(r"[.eE]", cell) for cell in below_numbers):
        return True  # pandas writes float columns as 269.0: a 0 above them is a name
    return None


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise cannot_read(path, error) from None
    if b"\x00" in data:  # anywhere in the file: a NUL is never part of a CSV or UCR text file
        raise SeqgenError(f"{path} looks like a binary file (it holds a NUL byte); give a text file (CSV or UCR format)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text.strip():
        raise SeqgenError(f"{path} is empty; give a file with numbers in it")
    return text


def read_series_csv(path: str | Path, column: Optional[str] = None, name: Optional[str] = None,
                    covariates: Sequence[str] = ()) -> Series:
    """One numeric column of a CSV file (a header row optional), and the `covariates` columns beside it, with the
    first non-numeric other column (else the first column) as dates. Missing and non-numeric cells are refused,
    not guessed."""
    path = Path(path)
    text = read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.reader(io.StringIO(text), dialect)
        numbered = [(reader.line_num, [cell.strip() for cell in row]) for row in reader if any(c.strip() for c in row)]
    except csv.Error as error:  # a stray quote or carriage return, a field over the csv module's size limit
        raise SeqgenError(f"{path} is not a readable CSV file ({error}); give comma-, semicolon- or tab-separated "
                          "values with a header row") from None
    if not numbered:
        raise SeqgenError(f"{path} holds no values, only separators or blank lines; give a CSV file of numbers")
    rows = [row for _, row in numbered]
    first = rows[0]
    header = True if column is not None or covariates else _first_row_names_columns(rows)
    if header is None:
        raise SeqgenError(f"{path} line {numbered[0][0]} ({','.join(first)[:40]}) may be the names pandas gives "
                          f"unnamed columns or the first values; if it is a header, say so with --column {first[-1]}, "
                          "else add a header row of names above the values")
    if header:
        names, numbered = first, numbered[1:]
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
    extra = []
    for covariate in covariates:
        if covariate not in names:
            raise SeqgenError(f"{path} has no column {covariate!r} for --covariates; its columns are: "
                              f"{', '.join(repr(n) for n in names)}")
        if names.index(covariate) == index or names.index(covariate) in extra:
            raise SeqgenError(f"--covariates names {covariate!r} twice, or the value column itself; name other "
                              "columns, each once")
        extra.append(names.index(covariate))
    if not numbered:
        raise SeqgenError(f"{path} has a header but no rows of data")
    others = [i for i in range(len(names)) if i != index and i not in extra]
    first_values = numbered[0][1]
    text_columns = [i for i in others if i < len(first_values) and _number(first_values[i]) is None]
    date_index = text_columns[0] if text_columns else (0 if 0 in others else None)
    columns = {i: [] for i in [index] + extra}
    dates = []
    for line, row in numbered:
        for i, values in columns.items():
            cell = row[i] if i < len(row) else ""
            if cell.lower() in _MISSING:
                raise SeqgenError(f"{path} line {line} has a missing value in column {names[i]!r}; "
                                  "fill or drop missing values first (seqgen does not guess them)")
            value = _number(cell)
            if value is None:
                raise SeqgenError(f"{path} line {line}, column {names[i]!r} holds {cell[:30]!r}, which is not a number")
            if abs(value) > FLOAT32_MAX:
                raise SeqgenError(f"{path} line {line}, column {names[i]!r} holds {cell[:30]}, beyond the range of "
                                  f"32-bit floats (±{FLOAT32_MAX:.3g}) the networks compute in; rescale the data")
            values.append(value)
        if date_index is not None:
            dates.append(row[date_index] if date_index < len(row) else "")
    extras = {names[i]: np.asarray(columns[i], dtype=np.float64) for i in extra} or None
    return Series(name or path.stem, np.asarray(columns[index], dtype=np.float64), dates or None, names[index], extras)


def load_series(spec: str, column: Optional[str] = None, covariates: Sequence[str] = ()) -> tuple[Series, Optional[int]]:
    """A built-in series name or a CSV path → (series, its natural season or None)."""
    if spec in BUILTIN_SERIES:
        filename, default_column, _, season = BUILTIN_SERIES[spec]
        with resources.as_file(resources.files("seqgen.data") / filename) as path:
            return read_series_csv(path, column or default_column, name=spec, covariates=covariates), season
    from seqgen.data.corpora import REGISTRY, dataset_file

    named = dataset_file(spec, "series", "forecast")
    if named is not None:
        return read_series_csv(named, column or REGISTRY[spec].column, name=spec, covariates=covariates), None
    path = Path(spec).expanduser()
    if not path.is_file():
        hint = did_you_mean(spec, BUILTIN_SERIES)
        raise SeqgenError(f"no series named {spec!r} and no such file{hint}" if hint else
                          f"no built-in series named {spec!r} and no such file; built in: {', '.join(BUILTIN_SERIES)}; "
                          "or give a CSV file with --column NAME")
    return read_series_csv(path, column, covariates=covariates), None


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


def _sequence_values(cells: list, where: str) -> list:
    """The numbers of one sequence's cells (UCR, CSV or one channel of a .ts case); trailing missing values
    pad a shorter sequence, any other missing or non-numeric cell is one line naming `where` and the value."""
    cells = [cell.strip() for cell in cells]
    while cells and cells[-1].lower() in _MISSING:
        cells.pop()  # padding of a shorter sequence
    values = []
    for position, cell in enumerate(cells, start=1):
        value = _number(cell)
        if value is None:
            what = "a missing value" if cell.lower() in _MISSING else f"{cell[:30]!r}, which is not a number"
            raise SeqgenError(f"{where}, value {position} is {what}; only trailing missing values (a shorter "
                              "sequence) are allowed")
        if abs(value) > FLOAT32_MAX:
            raise SeqgenError(f"{where}, value {position} is {cell[:30]}, beyond the range of 32-bit floats "
                              f"(±{FLOAT32_MAX:.3g}); rescale the data")
        values.append(value)
    return values


_SPLIT = re.compile(r"\s*[,;\t]\s*|\s+")


def _cells(line: str) -> list:
    """The cells of a UCR or CSV line, split at commas, semicolons, tabs or spaces. Spaces before the first value pad
    UCR files; a separator there is an empty first cell (pandas' unnamed index). Quoted cells (pandas quotes a label
    holding a comma, and every cell under quoting=QUOTE_ALL) are read as the csv module reads them."""
    line = line.rstrip().lstrip(" ")
    if '"' in line:
        outside = re.sub(r'"[^"]*"', "", line)
        delimiter = next((d for d in ",;\t " if d in outside), ",")
        try:
            return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))]
        except csv.Error:  # a quoted field over the csv module's size limit: split as if unquoted, and report its cells
            pass
    return _SPLIT.split(line)


def _is_ts(path: Path, text: str) -> bool:
    """A `.ts` archive file: by its suffix, or by a first line (after comments) that is an @ tag."""
    if path.suffix.lower() == ".ts":
        return True
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line.startswith("@")
    return False


def read_labeled_file(path: str | Path, label_column: Optional[str] = None, labeled: bool = True) -> tuple[list, list, dict]:
    """read_labeled_sequences, plus the file's layout (see `check_layout`) for checking later files against it, and
    under "lines" the line number of each sequence. A sequence is a 1-D array of values, or (T, C) for a file with
    C > 1 channels (`.ts` files). A header is told from values by `_first_row_names_columns`; pandas' unnamed index
    column is dropped."""
    path = Path(path)
    text = read_text(path)
    if _is_ts(path, text):
        if label_column is not None:
            raise SeqgenError(f"{path} is a .ts file: its label is the last field of each line, so there is no label "
                              f"column {label_column!r} to choose; leave out --label-column")
        return read_ts(path, text, labeled)
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise SeqgenError(f"{path} has no sequences in it")
    rows = [(number, _cells(line)) for number, line in lines]
    header = _first_row_names_columns([cells for _, cells in rows])
    if header is None and label_column is None:
        numbers = [cell for cell in rows[0][1] if _kind(cell) == "number"]
        raise SeqgenError(f"{path} line {rows[0][0]} holds {', '.join(numbers[:3])}{', …' if len(numbers) > 3 else ''}"
                          " above whole numbers: the names pandas gives unnamed columns, or a first sequence; if it "
                          "names the columns, remove it (pandas: to_csv(header=False))"
                          + (" or name the label column with --label-column" if labeled else "")
                          + "; if it is a sequence, move it below another")
    label_index = 0 if labeled else None
    names, wanted = None, None
    if header is not False and (header or label_column is not None):
        names, rows = rows[0][1], rows[1:]
        if names[0] == "" and len(names) > 1:  # pandas' unnamed index: row numbers, not values
            names, rows = names[1:], [(number, cells[1:]) for number, cells in rows]
        if labeled:
            # "label", else the one named column among numbered ones (pandas' 0, 1, …), else the first
            words = [name for name in names if _kind(name) != "number"]
            default = names[0] if len(words) != 1 or len(names) == 1 else words[0]
            wanted = label_column or ("label" if "label" in names else default)
            if wanted not in names:
                raise LabelError(f"{path} has no column {wanted!r}; its columns are: "
                                 f"{', '.join(repr(n) for n in names)}")
            label_index = names.index(wanted)
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
                raise LabelError(f"{path} line {number} has no label")
            cells = cells[:label_index] + cells[label_index + 1:]
        values = _sequence_values(cells, f"{path} line {number}")
        if not values:
            raise SeqgenError(f"{path} line {number} has {'a label but ' if label_index is not None else ''}no values")
        labels.append(_label(label) if label else "")
        sequences.append(np.asarray(values, dtype=np.float32))
    lengths = [len(s) for s in sequences]
    layout = {"format": "csv" if names is not None else "ucr", "columns": list(names) if names is not None else None,
              "label_column": wanted if names is not None else (0 if label_index is not None else None),
              "min_length": min(lengths), "max_length": max(lengths),
              "cells_per_row": max(len(cells) for _, cells in rows), "channels": 1,
              "lines": [number for number, _ in rows]}
    return labels, sequences, layout


# The UEA/UCR archive's `.ts` format (as sktime and aeon write it): comment lines (#), header tags, then @data
# with one case per line, its channels separated by ':' and its label last, values by ','; '?' is missing.
_TS_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength", "classlabel", "targetlabel")
_TS_ALIASES = {"dimension": "dimensions"}  # aeon writes @dimension


def _ts_boolean(path: Path, number: int, tag: str, word: str) -> bool:
    if word.lower() not in ("true", "false"):
        raise SeqgenError(f"{path} line {number}: @{tag} must be followed by true or false, not {word[:30]!r}")
    return word.lower() == "true"


def _ts_header(path: Path, lines: list) -> tuple[dict, int]:
    """The tags before @data, checked, and the index of the first data line in `lines`."""
    header: dict = {}
    for index, (number, line) in enumerate(lines):
        if not line.startswith("@"):
            raise SeqgenError(f"{path} line {number}: expected a @ tag, found {line[:30]!r} (a .ts file's cases "
                              "follow its @data line)")
        tag, rest = (line[1:].split(None, 1) + ["", ""])[:2]  # a tag in any case, then its words after spaces or tabs
        tag, words = _TS_ALIASES.get(tag.lower(), tag.lower()), rest.split()
        if tag == "data":
            if words:
                raise SeqgenError(f"{path} line {number}: @data must stand alone on its line")
            return header, index + 1
        if tag in header:
            raise SeqgenError(f"{path} line {number}: @{tag} is given twice")
        if tag in _TS_BOOLEAN_TAGS:
            if not words:
                raise SeqgenError(f"{path} line {number}: @{tag} must be followed by true or false")
            value = _ts_boolean(path, number, tag, words[0])
            if tag == "classlabel":
                if value and not words[1:]:
                    raise SeqgenError(f"{path} line {number}: @classLabel true must list the class labels")
                if value and len(set(words[1:])) != len(words[1:]):
                    raise SeqgenError(f"{path} line {number}: @classLabel lists a label twice")
                header[tag] = (value, words[1:])
            else:
                if len(words) > 1:
                    raise SeqgenError(f"{path} line {number}: @{tag} takes one word, true or false")
                header[tag] = value
        elif tag in ("dimensions", "serieslength"):
            if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
                raise SeqgenError(f"{path} line {number}: @{tag} must be followed by a whole number >= 1")
            header[tag] = int(words[0])
        else:  # @problemName and tags of later archive versions that change nothing here
            header[tag] = rest.strip()
        header.setdefault("_lines", {})[tag] = number
    raise SeqgenError(f"{path} has no @data line; a .ts file lists its header tags, then @data, then one case per line")


def read_ts(path: str | Path, text: Optional[str] = None, labeled: bool = True) -> tuple[list, list, dict]:
    """(labels, sequences, layout) from a UEA/UCR `.ts` file: univariate or multivariate (channels separated
    by ':'), equal or unequal lengths, the label last when @classLabel is true. Trailing '?' marks a shorter
    sequence; a '?' inside one, timestamps and regression targets are refused in one line."""
    path = Path(path)
    text = read_text(path) if text is None else text
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.strip().startswith("#")]
    header, first = _ts_header(path, lines)
    where = header.get("_lines", {})
    if header.get("timestamps"):
        raise SeqgenError(f"{path} line {where['timestamps']}: files with @timeStamps true are not read; give "
                          "values without time stamps")
    if header.get("targetlabel"):
        raise SeqgenError(f"{path} line {where['targetlabel']}: @targetLabel true is a regression file; "
                          "seqgen classifies, give a file with @classLabel")
    has_labels, classes = header.get("classlabel", (False, []))
    if labeled and not has_labels:
        raise SeqgenError(f"{path} has no class labels (@classLabel false or missing); give a labelled file, or "
                          "--no-labels to classify it")
    stated = header.get("dimensions")
    if header.get("univariate") and stated not in (None, 1):
        raise SeqgenError(f"{path} line {where['dimensions']}: @univariate true but @dimensions {stated}")
    data = lines[first:]
    if not data:
        raise SeqgenError(f"{path} has no cases after @data")
    labels, sequences = [], []
    channels, first_case = stated, None  # without @dimensions, the first case says how many channels every case has
    for number, line in data:
        if line.startswith("@"):
            raise SeqgenError(f"{path} line {number}: a @ tag after @data")
        if "(" in line:
            raise SeqgenError(f"{path} line {number}: values with time stamps '(t,v)' are not read; give plain values")
        fields = line.split(":")
        label = ""
        if has_labels:
            label = fields.pop().strip()
            if not labeled:
                label = ""
            elif label not in classes:
                shown = ", ".join(repr(c) for c in classes[:8]) + (", …" if len(classes) > 8 else "")
                raise SeqgenError(f"{path} line {number}: label {label[:30]!r} is not one of @classLabel's ({shown})")
        elif len(fields) > 1 and not fields[-1].strip():
            fields.pop()  # aeon ends an unlabelled case with ':'
        if channels is None:
            channels, first_case = len(fields), number
            if header.get("univariate") and channels != 1:
                raise SeqgenError(f"{path} line {number} has {channels} channels (separated by ':'), but @univariate "
                                  "is true")
        if len(fields) != channels:
            said = (f"@dimensions (line {where['dimensions']}) says {channels}" if stated is not None else
                    f"line {first_case}, the first case, has {channels}")
            raise SeqgenError(f"{path} line {number} has {len(fields)} channel(s) before the label, {said} "
                              "(channels are separated by ':', the label is last)")
        columns = []
        for channel, field in enumerate(fields, start=1):
            values = _sequence_values(field.split(","), f"{path} line {number}, channel {channel}")
            if not values:
                raise SeqgenError(f"{path} line {number}, channel {channel} has no values")
            if columns and len(values) != len(columns[0]):
                raise SeqgenError(f"{path} line {number}: channel {channel} has {len(values)} values, channel 1 "
                                  f"{len(columns[0])}; the channels of a case must have the same length")
            columns.append(values)
        sequence = np.asarray(columns, dtype=np.float32).T  # (T, C)
        sequences.append(sequence[:, 0].copy() if channels == 1 else sequence)
        labels.append(_label(label) if label else "")
    lengths = [len(s) for s in sequences]
    if header.get("equallength") and len(set(lengths)) > 1:
        raise SeqgenError(f"{path}: @equalLength true, but its cases have {min(lengths)} to {max(lengths)} steps")
    if "serieslength" in header and header.get("equallength", True):
        for (number, _), length in zip(data, lengths):
            if length != header["serieslength"]:
                raise SeqgenError(f"{path} line {number}: @seriesLength {header['serieslength']}, but this case has "
                                  f"{length} steps")
    layout = {"format": "ts", "columns": None, "label_column": None, "min_length": min(lengths),
              "max_length": max(lengths), "cells_per_row": max(lengths) * channels, "channels": channels,
              "lines": [number for number, _ in data]}
    return labels, sequences, layout


# A sequence may be shorter or longer than the training sequences by this factor at most: the networks read any
# length, but one far outside the lengths they learned from is another kind of data (or another file layout).
LENGTH_TOLERANCE = 2


def _values(n: int) -> str:
    return f"{n} value{'s' if n != 1 else ''}"


def _describe_format(layout: dict) -> str:
    if layout["format"] == "ts":
        channels = layout.get("channels", 1)
        return f"a .ts file of {channels} channel{'s' if channels != 1 else ''}"
    if layout["format"] == "csv":
        return f"a CSV file with a header ({', '.join(repr(c) for c in layout['columns'][:6])}{', …' if len(layout['columns']) > 6 else ''})"
    return "a UCR file (no header, the label first on each line)"


def check_layout(path: str | Path, layout: dict, trained: Optional[dict], labeled: bool = True, lengths: bool = True) -> None:
    """Refuse a file laid out unlike the training file (`trained`, from the checkpoint; None for old checkpoints):
    another format or header, or sequences far shorter or longer than the model was trained on."""
    if not trained:
        return
    channels, trained_channels = layout.get("channels", 1), trained.get("channels", 1)
    if channels != trained_channels:
        raise SeqgenError(f"{path} has {channels} channel{'s' if channels != 1 else ''} per step, the model was "
                          f"trained on {trained_channels}; give a file with the training file's channels")
    # UCR text and one-channel .ts files hold the same data: either may score a model trained on the other.
    same = layout["format"] == trained["format"] or {layout["format"], trained["format"]} == {"ucr", "ts"}
    if labeled and not same:
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
        shown = ", ".join(repr(u) for u in unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        raise LabelError(f"{path} has label(s) {shown} never seen in training "
                         f"(the model knows: {', '.join(repr(c) for c in classes)})")
