"""A trained remaining-life model, loaded from its checkpoint alone: the remaining steps of each unit of a log
file (at its last step, or at every step) with a band, the test report, and the inspection of one unit."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from seqgen.checkpoint import require
from seqgen.config import check, from_dict
from seqgen.data.series import FLOAT32_MAX
from seqgen.errors import SeqgenError
from seqgen.models.configs import RegressorConfig, stored
from seqgen.tasks.remaining_life.config import EvaluateConfig, PredictConfig, RemainingLifeConfig
from seqgen.tasks.remaining_life.data import (
    Logs,
    check_lengths,
    check_like,
    named_targets,
    read_logs,
    read_targets,
    scaled,
    windows,
)
from seqgen.tasks.remaining_life.estimate import band, estimates, rebuild, stored_units
from seqgen.training.ensemble import LoadedEnsemble

NAME = "remaining-life"


def check_payload(payload: dict) -> None:
    """A remaining-life checkpoint's parts, checked before anything is built from them."""
    require(payload, train_config=dict, model_config=dict, layout=dict, features=list, scaling=dict, units=dict,
            members=list, residual_std=(int, float))
    config = from_dict(RemainingLifeConfig, payload["train_config"])
    model = stored(RegressorConfig, payload["model_config"])
    features = payload["features"]
    if not features or not all(isinstance(f, str) for f in features) or model.input_size != len(features):
        raise SeqgenError(f"its model reads {model.input_size} columns but it names {len(features)}")
    layout = payload["layout"]
    require(layout, columns=list, header=bool)
    if not set(features) <= set(layout["columns"]):
        raise SeqgenError("its columns are not among its training file's")
    scaling = payload["scaling"]
    require(scaling, mean=list, std=list)
    numbers = scaling["mean"] + scaling["std"] + [payload["residual_std"], scaling.get("smoothing", 0.0)]
    if len(scaling["mean"]) != len(features) or len(scaling["std"]) != len(features) or \
            not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers) or min(scaling["std"]) <= 0:
        raise SeqgenError(f"its scaling is not a finite mean and a positive deviation for each of its {len(features)} "
                          "columns")
    units = payload["units"]
    require(units, ids=list, lengths=list, values=torch.Tensor)
    if units["values"].shape != (sum(units["lengths"]), len(features)) or len(units["ids"]) != len(units["lengths"]) \
            or min(units["lengths"], default=0) < config.window:
        raise SeqgenError("its training units do not match their lengths and columns")
    if not payload["members"]:
        raise SeqgenError("it holds no networks")


class RemainingLife(LoadedEnsemble):
    """What `seqgen.load` returns for a remaining-life checkpoint: the ensemble, the columns it reads and their
    scaling, and the training units it learned from."""

    task = NAME

    @staticmethod
    def rebuild_networks(payload: dict, device: torch.device) -> list:
        check_payload(payload)
        return [rebuild(payload["model_config"], state, device) for state in payload["members"]]

    @property
    def train_config(self) -> RemainingLifeConfig:
        return from_dict(RemainingLifeConfig, self.payload["train_config"])

    @property
    def features(self) -> list:
        """The columns the networks read, in order."""
        return list(self.payload["features"])

    @property
    def window(self) -> int:
        return self.train_config.window

    @property
    def cap(self) -> int:
        return self.train_config.cap

    def read(self, path) -> Logs:
        """A log file laid out as the training file, each unit long enough for the window."""
        config = self.train_config
        logs = read_logs(check("the log file", path, str, path=True), config.unit_column, config.time_column, role="test")
        check_like(logs, self.payload["layout"])
        check_lengths(logs, config.window)
        return logs

    def _units(self, data) -> tuple[list, list, list]:
        """(unit ids, time steps per unit, measurements per unit) of a file or of arrays of the model's columns."""
        if isinstance(data, (str, os.PathLike)):
            logs = self.read(data)
            return logs.units, logs.times, logs.select(self.features)
        if hasattr(data, "__array__") and not isinstance(data, (list, tuple)):
            data = list(np.asarray(data, dtype=np.float64)) if np.ndim(data) == 3 else [data]
        if not isinstance(data, (list, tuple)) or not data:
            raise SeqgenError(f"give a log file (a path) or units' measurements (a list of (steps, {len(self.features)}) "
                              f"arrays of the columns {', '.join(self.features)}), not {type(data).__name__}")
        units = []
        for i, unit in enumerate(data, start=1):
            try:
                values = np.asarray(unit, dtype=np.float64)
            except (TypeError, ValueError):
                values = np.zeros((0,))
            if values.ndim != 2 or values.shape[1] != len(self.features) or not np.isfinite(values).all():
                raise SeqgenError(f"unit {i}: give a (steps, {len(self.features)}) array of finite values of the columns "
                                  f"{', '.join(self.features)}")
            if len(values) < self.window:
                raise SeqgenError(f"unit {i} has {len(values)} steps, fewer than the window of {self.window} the model "
                                  "reads; give it more steps")
            units.append(values)
        return list(range(1, len(units) + 1)), [np.arange(1, len(u) + 1.0) for u in units], units

    def _estimates(self, units: list, every_step: bool = False) -> np.ndarray:
        scaling = self.payload["scaling"]
        for i, unit in enumerate(units):
            deviations = np.abs((unit - np.asarray(scaling["mean"])) / np.asarray(scaling["std"]))
            if deviations.max() > FLOAT32_MAX:
                raise SeqgenError(f"unit {i + 1} holds a value beyond the 32-bit floats the model computes in once "
                                  "scaled; give values in the training data's units")
        with self.thread_policy():
            return estimates(self.networks, units, scaling, self.window, self.cap, self.device, every_step)

    def predict(self, data, every_step: bool = PredictConfig.every_step, level: float = PredictConfig.level) -> list:
        """The remaining steps of every unit of `data` — a log file laid out as the training file, or a list of
        units' measurements, each (steps, columns) in the order of `features` — after its last step, or after each
        step from its window-th on (every_step): one row per estimate with unit, step (the time column's value),
        remaining, lower and upper (the band of coverage `level`: the networks' spread and their held-out error)."""
        asked = PredictConfig(every_step=every_step, level=level)
        ids, times, units = self._units(data)
        per_network = self._estimates(units, asked.every_step)
        center, lower, upper = band(per_network, self.payload["residual_std"], asked.level)
        rows, k = [], 0
        for unit, steps in zip(ids, times):
            for step in (steps[self.window - 1:] if asked.every_step else steps[-1:]):
                rows.append({"unit": unit, "step": float(step), "remaining": float(center[k]),
                             "lower": float(lower[k]), "upper": float(upper[k])})
                k += 1
        return rows

    def evaluate(self, test=EvaluateConfig.test, test_targets=EvaluateConfig.test_targets) -> dict:
        """The figures `seqgen evaluate` prints, as a dict: RMSE and PHM08 score at each test unit's last step,
        beside the baselines fitted in the same call on the training units (see
        seqgen.tasks.remaining_life.evaluate) and the published figures."""
        from seqgen.tasks.remaining_life.evaluate import test_report

        asked = EvaluateConfig(test=test, test_targets=test_targets)
        config = self.train_config
        test = asked.test or config.test
        targets = asked.test_targets or named_targets(test) or (config.test_targets if not asked.test else None)
        if not test or not targets:
            raise SeqgenError("give the test units' logs with --test and their true remaining steps with "
                              "--test-targets (this model was trained without them)" if not config.test else
                              "give the true remaining steps of the --test units with --test-targets")
        logs = self.read(test)
        truth = read_targets(targets, len(logs.units))
        with self.thread_policy():
            return test_report(self.networks, stored_units(self.payload["units"]), logs, truth, self.features,
                               self.payload["scaling"], config, self.device, targets)

    def inspect(self, data=None, unit: Optional[int] = None, member: int = 0):
        """Every gate, C and h of one network's LSTM over one unit's history: a network reads a fresh window for
        each estimate, so step t holds its values after reading the window that ends at step t (from the
        window-th on), with the remaining steps estimated there. The unit is `unit` (its id) of the log file
        `data`, else of the training units the checkpoint keeps [default: the first]. A
        seqgen.inspect.Inspection of kind "series" (arrays (layers, T, hidden))."""
        from seqgen.inspect import Inspection, series_features
        from seqgen.models.gates import lstm_gates

        if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < len(self.networks):
            raise SeqgenError(f"--member must be a network of the ensemble, 0 to {len(self.networks) - 1}, not {member!r}")
        if data is None:
            ids, units = self.payload["units"]["ids"], stored_units(self.payload["units"])
            times, source = [np.arange(1, len(u) + 1.0) for u in units], "training unit"
        else:
            logs = self.read(data)
            ids, times, units, source = logs.units, logs.times, logs.select(self.features), f"{Path(logs.path).name} unit"
        if unit is not None and unit not in ids:
            raise SeqgenError(f"there is no unit {unit!r} among the {len(ids)} units ({ids[0]} to {ids[-1]}); give one "
                              "of their numbers")
        index = 0 if unit is None else ids.index(unit)
        values, steps = units[index], times[index]
        remaining = self._estimates([values], every_step=True)[member]  # (T - window + 1,)
        x = torch.from_numpy(windows(scaled(values, self.payload["scaling"]), self.window)).to(self.device)
        with self.thread_policy():
            gates, _ = lstm_gates(self.networks[member].lstm, x)  # (L, N, window, H)
        last = {q: v[:, :, -1].float().cpu().numpy() for q, v in gates.items()}  # (L, N, H): after each window
        shown = steps[self.window - 1:]
        first = values[self.window - 1:, 0]
        return Inspection(kind="series", tokens=np.arange(len(shown)), labels=[f"{s:g}" for s in shown], gates=last,
                          forecast=remaining, values=first,
                          features={**series_features(first, 1), "remaining": remaining},
                          title=f"{source} {ids[index]}: network {member} of {len(self.networks)}, after each window "
                          f"of {self.window} steps; the values drawn are {self.features[0]}, the forecast the "
                          "remaining steps")
