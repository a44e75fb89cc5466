"""Training a forecaster: an ensemble of small LSTMs, trained one after another for --epochs passes over
every window of the training part, on the ensemble loop of seqgen.training (so `--resume` continues a run
exactly)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.checkpoint import rebuilding
from seqgen.config import to_dict
from seqgen.device import resolve_device
from seqgen.models.configs import ForecasterConfig
from seqgen.models.forecast import LSTMForecaster
from seqgen.runs import RunFolder, RunPaths, check_new_run
from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.data import (
    check_training_values,
    covariate_matrix,
    covariate_names,
    input_size,
    prepare,
    read_training_series,
    saved_series,
    series_payload,
    training_set,
    transform,
)
from seqgen.training.ensemble import EnsembleState, MemberTaskBase, resume_checkpoint, train_in_memory, train_members

NAME = "forecast"


class ForecastMembers(MemberTaskBase):
    """The forecaster's part of the ensemble loop (see seqgen.training.ensemble.MemberTask): every network
    learns from every window of the training part, by mean squared error, without validation."""

    title = "forecast ensemble"

    def __init__(self, values: np.ndarray, config: ForecastConfig, season: int, device: torch.device,
                 covariates: Optional[np.ndarray] = None):
        check_training_values(values, config, season, covariates)
        super().__init__(config, device)
        self.prep = prepare(values, config, season, covariates)
        inputs, targets = training_set(transform(values, config.log_transform), self.prep, covariates)
        self.inputs, self.targets = inputs.to(device), targets.to(device)
        self.model_config = ForecasterConfig(input_size(season, len(covariate_names(config))), config.hidden_size, config.num_layers,
                                             config.horizon, config.dropout)
        self.base: dict = {}  # what every checkpoint of the run holds besides the networks (see `train`)

    def network(self) -> LSTMForecaster:
        return LSTMForecaster(**to_dict(self.model_config))

    def order(self, seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    def batches(self, member: int, order: torch.Generator):
        return torch.randperm(len(self.inputs), generator=order).split(self.config.batch_size)

    def examples(self, member: int) -> int:
        return len(self.inputs)

    def loss(self, model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(model(self.inputs[batch]), self.targets[batch])

    def payload(self, state: EnsembleState, final: bool) -> dict:
        return {**self.base, "members": state.weights(), **(self.result(state) if final else {})}

    def result(self, state: EnsembleState) -> dict:
        """The trained ensemble as plain data: preprocessing, model config, the networks' weights, the loss
        history and the per-step spread of the training residuals (the band's second part)."""
        fitted = {"preprocessing": self.prep, "model_config": to_dict(self.model_config), "members": state.weights(),
                  "history": [{"epoch": e + 1, "train_loss": float(loss)} for e, loss in enumerate(state.loss_sums)]}
        with torch.no_grad():
            outputs = []
            for weights in state.weights():
                model = self.network()
                model.load_state_dict(weights)
                outputs.append(model.to(self.device).eval()(self.inputs))
            mean = torch.stack(outputs).mean(0)
        fitted["residual_std"] = [float(x) for x in (mean - self.targets).pow(2).mean(0).sqrt().cpu()
                                  * self.prep["scale"]]
        return fitted

    def summary(self, state: EnsembleState, final: Optional[dict], run: RunFolder) -> "ForecastResult":
        config = self.config
        summary = {"task": NAME, "train_config": to_dict(config), "model_config": to_dict(self.model_config),
                   "preprocessing": self.prep, "train_points": self.base["train_points"],
                   "networks_trained": state.member, "threads": self.threads.describe()}
        result = partial(ForecastResult, run, self.base["train_points"], config.ensemble, state.member, self.epochs)
        if final is None:
            run.write_json("run.json", summary)
            return result("interrupted", [], None)
        history = final["history"]
        run.write_json("run.json", {**summary, "residual_std": final["residual_std"], "history": history})
        run.plot_history([{"step": h["epoch"], "train_loss": h["train_loss"]} for h in history], x_label="epoch")
        return result("budget", history, history[-1]["train_loss"])


def fit(values: np.ndarray, config: ForecastConfig, season: int, progress: bool = False,
        covariates: Optional[np.ndarray] = None) -> dict:
    """Train an ensemble on `values` (and `covariates` (N, K) beside them, with --covariates) in memory, no run
    folder: what `seqgen evaluate --backtest` retrains at each origin. Returns preprocessing, model_config,
    members, history and residual_std."""
    task = ForecastMembers(np.asarray(values, dtype=np.float64), config, season, resolve_device(config.device),
                           covariates)
    return train_in_memory(task, progress, task.result)


@dataclass(repr=False)  # RunPaths gives the short one
class ForecastResult(RunPaths):
    run: RunFolder
    train_points: int
    ensemble: int
    members_done: int
    epochs: int
    stop_reason: str  # "budget" (every network ran its epochs) or "interrupted"
    history: list
    train_loss: Optional[float]  # the last epoch's, averaged over the networks; None when interrupted


def train(config: ForecastConfig, resume=None, overrides: Optional[dict] = None,
          should_stop: Optional[Callable[[], bool]] = None, progress: bool = True) -> ForecastResult:
    """Read the series, train the ensemble on all but its last --holdout points and write best.pt,
    latest.pt, run.json and loss.png. With `resume` (a latest.pt or its run folder) continue that run
    exactly; only --device, --precision and --threads may change. `should_stop` is polled after every epoch: when
    it turns true, latest.pt is saved with the full state and the function returns (stop_reason "interrupted")."""
    checkpoint = None
    if resume is not None:
        resume, checkpoint, config = resume_checkpoint(resume, NAME, ForecastConfig, overrides)
        with rebuilding(resume):
            series, n_train = saved_series(checkpoint, config)
    else:
        check_new_run(config.output_dir, config.name, config.overwrite)  # a --name already taken: one line at once
        series, config, n_train = read_training_series(config)
    covariates = covariate_matrix(series.covariates, covariate_names(config))
    task = ForecastMembers(series.values[:n_train], config, config.season, resolve_device(config.device),
                           None if covariates is None else covariates[:n_train])
    task.base = {"task": NAME, "train_config": to_dict(config), "series": series_payload(series),
                 "train_points": n_train, "preprocessing": task.prep, "model_config": to_dict(task.model_config)}
    return train_members(task, lambda: RunFolder.new(config.output_dir, config.name, f"{series.name}-forecast",
                                                      config.overwrite), resume, checkpoint, should_stop, progress)
