"""A trained classifier, loaded from its checkpoint alone: class probabilities of sequences of any
length, the labels of a file laid out as the training file, and the test report."""

from __future__ import annotations

import contextlib
import math
import os
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.checkpoint import require
from seqgen.config import check, from_dict, to_dict
from seqgen.data.series import FLOAT32_MAX, LabelError
from seqgen.errors import SeqgenError
from seqgen.models.classify import LSTMClassifier
from seqgen.models.configs import ClassifierConfig, stored
from seqgen.tasks.classify.config import ClassifyConfig, EvaluateConfig
from seqgen.tasks.classify.data import check_scalable, pad, read_like_training
from seqgen.training.ensemble import LoadedEnsemble

NAME = "classify"


def rebuild(model_config: dict, state: dict, device="cpu") -> LSTMClassifier:
    model = LSTMClassifier(**to_dict(stored(ClassifierConfig, model_config)))
    model.load_state_dict(state)
    return model.to(device).eval()


def predict_proba(models, scaling: dict, sequences: list, device="cpu", batch_size: int = 256,
                  describe: Optional[Callable[[int], str]] = None, threads=None) -> np.ndarray:
    """Class probabilities (N, C) for sequences of any lengths, averaged over the ensemble's networks. A sequence
    the networks' 32-bit floats cannot hold, scaled or on its way through them, is one line naming it by
    `describe(i)` (default: "sequence i"). `threads` (a seqgen.threads.ThreadPolicy, entered by the caller)
    times each batch."""
    describe = describe or (lambda i: f"sequence {i + 1}")
    check_scalable(sequences, scaling, describe)
    models = models if isinstance(models, (list, tuple)) else [models]
    out = []
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            values, lengths = pad(sequences[start:start + batch_size], scaling)
            values, lengths = values.to(device), lengths.to(device)
            with threads.step() if threads is not None else contextlib.nullcontext():
                out.append(torch.stack([model.eval()(values, lengths).softmax(-1) for model in models]).mean(0)
                           .cpu().numpy())
    probabilities = np.concatenate(out)
    finite = np.isfinite(probabilities).all(1)
    if not finite.all():
        row = int(np.argmin(finite))
        peak = float(np.abs(np.asarray(sequences[row], dtype=np.float64)).max())
        raise SeqgenError(f"{describe(row)}: the model's class probabilities are not numbers, as its values (up to "
                          f"{peak:.4g}) lie too far outside the training data's for the model's 32-bit floats; give "
                          "values in the training data's units and range")
    return probabilities


def check_payload(payload: dict) -> None:
    """A classify checkpoint's parts, checked before anything is built from them (older formats come upgraded)."""
    require(payload, train_config=dict, model_config=dict, classes=list, scaling=dict, members=list,
            layout=(dict, type(None)))
    from_dict(ClassifyConfig, payload["train_config"])
    classes = payload["classes"]
    if len(classes) < 2 or not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes):
        raise SeqgenError("its classes are not two or more distinct names")
    config = stored(ClassifierConfig, payload["model_config"])
    if config.num_classes != len(classes):
        raise SeqgenError(f"its model has {config.num_classes} classes, its class list {len(classes)}")
    channels = config.input_size
    if channels < 1:
        raise SeqgenError(f"its model's input_size is {channels!r}, not a whole number >= 1")
    scaling = payload["scaling"]
    require(scaling, mean=(int, float, list), std=(int, float, list))
    means, stds = (scaling[k] if isinstance(scaling[k], list) else [scaling[k]] for k in ("mean", "std"))
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in means + stds)
    if not numbers or min(stds, default=0) <= 0 or len(means) != len(stds) or len(means) not in (1, channels):
        raise SeqgenError(f"its scaling is not a finite mean and a positive standard deviation for each of its "
                          f"{channels} channel(s)")
    if not payload["members"]:
        raise SeqgenError("it holds no networks")


def _sequences(data) -> list:
    """Sequences given as an array (examples first) or a list; the shape of each is checked by probabilities()."""
    if hasattr(data, "__array__") and not isinstance(data, (list, tuple)):  # numpy, torch, pandas
        data = np.asarray(data)
        if data.ndim not in (2, 3):
            raise SeqgenError(f"an array of sequences is 2-D (examples × steps) or 3-D (examples × steps × channels), "
                              f"not of shape {data.shape}; one sequence is an array of one row, e.g. x[None]")
        return list(data)
    if not isinstance(data, (list, tuple)):
        raise SeqgenError(f"give the file to classify (a path) or its sequences (an array or a list of them), not "
                          f"{type(data).__name__}")
    return list(data)


class Classifier(LoadedEnsemble):
    """What `seqgen.load` returns for a classify checkpoint: the ensemble, its classes and scaling."""

    task = NAME

    @staticmethod
    def rebuild_networks(payload: dict, device: torch.device) -> list:
        check_payload(payload)
        return [rebuild(payload["model_config"], state, device) for state in payload["members"]]

    @property
    def classes(self) -> list:
        return self.payload["classes"]

    @property
    def train_config(self) -> ClassifyConfig:
        return from_dict(ClassifyConfig, self.payload["train_config"])

    def probabilities(self, sequences: list) -> np.ndarray:
        """Class probabilities (N, classes), in the order of `classes`, for sequences of values: each 1-D for a
        one-channel model, else (steps, channels); any lengths."""
        return self._probabilities(self._checked(sequences), lambda i: f"sequence {i + 1}")

    def _checked(self, sequences: list) -> list:
        """The sequences as float64 arrays of the model's channels; anything else is one line."""
        channels = stored(ClassifierConfig, self.payload["model_config"]).input_size
        try:
            sequences = [np.asarray(s, dtype=np.float64) for s in sequences]
        except (TypeError, ValueError):
            sequences = []
        shapes = [s.shape[1:] for s in sequences]
        if not sequences or any(s.ndim == 0 or len(s) == 0 or not np.all(np.isfinite(s)) for s in sequences) or \
                any(shape not in (((channels,),) if channels > 1 else ((), (1,))) for shape in shapes):
            what = "a non-empty list of numbers" if channels == 1 else f"a (steps, {channels}) array"
            raise SeqgenError(f"give one or more sequences, each {what} of finite values")
        return sequences

    def _probabilities(self, sequences: list, describe: Callable[[int], str]) -> np.ndarray:
        for row, sequence in enumerate(sequences):
            if np.abs(sequence).max() > FLOAT32_MAX:
                raise SeqgenError(f"{describe(row)} holds a value beyond the range of 32-bit floats "
                                  f"(±{FLOAT32_MAX:.3g}) the model computes in; rescale it")
        sequences = [np.asarray(s, dtype=np.float32) for s in sequences]
        with self.thread_policy() as threads:
            return predict_proba(self.networks, self.payload["scaling"], sequences, self.device, describe=describe,
                                 threads=threads)

    def classify(self, data, labeled: bool = True) -> list[dict]:
        """Classify every sequence of `data`: a file (a path) laid out as the training file (labeled=False: its
        lines hold only values), or the sequences themselves: a 2-D array (examples × steps; for a model of
        several channels, a 3-D one, examples × steps × channels) or a list of sequences of any lengths. One row
        per sequence: row number, label ("" without), predicted class and the probability of each class."""
        labeled = check("labeled", labeled, bool)
        if isinstance(data, (str, os.PathLike)):
            data = check("the file to classify", data, str, path=True)
            try:
                labels, sequences, describe = read_like_training(data, self.payload, labeled=labeled)
            except LabelError as error:
                raise SeqgenError(f"{error}; if {data} holds no labels, pass --no-labels") from None
        else:
            sequences = self._checked(_sequences(data))
            labels = [""] * len(sequences)
            describe = lambda i: f"sequence {i + 1}"  # noqa: E731
        rows = []
        for index, (label, p) in enumerate(zip(labels, self._probabilities(sequences, describe)), start=1):
            rows.append({"row": index, "label": label, "predicted": self.classes[int(p.argmax())],
                         "probabilities": {c: float(x) for c, x in zip(self.classes, p)}})
        return rows

    def inspect(self, sequence, member: int = 0):
        """Every gate, C and h of one network's LSTM over one sequence of values (both directions when it is
        bidirectional: a layer's forward units, then its backward ones), with the ensemble's class
        probabilities in the title: a seqgen.inspect.Inspection of kind "series" (arrays (layers, T, units))."""
        from seqgen.inspect import Inspection, check_steps, series_features
        from seqgen.models.gates import lstm_gates

        if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < len(self.networks):
            raise SeqgenError(f"member must be a network of the ensemble, 0 to {len(self.networks) - 1}, not {member!r}")
        channels = stored(ClassifierConfig, self.payload["model_config"]).input_size
        try:
            values = np.asarray(sequence, dtype=np.float64)
        except (TypeError, ValueError):
            values = np.zeros((0,))
        if channels == 1 and values.ndim == 2 and values.shape[1:] == (1,):
            values = values[:, 0]
        shape_ok = values.ndim == 1 if channels == 1 else values.ndim == 2 and values.shape[1] == channels
        if not shape_ok or not len(values) or not np.isfinite(values).all():
            what = "a list of finite numbers" if channels == 1 else f"a (steps, {channels}) array of finite numbers"
            raise SeqgenError(f"give one sequence: {what}")
        check_steps(len(values), "the sequence")
        probabilities = self._probabilities([values], lambda i: "the sequence")[0]  # refuses what cannot be scaled
        scaled, _ = pad([values.astype(np.float32)], self.payload["scaling"])  # (1, T, C)
        lstm = self.networks[member].lstm
        with self.thread_policy():
            gates, _ = lstm_gates(lstm, scaled.to(self.device))  # (L, 1, T, D·H)
        values = values if channels == 1 else values[:, 0]  # the page draws the first channel
        best = int(probabilities.argmax())
        return Inspection(kind="series", tokens=np.arange(len(values)), labels=[str(t) for t in range(len(values))],
                          gates={q: v[:, 0].float().cpu().numpy() for q, v in gates.items()},
                          directions=2 if lstm.bidirectional else 1, values=values,
                          title=f"network {member} of {len(self.networks)}: class {self.classes[best]} "
                          f"(p = {probabilities[best]:.2f})", features=series_features(values, 1))

    def evaluate(self, test=EvaluateConfig.test) -> dict:
        """The figures `seqgen evaluate` prints, as a dict: accuracy, macro-F1, per-class precision, recall,
        F1 and support, and the confusion matrix on `test` (default: the run's --test file)."""
        from seqgen.tasks.classify.evaluate import classification_report

        test = EvaluateConfig(test=test).test or self.payload["train_config"].get("test")
        if not test:
            raise SeqgenError("this classifier was trained without --test; give a labelled file with --test FILE")
        labels, sequences, describe = read_like_training(test, self.payload)
        report = classification_report(labels, self._probabilities(sequences, describe), self.classes)
        return {"source": str(test), **report}
