"""Training a remaining-life model: an ensemble of LSTM regressors trained one after another on the ensemble loop
of seqgen.training, each on the windows of all but its own held-out units and stopped early when their loss
stops improving; best.pt keeps each network's best weights, the training units it learned from (for the
baselines and inspection) and the test report. `--resume` continues a run exactly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.config import to_dict
from seqgen.models.configs import RegressorConfig
from seqgen.models.regress import LSTMRegressor
from seqgen.runs import RunFolder, RunPaths
from seqgen.tasks.remaining_life.config import RemainingLifeConfig
from seqgen.tasks.remaining_life.data import (
    TrainingData,
    default_run_stem,
    fold_count,
    layout_of,
    read_training_data,
    remaining,
    unit_folds,
    windows,
)
from seqgen.tasks.remaining_life.estimate import rebuild, stored_units, training_units
from seqgen.tasks.remaining_life.evaluate import plot_test, test_report
from seqgen.training.ensemble import EnsembleState, MemberTaskBase, records_payload, train_from_file

NAME = "remaining-life"


class RemainingLifeMembers(MemberTaskBase):
    """The remaining-life model's part of the ensemble loop (see seqgen.training.ensemble.MemberTask): network m
    holds out the units of fold m for early stopping, so the ensemble as a whole learns from every unit."""

    title = "remaining-life ensemble"

    def __init__(self, data: TrainingData, config: RemainingLifeConfig, device: torch.device):
        super().__init__(config, device)
        self.data = data
        units = data.scaled_units()
        per_unit = [windows(u, config.window) for u in units]
        self.inputs = torch.from_numpy(np.concatenate(per_unit)).to(device)  # (N, window, F)
        targets = [remaining(len(u), config.cap)[config.window - 1:] / config.cap for u in units]
        self.targets = torch.from_numpy(np.concatenate(targets).astype(np.float32)).to(device)  # (N,)
        self.unit_of = np.concatenate([np.full(len(w), i) for i, w in enumerate(per_unit)])  # (N,)
        self.fold_count = fold_count(config.val_fraction, len(units))
        self.folds = unit_folds(len(units), self.fold_count, config.seed)
        self.model_config = RegressorConfig(len(data.features), config.hidden_size, config.num_layers, config.dropout)

    def network(self) -> LSTMRegressor:
        return LSTMRegressor(**to_dict(self.model_config))

    def order(self, seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    def held_out(self, member: int) -> np.ndarray:
        """The units network `member` does not learn from (none without validation)."""
        if self.fold_count == 1:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.folds == member % self.fold_count)

    def begin(self, member: int) -> None:
        held = np.isin(self.unit_of, self.held_out(member))
        self.val_rows = torch.from_numpy(np.flatnonzero(held))
        self.train_rows = torch.from_numpy(np.flatnonzero(~held))

    def batches(self, member: int, order: torch.Generator):
        return self.train_rows[torch.randperm(len(self.train_rows), generator=order)].split(self.config.batch_size)

    def examples(self, member: int) -> int:
        return len(self.train_rows)

    def loss(self, model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(model(self.inputs[batch]), self.targets[batch])

    def validate(self, model: torch.nn.Module, member: int) -> Optional[float]:
        if not len(self.val_rows):
            return None
        model.eval()
        with torch.no_grad():
            total = sum(float(torch.nn.functional.mse_loss(model(self.inputs[rows]), self.targets[rows],
                                                           reduction="sum"))
                        for rows in self.val_rows.split(4096))
        return total / len(self.val_rows)

    def record(self, member: int) -> dict:
        return {"val_rows": [int(u) for u in self.held_out(member)]}  # the units it held out

    def extra_state(self) -> dict:
        return {"fingerprint": self.data.fingerprint}

    def payload(self, state: EnsembleState, final: bool) -> dict:
        losses = [r["best_val_loss"] for r in state.records if r["best_val_loss"] is not None]
        data = self.data
        return {"task": NAME, "train_config": to_dict(self.config), "model_config": to_dict(self.model_config),
                "layout": layout_of(data.logs), "features": data.features, "dropped": data.dropped,
                "scaling": data.scaling, "units": training_units(data.logs, data.features),
                "members": state.weights(), "best_val_loss": float(np.mean(losses)) if losses else None,
                # The band's second part: the held-out windows' error in steps (the loss is in shares of the cap).
                "residual_std": float(np.sqrt(np.mean(losses)) * self.config.cap) if losses else 0.0,
                "test_report": self.test_report(state) if final else None,
                "training": records_payload(state)}

    def test_report(self, state: EnsembleState) -> Optional[dict]:
        """The ensemble's scores on --test beside the baselines (None without it)."""
        if self.data.test is None:
            return None
        networks = [rebuild(to_dict(self.model_config), weights, self.device) for weights in state.weights()]
        logs, truth = self.data.test
        # The training units as the checkpoint keeps them (32-bit), so `seqgen evaluate` fits the same baselines.
        kept = stored_units(training_units(self.data.logs, self.data.features))
        return test_report(networks, kept, logs, truth, self.data.features, self.data.scaling, self.config,
                           self.device)

    def summary(self, state: EnsembleState, final: Optional[dict], run: RunFolder) -> "RemainingLifeResult":
        config, saved = self.config, final or self.payload(state, False)
        report = saved["test_report"]
        if report is not None:  # after the checkpoints: the folder is this run's once it holds one
            run.wrote(plot_test(report, run.path / "test.png", f"{Path(config.test).name}"))
        run.write_json("run.json", {**{k: v for k, v in saved.items() if k not in ("members", "units")},
                                    "networks_trained": state.member, "train_units": len(self.data.logs.units),
                                    "train_windows": len(self.inputs), "threads": self.threads.describe()})
        if final is not None:
            run.plot_history(state.records[0]["history"], x_label="epoch")  # the first network's curves
        epochs = max((len(r["history"]) for r in state.records), default=0)
        stopped_early = any(r["stopped_early"] for r in state.records)
        reason = "interrupted" if final is None else "patience" if stopped_early else "budget"
        val_rmse = saved["residual_std"] if saved["best_val_loss"] is not None else None
        return RemainingLifeResult(run, config.ensemble, state.member, epochs, saved["best_val_loss"], val_rmse,
                                   stopped_early, report, config.test, reason, self.data.features, self.data.dropped)


@dataclass(repr=False)  # RunPaths gives the short one
class RemainingLifeResult(RunPaths):
    run: RunFolder
    ensemble: int
    members_done: int
    epochs: int  # the most any network trained
    best_val_loss: Optional[float]  # mean over the networks with held-out units (squared shares of the cap)
    val_rmse: Optional[float]  # its root, in steps
    stopped_early: bool  # some network ran out of --patience
    report: Optional[dict]  # on --test
    test: Optional[str]
    stop_reason: str  # "budget", "patience" (some network stopped early) or "interrupted"
    features: list  # the columns the networks read
    dropped: dict  # the columns left out, with the reason


def train(config: RemainingLifeConfig, resume=None, overrides: Optional[dict] = None,
          should_stop: Optional[Callable[[], bool]] = None, progress: bool = True) -> RemainingLifeResult:
    """Train on the --corpus logs, keep each network's weights of its best validation loss, score --test if given;
    writes best.pt, latest.pt, run.json, loss.png (and test.png). With `resume` (a latest.pt or its run folder)
    continue that run exactly; only --device, --precision and --threads may change. `should_stop` is polled after
    every epoch: when it turns true, latest.pt is saved with the full state and the function returns."""
    return train_from_file(NAME, config, RemainingLifeMembers, read_training_data, default_run_stem, resume, overrides,
                           should_stop, progress)
