"""Sequence pairs for translation: the generated `dates` task and TSV pairs files, split three ways."""

from __future__ import annotations

import datetime
import hashlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from seqgen.data.corpora import did_you_mean, read_text_file
from seqgen.errors import SeqgenError

Pair = tuple[str, str]

EN_MONTHS = ("January February March April May June July August September October November December").split()
PT_MONTHS = ("janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro").split()
EN_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
PT_DAYS = ("segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo").split()
PT_SHORT_DAYS = "seg ter qua qui sex sáb dom".split()

# The dates task: fixed sizes, and a fixed seed for the test set so every run is scored on the same dates.
DATES_TEST_SIZE, DATES_VAL_SIZE, DATES_TEST_SEED = 2000, 1000, 20_260_000
FIRST_DAY, LAST_DAY = datetime.date(1950, 1, 1).toordinal(), datetime.date(2049, 12, 31).toordinal()


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _format_date(d: datetime.date, rng: random.Random) -> str:
    """One human-readable rendering of `d`, in English or Portuguese, picked at random.

    Two-digit years appear only because every date lies in 1950–2049, so "07" can only be 2007.
    Numeric forms are day-first (Portuguese order) to keep every string unambiguous.
    """
    en_m, pt_m = EN_MONTHS[d.month - 1], PT_MONTHS[d.month - 1]
    en_d, pt_d, pt_sd = EN_DAYS[d.weekday()], PT_DAYS[d.weekday()], PT_SHORT_DAYS[d.weekday()]
    y, yy, day, month = d.year, f"{d.year % 100:02d}", d.day, d.month
    pt_day = "1º" if day == 1 else str(day)
    forms = [
        f"{day} {en_m} {y}", f"{day} {en_m[:3]} {y}", f"{en_m} {day}, {y}", f"{en_m} {_ordinal(day)} {y}",
        f"{en_m} {_ordinal(day)} {yy}", f"{en_d[:3]} {day} {en_m[:3]} {y}", f"{en_d}, {en_m} {day}, {y}",
        f"the {_ordinal(day)} of {en_m} {y}", f"{en_m[:3]} {day}, {y}", f"{day} {en_m[:3]} {yy}",
        f"{day:02d}.{month:02d}.{yy}", f"{day}.{month}.{y}", f"{day:02d}/{month:02d}/{y}", f"{day}/{month}/{yy}",
        f"{day} de {pt_m} de {y}", f"{pt_d}, {pt_day} de {pt_m} de {y}", f"{pt_day} de {pt_m} de {y}",
        f"{day} {pt_m[:3]} {y}", f"{pt_sd}, {day} de {pt_m[:3]}. de {y}", f"{day} de {pt_m[:3]} de {yy}",
        f"{_ordinal(day)} {en_m} {y}", f"{en_d[:3]}, {en_m[:3]} {_ordinal(day)}, {y}",
    ]
    text = rng.choice(forms)
    case = rng.random()
    return text.upper() if case < 0.1 else text.lower() if case < 0.25 else text


def _unique_dates(rng: random.Random, n: int, exclude: set) -> list[Pair]:
    pairs, seen = [], set(exclude)
    while len(pairs) < n:
        d = datetime.date.fromordinal(rng.randint(FIRST_DAY, LAST_DAY))
        source = _format_date(d, rng)
        if source not in seen:
            seen.add(source)
            pairs.append((source, d.isoformat()))
    return pairs


# The dates task renders about 36,500 days in some twenty forms and three cases: unique source strings run out
# past a few million, and drawing them gets slow long before, so --train-pairs is capped well below.
DATES_MAX_TRAIN = 1_000_000


def dates_splits(train_size: int, seed: int) -> dict[str, list[Pair]]:
    """Generated date pairs; validation and training never repeat a source string of the test set.

    The test set depends on nothing but a fixed seed; training and validation follow `seed`.
    """
    if train_size > DATES_MAX_TRAIN:
        raise SeqgenError(f"--train-pairs {train_size:,} is more than the dates task can generate without repeats in "
                          f"reasonable time; use at most {DATES_MAX_TRAIN:,}")
    test = _unique_dates(random.Random(DATES_TEST_SEED), DATES_TEST_SIZE, set())
    rng = random.Random(seed)
    val = _unique_dates(rng, DATES_VAL_SIZE, {s for s, _ in test})
    train = _unique_dates(rng, train_size, {s for s, _ in test + val})
    return {"train": train, "val": val, "test": test}


def date_problem(output: str) -> Optional[str]:
    """What is wrong with a dates model's output as an answer of the dates task, or None: the task's targets are
    ISO calendar dates (YYYY-MM-DD) from 1950 to 2049, and a model can write any string of its characters
    ("2024-02-30" for "Feb 30, 2024", "2097-09-08" for "yesterday")."""
    text = output.strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return "not a date in the form YYYY-MM-DD"
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        return "not a calendar date"
    if not FIRST_DAY <= day.toordinal() <= LAST_DAY:
        first, last = datetime.date.fromordinal(FIRST_DAY).year, datetime.date.fromordinal(LAST_DAY).year
        return f"outside the dates task's years {first}-{last}"
    return None


# Checks of a model's output by the built-in task it was trained on: what the task's targets can be.
OUTPUT_CHECKS = {"dates": date_problem}


@dataclass
class PairsFile:
    pairs: list[Pair]
    columns: tuple[int, int]  # 1-based source and target columns
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def describe_skipped(skipped: list[tuple[int, str]], limit: int = 8) -> str:
    """'skipped 2 line(s): line 3: blank; line 7: 1 column(s), needs 2 (tab-separated)'"""
    shown = "; ".join(f"line {n}: {why}" for n, why in skipped[:limit])
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return f"skipped {len(skipped)} line(s): {shown}{more}"


def _guess_columns(rows: list[list[str]]) -> tuple[int, int]:
    """Tatoeba Challenge files (eng<TAB>por<TAB>English<TAB>Portuguese) use columns 3 and 4; others 1 and 2."""
    sample = [r for r in rows if len(r) >= 4][:50]
    codes = [r for r in sample if all(2 <= len(c) <= 8 and c.replace("_", "").isalpha() for c in r[:2])]
    if sample and len(codes) == len(sample) and len(sample) >= 0.9 * min(50, len(rows)):
        return 3, 4
    return 1, 2


def read_pairs(path: str | Path, source_column: Optional[int] = None, target_column: Optional[int] = None,
               encoding: str = "utf-8") -> PairsFile:
    """Read source<TAB>target pairs; blank and malformed lines are skipped and listed, not fatal."""
    path = Path(path).expanduser()
    if not path.is_file():
        hint = did_you_mean(path)
        raise SeqgenError(f"no pairs file {path}{hint}" if hint else
                          f"no pairs file {path}; give a TSV file with source<TAB>target per line, or --corpus dates")
    text = read_text_file(path, encoding)
    if "\x00" in text:  # read_text_file looks for NUL bytes in the first 8 KB only
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SeqgenError(f"{path} holds a NUL character (line {line}), so it is binary data, not a text file of pairs; "
                          "give a UTF-8 TSV file (or pass its --encoding)")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = [line.split("\t") for line in lines]
    if source_column is None or target_column is None:
        guessed = _guess_columns([r for r in rows if any(c.strip() for c in r)])
        source_column = source_column or guessed[0]
        target_column = target_column or guessed[1]
    if source_column == target_column:
        raise SeqgenError(f"the source and target columns are both {source_column}; choose two different columns")
    needed = max(source_column, target_column)
    result = PairsFile([], (source_column, target_column))
    for number, row in enumerate(rows, 1):
        if not any(c.strip() for c in row):
            result.skipped.append((number, "blank"))
        elif len(row) < needed:
            result.skipped.append((number, f"{len(row)} column(s), needs {needed} (tab-separated)"))
        else:
            source, target = row[source_column - 1].strip(), row[target_column - 1].strip()
            if not source or not target:
                result.skipped.append((number, f"empty {'source' if not source else 'target'}"))
            else:
                result.pairs.append((source, target))
    if not result.pairs:
        raise SeqgenError(f"{path} holds no usable pairs ({describe_skipped(result.skipped, 3)}); "
                          "each line needs source<TAB>target, or pick columns with --source-column/--target-column")
    return result


def _bucket(source: str) -> float:
    """A fixed number in [0, 1) for a source string: the split depends on the text, not on a seed."""
    return int.from_bytes(hashlib.sha256(source.encode("utf-8")).digest()[:8], "big") / 2**64


def split_pairs(pairs: list[Pair], val_fraction: float, test_fraction: float) -> dict[str, list[Pair]]:
    """A fixed split by source sentence: every pair with the same source lands in the same part,
    so no held-out source is ever seen in training, and the split never changes between runs."""
    parts = {"train": [], "val": [], "test": []}
    for pair in pairs:
        b = _bucket(pair[0])
        parts["test" if b < test_fraction else "val" if b < test_fraction + val_fraction else "train"].append(pair)
    if not parts["train"]:
        raise SeqgenError("no pairs are left for training; lower --val-fraction / --test-fraction or give more pairs")
    return parts


def load_pairs(corpus: str, *, train_size: int, seed: int, val_fraction: float, test_fraction: float,
               source_column: Optional[int] = None, target_column: Optional[int] = None,
               encoding: str = "utf-8") -> tuple[str, dict[str, list[Pair]], list[tuple[int, str]]]:
    """(name, splits, skipped lines) for `dates` or a pairs file."""
    from seqgen.data.corpora import dataset_file

    if corpus == "dates":
        return "dates", dates_splits(train_size, seed), []
    named = dataset_file(corpus, "pairs", "translate")
    read = read_pairs(named or corpus, source_column, target_column, "utf-8" if named else encoding)
    return corpus if named else Path(corpus).stem, split_pairs(read.pairs, val_fraction, test_fraction), read.skipped
