"""The ensemble's estimates as pure functions: networks rebuilt from their weights, the remaining steps of each
unit from its windows, the band around their mean, and the training units as a checkpoint keeps them."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import torch

from seqgen.config import to_dict
from seqgen.models.configs import RegressorConfig, stored
from seqgen.models.regress import LSTMRegressor
from seqgen.tasks.remaining_life.data import Logs, scaled, windows


def rebuild(model_config: dict, state: dict, device="cpu") -> LSTMRegressor:
    model = LSTMRegressor(**to_dict(stored(RegressorConfig, model_config)))
    model.load_state_dict(state)
    return model.to(device).eval()


def training_units(logs: Logs, features: list) -> dict:
    """The training units' measurements of the columns the networks read, as the checkpoint keeps them (the
    baselines are fitted on them, and `seqgen inspect` reads one)."""
    values = logs.select(features)
    return {"ids": list(logs.units), "lengths": [len(v) for v in values],
            "values": torch.from_numpy(np.concatenate(values).astype(np.float32))}


def stored_units(units: dict) -> list:
    """The training units' measurements from a checkpoint: one (T, F) float64 array per unit."""
    values = units["values"].double().numpy()
    ends = np.cumsum(units["lengths"])
    return [values[end - length:end] for end, length in zip(ends, units["lengths"])]


def estimates(networks: list, units: list, scaling: dict, window: int, cap: int, device="cpu",
              every_step: bool = False) -> np.ndarray:
    """Each network's remaining steps (M, N) at the last step of each unit (N units), or at every step from each
    unit's window-th on (every_step: N windows, unit after unit); the units are (T, F) measurements."""
    inputs = np.concatenate([windows(scaled(u, scaling), window, last_only=not every_step) for u in units])
    out = []
    with torch.no_grad():
        x = torch.from_numpy(inputs).to(device)  # (N, window, F)
        for model in networks:
            out.append(torch.cat([model.eval()(rows) for rows in x.split(4096)]).double().cpu().numpy())
    return np.clip(np.stack(out) * cap, 0.0, None)  # (M, N): a unit has no fewer than 0 steps left


def band(per_network: np.ndarray, residual_std: float, level: float) -> tuple:
    """(estimate, lower, upper): the networks' mean, and around it a normal band of coverage `level` whose
    spread adds the networks' disagreement to the held-out units' error."""
    center = per_network.mean(0)
    spread = np.sqrt(per_network.var(0) + residual_std ** 2)
    z = NormalDist().inv_cdf((1 + level) / 2)
    return center, np.clip(center - z * spread, 0.0, None), center + z * spread
