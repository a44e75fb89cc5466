"""The classifier's data: the labelled training (and test) file read and checked against each other,
the classes in order, the scaling, padding to batches, the stratified validation folds, and files to
classify read as the training file was."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.data.corpora import dataset_file
from seqgen.data.series import FLOAT32_MAX, check_known_labels, check_layout, read_labeled_file
from seqgen.errors import SeqgenError
from seqgen.tasks.classify.config import ClassifyConfig


def sorted_classes(labels: list) -> list:
    """Numeric labels in numeric order (-1 before 1, 2 before 10), others alphabetically."""
    def key(label):
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)
    return sorted(set(labels), key=key)


def channels(sequence: np.ndarray) -> int:
    return 1 if sequence.ndim == 1 else sequence.shape[1]


def pad(sequences: list, scaling: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled sequences padded with zeros to the longest: values (N, T, C) and lengths (N,). Sequences are
    1-D (one channel) or (T, C); `scaling` holds one mean and deviation, or one per channel."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    mean = np.asarray(scaling["mean"], dtype=np.float32).reshape(-1)
    std = np.asarray(scaling["std"], dtype=np.float32).reshape(-1)
    values = torch.zeros(len(sequences), int(lengths.max()), max(len(mean), channels(sequences[0])))
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond 32-bit floats are refused by check_scalable
        for row, sequence in enumerate(sequences):
            scaled = (sequence.reshape(len(sequence), -1) - mean) / std  # (T, C)
            values[row, :len(sequence)] = torch.from_numpy(scaled.astype(np.float32))
    return values, lengths


def check_scalable(sequences: list, scaling: dict, describe: Callable[[int], str]) -> None:
    """Refuse a sequence whose values, scaled as the training data were, leave the 32-bit floats the networks
    compute in (they would come out as probabilities that are not numbers); `describe(i)` names sequence i."""
    mean = np.asarray(scaling["mean"], dtype=np.float64).reshape(-1)
    std = np.asarray(scaling["std"], dtype=np.float64).reshape(-1)
    for row, sequence in enumerate(sequences):
        values = np.asarray(sequence, dtype=np.float64).reshape(len(sequence), -1)  # (T, C)
        deviations = np.abs((values - mean) / std)
        if not np.all(deviations <= FLOAT32_MAX):
            step, channel = np.unravel_index(np.argmax(np.where(np.isfinite(deviations), deviations, np.inf)),
                                             deviations.shape)
            raise SeqgenError(f"{describe(row)} holds {values[step, channel]:.4g} (step {step + 1}), "
                              f"{deviations[step, channel]:.3g} deviations from the training data's mean: beyond the "
                              "32-bit floats the model computes in; give values in the training data's units "
                              f"(mean {_shown(mean)}, deviation {_shown(std)})")


def _shown(numbers: np.ndarray) -> str:
    return ", ".join(f"{x:.4g}" for x in numbers[:4]) + (", …" if len(numbers) > 4 else "")


def fit_scaling(sequences: list) -> dict:
    """The mean and standard deviation of every training value, per channel (plain numbers for one channel,
    as checkpoints have always held them)."""
    everything = np.concatenate([s.reshape(len(s), -1) for s in sequences]).astype(np.float64)  # (sum T, C)
    mean, std = everything.mean(0), everything.std(0)
    std = np.where(std > 0, std, 1.0)
    if everything.shape[1] == 1:
        return {"mean": float(mean[0]), "std": float(std[0])}
    return {"mean": [float(m) for m in mean], "std": [float(s) for s in std]}


def folds(targets: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """A stratified fold number for every example: each class is dealt round the folds in random order. The one
    example of a class (fold -1) is held out by no network: held out, its network could never learn that class,
    and the rest of the ensemble would learn it from that one example anyway."""
    assigned = np.zeros(len(targets), dtype=np.int64)
    for c in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == c))
        assigned[members] = np.arange(len(members)) % count if len(members) > 1 else -1
    return assigned


def member_rows(fold_of: np.ndarray, count: int, member: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation and training rows of network `member` of an ensemble whose examples lie in `count` folds
    (`fold_of`: each example's fold): it holds out fold member % count (nothing with one fold)."""
    val_rows = np.flatnonzero(fold_of == member % count) if count > 1 else np.zeros(0, dtype=np.int64)
    return val_rows, np.setdiff1d(np.arange(len(fold_of)), val_rows)


def fold_count(val_fraction: float) -> int:
    """Folds the training file is dealt into; network m holds out fold m % count (1: no validation)."""
    return max(2, round(1 / val_fraction)) if val_fraction > 0 else 1


@dataclass
class TrainingData:
    labels: list
    sequences: list
    layout: dict  # the training file's layout (format, header, label column, lengths), for checking later files
    classes: list
    scaling: dict  # mean and standard deviation of every training value
    fingerprint: str  # changes when the training file's labels or values change
    test: Optional[tuple] = None  # (labels, sequences) of --test

    @property
    def channels(self) -> int:
        return channels(self.sequences[0])

    def tensors(self, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded values (N, T, C), lengths (N,) and class indices (N,) on `device`."""
        values, lengths = pad(self.sequences, self.scaling)
        targets = torch.tensor([self.classes.index(label) for label in self.labels])
        return values.to(device), lengths.to(device), targets.to(device)


def read_training_data(config: ClassifyConfig) -> TrainingData:
    """--corpus and --test, read and checked in one line each: two classes at least, a test file laid out as
    the training file with no label the training file lacks."""
    if not config.corpus:
        raise SeqgenError("--task classify needs --corpus TRAIN_FILE: labelled sequences, UCR format (label first), "
                          "a .ts archive file or CSV with a label column")
    train_file = dataset_file(config.corpus, "train", "classify") or config.corpus
    labels, sequences, layout = read_labeled_file(train_file, config.label_column)
    del layout["lines"]  # the layout is stored in the checkpoint: only what later files are checked against
    classes = sorted_classes(labels)
    if len(classes) < 2:
        raise SeqgenError(f"{config.corpus} has only one class ({classes[0]!r}); classification needs two or more")
    test = None
    if config.test:
        test_file = dataset_file(config.test, "test", "classify") or config.test
        test_labels, test_sequences, test_layout = read_labeled_file(test_file, config.label_column)
        check_layout(test_file, test_layout, layout, lengths=False)
        check_known_labels(test_labels, classes, test_file)
        check_layout(test_file, test_layout, layout)
        test = (test_labels, test_sequences, test_layout["lines"])
    scaling = fit_scaling(sequences)
    if test is not None:  # before training, not after it
        check_scalable(test[1], scaling, rows_of(test_file, test[2]))
    digest = hashlib.sha256(repr(labels).encode())
    for sequence in sequences:
        digest.update(np.ascontiguousarray(sequence, dtype=np.float32).tobytes() + b"|")
    return TrainingData(labels, sequences, layout, classes, scaling, digest.hexdigest()[:16], test)


def read_like_training(path, payload: dict, labeled: bool = True) -> tuple[list, list, Callable[[int], str]]:
    """(labels, sequences, describe) of a file to classify or score, refused in one line when it is laid out unlike
    the training file (checkpoints written before the layout was stored, whose layout is None, are not checked); describe(i) names
    sequence i by its row and line for errors."""
    trained = payload["layout"]
    label_column = payload["train_config"].get("label_column")
    if isinstance(trained, dict) and trained.get("format") == "csv" and labeled:
        label_column = trained.get("label_column") or label_column
    if isinstance(path, str):
        path = dataset_file(path, "test", "classify") or path
    labels, sequences, layout = read_labeled_file(path, label_column, labeled=labeled)
    trained = trained if isinstance(trained, dict) and {"format", "min_length", "max_length"} <= set(trained) else None
    check_layout(path, layout, trained, labeled=labeled, lengths=False)
    if labeled:
        check_known_labels(labels, payload["classes"], path)
    check_layout(path, layout, trained, labeled=labeled)
    return labels, sequences, rows_of(path, layout["lines"])


def rows_of(path, lines: list) -> Callable[[int], str]:
    """Names sequence i of a file in errors: its row (as the predictions number them) and line."""
    return lambda i: f"{path} row {i + 1} (line {lines[i]})"


def default_run_stem(config: ClassifyConfig) -> str:
    return f"{Path(config.corpus).stem}-classify"
