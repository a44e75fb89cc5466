"""Training a forecaster: an ensemble of small LSTMs, trained one after another for --epochs passes over
every window of the training part. The run saves its full state (finished networks, the network in
progress with its optimizer and random states, the loss history) after each network and when stopped,
so `--resume` continues it exactly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.checkpoint import rebuilding, require
from seqgen.config import from_dict, to_dict
from seqgen.data.series import FLOAT32_MAX, Series, check_series
from seqgen.device import autocast, resolve_device
from seqgen.errors import SeqgenError
from seqgen.models.forecast import LSTMForecaster
from seqgen.runs import RunFolder, RunPaths, check_new_run
from seqgen.tasks.forecast.baselines import combine_baseline
from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.data import (
    covariate_matrix,
    covariate_names,
    input_size,
    prepare,
    read_training_series,
    series_payload,
    training_set,
    transform,
)
from seqgen.threads import ThreadPolicy
from seqgen.training import (
    arm,
    check_finite,
    parameter_groups,
    progress_bar,
    refuse_finished,
    resume_point,
    rng_state,
    set_rng_state,
    small_network_precision,
)

NAME = "forecast"
# Resuming continues the run exactly as it was set up; only where it runs may change.
RESUMABLE = ("device", "precision", "threads")
# Adam's betas of the forecaster since its first release. make_optimizer's (0.9, 0.99) moved the airline benchmark
# (median RMSE 16.52 -> 17.03) where these keep it (16.83 before the groups, 16.52 with them; seeds spread 16.3-19.6).
BETAS = (0.9, 0.999)
BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} epochs [{elapsed}<{remaining}]"


def member_optimizer(model: torch.nn.Module, config: ForecastConfig) -> torch.optim.AdamW:
    """AdamW with decay on weight matrices only (seqgen.training.parameter_groups)."""
    return torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr, betas=BETAS)


@dataclass
class EnsembleState:
    """Where an ensemble run stands: all a resume needs besides the configuration and the series."""

    epochs: int  # per network
    member: int = 0  # networks finished
    epoch: int = 0  # epochs finished of the network in progress
    members: list = field(default_factory=list)  # the finished networks' weights
    loss_sums: list = field(default_factory=list)  # per epoch: the training loss summed over networks / ensemble size
    network: Optional[dict] = None  # the network in progress: model, optimizer, data-order and random states

    def __post_init__(self):
        self.loss_sums = self.loss_sums or [0.0] * self.epochs

    def to_payload(self, ensemble: int) -> dict:
        return {"member": self.member, "epoch": self.epoch, "epochs": self.epochs, "loss_sums": list(self.loss_sums),
                "network": self.network, "complete": self.member >= ensemble}

    @classmethod
    def from_payload(cls, payload: dict, ensemble: int, epochs: int) -> "EnsembleState":
        state = payload["train_state"]
        require(state, member=int, epoch=int, epochs=int, loss_sums=list)
        require(payload, members=list)
        if state["epochs"] != epochs or len(state["loss_sums"]) != epochs:
            raise SeqgenError(f"its training state counts {state['epochs']} epochs, its configuration {epochs}")
        if not 0 <= state["member"] <= ensemble or len(payload["members"]) != state["member"]:
            raise SeqgenError(f"its training state says {state['member']} of {ensemble} networks are trained, but it "
                              f"holds {len(payload['members'])}")
        if not 0 <= state["epoch"] < epochs or (state["epoch"] > 0) != (state.get("network") is not None):
            raise SeqgenError(f"its training state stops at epoch {state['epoch']} without that network's state")
        return cls(epochs, state["member"], state["epoch"], list(payload["members"]),
                   [float(x) for x in state["loss_sums"]], state.get("network"))


class Ensemble:
    """The ensemble's training on `values` (the training part), network by network."""

    def __init__(self, values: np.ndarray, config: ForecastConfig, season: int, device: torch.device,
                 covariates: Optional[np.ndarray] = None):
        check_series(Series("series", values, None, "value"), season, config.horizon, config.window,
                     config.log_transform)
        names = covariate_names(config)
        if names and (covariates is None or covariates.shape != (len(values), len(names))):
            raise SeqgenError(f"--covariates {config.covariates} needs those columns beside the series' {len(values)} "
                              "points")
        for what, column in [("the series", values)] + [(f"covariate {name!r}", covariates[:, k])
                                                        for k, name in enumerate(names)]:
            if not np.all(np.abs(column) <= FLOAT32_MAX):  # NaN too
                point = int(np.argmin(np.abs(column) <= FLOAT32_MAX))
                raise SeqgenError(f"{what} holds {column[point]:.4g} at point {point + 1}: not a number within the "
                                  f"range of 32-bit floats (±{FLOAT32_MAX:.3g}) the networks compute in; rescale it")
        if config.combine != "none":  # fail before training, not after: the statistical model must fit this series
            combine_baseline(config.combine, values, config.horizon, season, config.log_transform)
        self.config, self.device = config, device
        self.precision = small_network_precision(config.precision, device)
        self.threads = ThreadPolicy(config.threads, device=device)  # entered by the caller; timed per optimizer step
        self.prep = prepare(values, config, season, covariates)
        inputs, targets = training_set(transform(values, config.log_transform), self.prep, covariates)
        self.inputs, self.targets = inputs.to(device), targets.to(device)
        self.model_config = {"input_size": input_size(season, len(names)), "hidden_size": config.hidden_size,
                             "num_layers": config.num_layers, "horizon": config.horizon, "dropout": config.dropout}
        self.epochs = max(1, int(round(config.epochs)))

    def new_state(self) -> EnsembleState:
        return EnsembleState(self.epochs)

    def _network(self, member: int, saved: Optional[dict]):
        torch.manual_seed(self.config.seed + member)
        model = LSTMForecaster(**self.model_config).to(self.device)
        optimizer = member_optimizer(model, self.config)
        order = torch.Generator().manual_seed(self.config.seed + member)
        if saved is not None:
            model.load_state_dict(saved["model_state"])
            optimizer.load_state_dict(saved["optimizer_state"])
            order.set_state(saved["order_state"])
            set_rng_state(saved["rng_state"], self.device)
        return model, optimizer, order

    def restore_check(self, state: EnsembleState) -> None:
        """Build the network in progress from a checkpoint's state once, so a damaged one fails before training."""
        for weights in state.members:
            LSTMForecaster(**self.model_config).load_state_dict(weights)
        if state.network is not None:
            require(state.network, model_state=dict, optimizer_state=dict, order_state=torch.Tensor, rng_state=dict)
            model = LSTMForecaster(**self.model_config)
            model.load_state_dict(state.network["model_state"])
            member_optimizer(model, self.config).load_state_dict(state.network["optimizer_state"])
            torch.Generator().set_state(state.network["order_state"])

    def run(self, state: EnsembleState, save: Optional[Callable[[EnsembleState], None]] = None,
            should_stop: Optional[Callable[[], bool]] = None, bar=None) -> bool:
        """Train the remaining networks; True when all are done, False when `should_stop()` turned true
        (after `save(state)` wrote the full state)."""
        config, inputs, targets = self.config, self.inputs, self.targets
        while state.member < config.ensemble:
            member = state.member
            model, optimizer, order = self._network(member, state.network)
            for epoch in range(state.epoch, self.epochs):
                model.train()
                total = 0.0
                for batch in torch.randperm(len(inputs), generator=order).split(config.batch_size):
                    with self.threads.step():
                        with autocast(self.device, self.precision):
                            loss = torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                        optimizer.step()
                        total += loss.item() * len(batch)
                state.loss_sums[epoch] += total / len(inputs) / config.ensemble
                check_finite(total, "training loss", f"(member {member + 1}, epoch {epoch + 1})", "lower --lr")
                if bar is not None:
                    bar.update(1)
                state.epoch = epoch + 1
                if state.epoch < self.epochs and should_stop is not None and should_stop():
                    state.network = {"model_state": _cpu(model), "optimizer_state": optimizer.state_dict(),
                                     "order_state": order.get_state(), "rng_state": rng_state(self.device)}
                    if save is not None:
                        save(state)
                    return False
            model.eval()
            state.members.append(_cpu(model))
            state.member, state.epoch, state.network = member + 1, 0, None
            if save is not None:
                save(state)
            if state.member < config.ensemble and should_stop is not None and should_stop():
                return False
        return True

    def result(self, state: EnsembleState) -> dict:
        """The trained ensemble as plain data: preprocessing, model config, the networks' weights, the loss
        history and the per-step spread of the training residuals (the band's second part)."""
        fitted = {"preprocessing": self.prep, "model_config": self.model_config, "members": state.members,
                  "history": [{"epoch": e + 1, "train_loss": float(loss)} for e, loss in enumerate(state.loss_sums)]}
        with torch.no_grad():
            outputs = []
            for weights in state.members:
                model = LSTMForecaster(**self.model_config)
                model.load_state_dict(weights)
                outputs.append(model.to(self.device).eval()(self.inputs))
            mean = torch.stack(outputs).mean(0)
        fitted["residual_std"] = [float(x) for x in (mean - self.targets).pow(2).mean(0).sqrt().cpu()
                                  * self.prep["scale"]]
        return fitted


def _cpu(model: torch.nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def fit(values: np.ndarray, config: ForecastConfig, season: int, progress: bool = False,
        covariates: Optional[np.ndarray] = None) -> dict:
    """Train an ensemble on `values` (and `covariates` (N, K) beside them, with --covariates) in memory, no run
    folder: what `seqgen evaluate --backtest` retrains at each origin. Returns preprocessing, model_config,
    members, history and residual_std."""
    device = resolve_device(config.device)
    ensemble = Ensemble(np.asarray(values, dtype=np.float64), config, season, device, covariates)
    with ensemble.threads:
        state = ensemble.new_state()
        bar = progress_bar(config.ensemble * ensemble.epochs, progress, desc="forecast ensemble", bar_format=BAR)
        ensemble.run(state, bar=bar)
        bar.close()
        return ensemble.result(state)


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


def _resumed(resume, overrides: Optional[dict]) -> tuple:
    """The checkpoint to continue, its config (with --device changed if asked) and series."""
    resume, checkpoint = resume_point(resume, NAME, overrides, RESUMABLE)
    if "train_state" not in checkpoint:
        raise SeqgenError(f"{resume} holds no training state to resume (best.pt files and checkpoints of earlier "
                          "seqgen versions have none); give a run's latest.pt or its folder, or start a new run")
    refuse_finished(resume, checkpoint, NAME)
    with rebuilding(resume):
        require(checkpoint, train_config=dict, series=dict, train_points=int, train_state=dict)
        config = dataclasses.replace(from_dict(ForecastConfig, checkpoint["train_config"]), **(overrides or {}))
        require(checkpoint["series"], name=str, values=list, column=(str, type(None)), dates=(list, type(None)))
        saved = checkpoint["series"]
        series = Series(saved["name"], np.asarray(saved["values"], dtype=np.float64), saved["dates"], saved["column"],
                        {k: np.asarray(v, dtype=np.float64) for k, v in saved.get("covariates", {}).items()} or None)
        if not 0 < checkpoint["train_points"] <= len(series.values) or config.season is None:
            raise SeqgenError(f"its train_points ({checkpoint['train_points']}) or season do not fit its series")
    return resume, checkpoint, config, series, checkpoint["train_points"]


def train(config: ForecastConfig, resume=None, overrides: Optional[dict] = None,
          should_stop: Optional[Callable[[], bool]] = None, progress: bool = True) -> ForecastResult:
    """Read the series, train the ensemble on all but its last --holdout points and write best.pt,
    latest.pt, run.json and loss.png. With `resume` (a latest.pt or its run folder) continue that run
    exactly; only --device, --precision and --threads may change. `should_stop` is polled after every epoch: when it turns true,
    latest.pt is saved with the full state and the function returns (stop_reason "interrupted")."""
    checkpoint = None
    if resume is not None:
        resume, checkpoint, config, series, n_train = _resumed(resume, overrides)
    else:
        check_new_run(config.output_dir, config.name, config.overwrite)  # a --name already taken: one line at once
        series, config, n_train = read_training_series(config)
    device = resolve_device(config.device)
    covariates = covariate_matrix(series.covariates, covariate_names(config))
    ensemble = Ensemble(series.values[:n_train], config, config.season, device,
                        None if covariates is None else covariates[:n_train])
    with ensemble.threads:
        state = ensemble.new_state()
        if checkpoint is not None:
            with rebuilding(resume):
                state = EnsembleState.from_payload(checkpoint, config.ensemble, ensemble.epochs)
                ensemble.restore_check(state)
        run = (RunFolder.of_checkpoint(resume) if checkpoint is not None else
               RunFolder.new(config.output_dir, config.name, f"{series.name}-forecast", config.overwrite))
        try:
            return _train(ensemble, state, config, series, n_train, run, should_stop, progress)
        finally:
            run.close()


def _train(ensemble: Ensemble, state: EnsembleState, config: ForecastConfig, series: Series, n_train: int,
           run: RunFolder, should_stop, progress: bool) -> ForecastResult:
    base = {"task": NAME, "train_config": to_dict(config), "series": series_payload(series), "train_points": n_train,
            "preprocessing": ensemble.prep, "model_config": ensemble.model_config}

    def save(state: EnsembleState) -> None:
        run.save_checkpoint({**base, "members": state.members, "train_state": state.to_payload(config.ensemble)},
                            run.latest)

    total = config.ensemble * ensemble.epochs
    bar = progress_bar(total, progress, desc="forecast ensemble", initial=state.member * ensemble.epochs + state.epoch,
                       bar_format=BAR)
    try:
        arm(should_stop)  # from here a Ctrl-C saves latest.pt; before, there was nothing to save
        finished = ensemble.run(state, save, should_stop, bar)
    finally:
        bar.close()
    summary = {"task": NAME, "train_config": to_dict(config), "model_config": ensemble.model_config,
               "preprocessing": ensemble.prep, "train_points": n_train, "networks_trained": state.member,
               "threads": ensemble.threads.describe()}
    if not finished:
        run.write_json("run.json", summary)
        return ForecastResult(run, n_train, config.ensemble, state.member, ensemble.epochs, "interrupted", [], None)
    fitted = ensemble.result(state)
    payload = {**base, **fitted}
    run.save_checkpoint(payload, run.best)  # no validation split: the final ensemble is the best one
    run.save_checkpoint({**payload, "train_state": state.to_payload(config.ensemble)}, run.latest)
    run.write_json("run.json", {**summary, "residual_std": fitted["residual_std"], "history": fitted["history"]})
    run.plot_history([{"step": h["epoch"], "train_loss": h["train_loss"]} for h in fitted["history"]], x_label="epoch")
    return ForecastResult(run, n_train, config.ensemble, state.member, ensemble.epochs, "budget", fitted["history"],
                          fitted["history"][-1]["train_loss"])

