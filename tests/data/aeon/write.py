"""Writes the .ts files beside it with aeon's own writer (aeon.datasets.save_to_ts_file), so the reader is tested
against files as aeon writes them. The tests read the committed files and never import aeon; to write them again:
`pip install aeon && python tests/data/aeon/write.py`. Every value is value(case, channel, step) below."""

from pathlib import Path

import numpy as np
from aeon.datasets import save_to_ts_file

HERE = Path(__file__).parent


def value(case: int, channel: int, step: int) -> float:
    return case + 0.5 * channel + 0.25 * step


def cases(lengths: list, channels: int) -> list:
    return [np.array([[value(i, c, t) for t in range(n)] for c in range(channels)]) for i, n in enumerate(lengths)]


labels = np.array(["walk", "run"] * 3)
save_to_ts_file(np.stack(cases([5] * 6, 3)), labels, label_type="classification", path=HERE,
                problem_name="motions", file_suffix="_TRAIN", header="three channels, equal lengths")
save_to_ts_file(cases([5, 3, 4, 5, 2, 4], 2), labels, label_type="classification", path=HERE,
                problem_name="strokes", file_suffix="_TRAIN", header="two channels, unequal lengths")
save_to_ts_file(np.stack(cases([5] * 3, 3)), path=HERE, problem_name="motions", file_suffix="_UNLABELLED")
save_to_ts_file(np.stack(cases([5] * 6, 1)), labels, label_type="classification", path=HERE,
                problem_name="line", file_suffix="_TRAIN")
