"""Training a classifier: an ensemble of networks trained one after another, each with class weights on
all but its own validation fold and stopped early when that fold's loss stops improving; best.pt keeps
each network's best weights and the test report. The run saves its full state (finished networks, the
network in progress with its optimizer, early-stopping and random states) after each network and when
stopped, so `--resume` continues it exactly."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.checkpoint import rebuilding, require
from seqgen.config import from_dict, to_dict
from seqgen.device import autocast, resolve_device
from seqgen.errors import SeqgenError
from seqgen.models.classify import LSTMClassifier
from seqgen.runs import RunFolder, RunPaths, check_new_run
from seqgen.tasks.classify.classify import predict_proba, rebuild
from seqgen.tasks.classify.config import ClassifyConfig
from seqgen.tasks.classify.data import (
    TrainingData,
    default_run_stem,
    fold_count,
    folds,
    read_training_data,
    rows_of,
)
from seqgen.tasks.classify.evaluate import classification_report, plot_confusion
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

NAME = "classify"
# Resuming continues the run exactly as it was set up; only where it runs may change.
RESUMABLE = ("device", "precision", "threads")
# Adam's betas of the classifier since its first release. make_optimizer's (0.9, 0.99) lowered the ECG200 benchmark
# (median accuracy 0.880 -> 0.870) where these keep it (0.880 before and after the parameter groups).
BETAS = (0.9, 0.999)
BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} epochs [{elapsed}<{remaining}{postfix}]"


def member_optimizer(model: torch.nn.Module, config: ClassifyConfig) -> torch.optim.AdamW:
    """AdamW with decay on weight matrices only (seqgen.training.parameter_groups)."""
    return torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr, betas=BETAS)


@dataclass
class EnsembleState:
    """Where an ensemble run stands: all a resume needs besides the configuration and the training file."""

    epochs: int  # most epochs per network
    member: int = 0  # networks finished
    records: list = field(default_factory=list)  # per finished network: best_state, history, best_epoch, …
    network: Optional[dict] = None  # the network in progress after an interruption (see Ensemble._snapshot)

    def to_payload(self, ensemble: int, fingerprint: str) -> dict:
        return {"member": self.member, "epochs": self.epochs, "network": self.network, "fingerprint": fingerprint,
                "complete": self.member >= ensemble}

    @classmethod
    def from_payload(cls, payload: dict, ensemble: int, epochs: int) -> "EnsembleState":
        state = payload["train_state"]
        require(state, member=int, epochs=int)
        require(payload, members=list, training=list)
        if state["epochs"] != epochs:
            raise SeqgenError(f"its training state counts {state['epochs']} epochs, its configuration {epochs}")
        members, training = payload["members"], payload["training"]
        if not 0 <= state["member"] <= ensemble or len(members) != state["member"] or len(training) != len(members):
            raise SeqgenError(f"its training state says {state['member']} of {ensemble} networks are trained, but it "
                              f"holds {len(members)}")
        records = []
        for weights, record in zip(members, training):
            require(record, history=list, best_epoch=int, stopped_early=bool, val_rows=list)
            records.append({"best_state": weights, **record})
        return cls(epochs, state["member"], records, state.get("network"))


class Ensemble:
    """The ensemble's training on the training file, network by network."""

    def __init__(self, data: TrainingData, config: ClassifyConfig, device: torch.device):
        self.data, self.config, self.device = data, config, device
        self.precision = small_network_precision(config.precision, device)
        self.threads = ThreadPolicy(config.threads, device=device)  # entered by the caller; timed per optimizer step
        rng = np.random.default_rng(config.seed)
        self.values, self.lengths, self.targets = data.tensors(device)
        self.model_config = {"num_classes": len(data.classes), "hidden_size": config.hidden_size,
                             "num_layers": config.num_layers, "bidirectional": config.bidirectional,
                             "conv_channels": config.conv_channels, "dropout": config.dropout,
                             "input_size": data.channels}
        # Network m holds out fold m for early stopping, so the ensemble as a whole learns from every example.
        self.fold_count = fold_count(config.val_fraction)
        self.folds = folds(self.targets.cpu().numpy(), self.fold_count, rng)
        self.epochs = max(1, int(round(config.epochs)))

    def new_state(self) -> EnsembleState:
        return EnsembleState(self.epochs)

    def rows(self, member: int) -> tuple[np.ndarray, np.ndarray]:
        """Validation and training rows of network `member`."""
        if self.fold_count > 1:
            val_rows = np.flatnonzero(self.folds == member % self.fold_count)
        else:
            val_rows = np.zeros(0, dtype=np.int64)
        return val_rows, np.setdiff1d(np.arange(len(self.data.labels)), val_rows)

    def _network(self, member: int, saved: Optional[dict]):
        """Network `member` as it starts, or as `saved` left it: model, optimizer, data order, early stopping."""
        seed = self.config.seed + member
        torch.manual_seed(seed)
        order = np.random.default_rng(seed)
        model = LSTMClassifier(**self.model_config).to(self.device)
        optimizer = member_optimizer(model, self.config)
        progress = {"epoch": 0, "best_loss": math.inf, "best_state": None, "best_epoch": 0, "waited": 0, "history": []}
        if saved is not None:
            model.load_state_dict(saved["model_state"])
            optimizer.load_state_dict(saved["optimizer_state"])
            order.bit_generator.state = saved["order_state"]
            set_rng_state(saved["rng_state"], self.device)
            progress = {key: saved[key] for key in progress}
            progress["history"] = list(progress["history"])
        return model, optimizer, order, progress

    def _snapshot(self, model, optimizer, order, progress) -> dict:
        return {"model_state": _cpu(model), "optimizer_state": optimizer.state_dict(),
                "order_state": order.bit_generator.state, "rng_state": rng_state(self.device), **progress}

    def restore_check(self, state: EnsembleState) -> None:
        """Build every saved network once, so a damaged checkpoint fails before training starts."""
        for record in state.records:
            LSTMClassifier(**self.model_config).load_state_dict(record["best_state"])
        if state.network is not None:
            require(state.network, model_state=dict, optimizer_state=dict, order_state=dict, rng_state=dict,
                    epoch=int, best_loss=(int, float), best_epoch=int, waited=int, history=list)
            model = LSTMClassifier(**self.model_config)
            model.load_state_dict(state.network["model_state"])
            if state.network["best_state"] is not None:
                model.load_state_dict(state.network["best_state"])
            member_optimizer(model, self.config).load_state_dict(state.network["optimizer_state"])
            np.random.default_rng().bit_generator.state = state.network["order_state"]
            if not 0 < state.network["epoch"] < self.epochs:
                raise SeqgenError(f"its network in progress stops at epoch {state.network['epoch']} of {self.epochs}")

    def run(self, state: EnsembleState, save: Optional[Callable[[EnsembleState], None]] = None,
            should_stop: Optional[Callable[[], bool]] = None, bar=None) -> bool:
        """Train the remaining networks; True when all are done, False when `should_stop()` turned true
        (after `save(state)` wrote the full state)."""
        config, values, lengths, targets = self.config, self.values, self.lengths, self.targets
        while state.member < config.ensemble:
            member = state.member
            val_rows, train_rows = self.rows(member)
            counts = np.bincount(targets[train_rows].cpu().numpy(), minlength=self.model_config["num_classes"])
            weights = torch.tensor(len(train_rows) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32,
                                   device=self.device) if config.class_weights else None
            model, optimizer, order, progress = self._network(member, state.network)
            history, stopped_early = progress["history"], False
            for epoch in range(progress["epoch"] + 1, self.epochs + 1):
                model.train()
                total = 0.0
                for batch in torch.from_numpy(order.permutation(train_rows)).split(config.batch_size):
                    if len(batch) < 2 and len(train_rows) > 1:
                        continue  # batch norm cannot learn from a single example
                    with self.threads.step():
                        with autocast(self.device, self.precision):
                            loss = torch.nn.functional.cross_entropy(model(values[batch], lengths[batch]),
                                                                     targets[batch], weight=weights)
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                        optimizer.step()
                        total += loss.item() * len(batch)
                check_finite(total, "training loss", f"at epoch {epoch}", "lower --lr")
                entry = {"step": epoch, "train_loss": total / len(train_rows)}
                if len(val_rows):
                    model.eval()
                    with torch.no_grad():
                        logits = model(values[val_rows], lengths[val_rows])
                        entry["val_loss"] = float(torch.nn.functional.cross_entropy(logits, targets[val_rows],
                                                                                    weight=weights))
                    if bar is not None:
                        bar.set_postfix(loss=f"{entry['train_loss']:.3f}", val=f"{entry['val_loss']:.3f}",
                                        refresh=False)
                history.append(entry)
                if bar is not None:
                    bar.update(1)
                progress["epoch"] = epoch
                score = entry.get("val_loss", -epoch)  # without a validation split the last epoch is the best
                if score < progress["best_loss"]:
                    progress.update(best_loss=score, best_epoch=epoch, waited=0, best_state=_cpu(model))
                else:
                    progress["waited"] += 1
                    if config.patience is not None and progress["waited"] >= config.patience:
                        stopped_early = True
                        break
                if epoch < self.epochs and should_stop is not None and should_stop():
                    state.network = self._snapshot(model, optimizer, order, progress)
                    if save is not None:
                        save(state)
                    return False
            if bar is not None:
                bar.update(self.epochs - len(history))
            state.records.append({"best_state": progress["best_state"], "history": history,
                                  "best_epoch": progress["best_epoch"],
                                  "best_val_loss": progress["best_loss"] if len(val_rows) else None,
                                  "stopped_early": stopped_early, "val_rows": [int(r) for r in val_rows]})
            state.member, state.network = member + 1, None
            if save is not None:
                save(state)
            if state.member < config.ensemble and should_stop is not None and should_stop():
                return False
        return True


def _cpu(model: torch.nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@dataclass(repr=False)  # RunPaths gives the short one
class ClassifyResult(RunPaths):
    run: RunFolder
    ensemble: int
    members_done: int
    epochs: int  # the most any network trained
    best_val_loss: Optional[float]  # mean over the networks with a validation fold
    stopped_early: bool  # some network ran out of --patience
    report: Optional[dict]  # on --test
    test: Optional[str]
    stop_reason: str  # "budget", "patience" (some network stopped early) or "interrupted"


def _resumed(resume, overrides: Optional[dict]) -> tuple:
    resume, checkpoint = resume_point(resume, NAME, overrides, RESUMABLE)
    if "train_state" not in checkpoint:
        raise SeqgenError(f"{resume} holds no training state to resume (best.pt files and checkpoints of earlier "
                          "seqgen versions have none); give a run's latest.pt or its folder, or start a new run")
    refuse_finished(resume, checkpoint, NAME)
    with rebuilding(resume):
        require(checkpoint, train_config=dict, train_state=dict)
        require(checkpoint["train_state"], fingerprint=str)
        config = dataclasses.replace(from_dict(ClassifyConfig, checkpoint["train_config"]), **(overrides or {}))
    return resume, checkpoint, config


def train(config: ClassifyConfig, resume=None, overrides: Optional[dict] = None,
          should_stop: Optional[Callable[[], bool]] = None, progress: bool = True) -> ClassifyResult:
    """Train on the --corpus file, keep each network's weights of its best validation loss, score --test if
    given; writes best.pt, latest.pt, run.json, loss.png (and confusion.png). With `resume` (a latest.pt or
    its run folder) continue that run exactly; only --device, --precision and --threads may change. `should_stop` is polled after
    every epoch: when it turns true, latest.pt is saved with the full state and the function returns."""
    checkpoint = None
    if resume is not None:
        resume, checkpoint, config = _resumed(resume, overrides)
    else:  # a --name already taken is one line before the data is read
        check_new_run(config.output_dir, config.name, config.overwrite)
    data = read_training_data(config)
    if checkpoint is not None and data.fingerprint != checkpoint["train_state"]["fingerprint"]:
        raise SeqgenError(f"the training file {config.corpus} changed since the checkpoint was written; it cannot be "
                          "resumed")
    device = resolve_device(config.device)
    ensemble = Ensemble(data, config, device)
    with ensemble.threads:
        state = ensemble.new_state()
        if checkpoint is not None:
            with rebuilding(resume):
                state = EnsembleState.from_payload(checkpoint, config.ensemble, ensemble.epochs)
                ensemble.restore_check(state)
        run = (RunFolder.of_checkpoint(resume) if checkpoint is not None else
               RunFolder.new(config.output_dir, config.name, default_run_stem(config), config.overwrite))
        try:
            return _train(ensemble, state, run, should_stop, progress)
        finally:
            run.close()


def _train(ensemble: Ensemble, state: EnsembleState, run: RunFolder, should_stop, progress: bool) -> ClassifyResult:
    config, data, device = ensemble.config, ensemble.data, ensemble.device

    def payload(report: Optional[dict]) -> dict:
        losses = [r["best_val_loss"] for r in state.records if r["best_val_loss"] is not None]
        return {"task": NAME, "train_config": to_dict(config), "model_config": ensemble.model_config,
                "classes": data.classes, "scaling": data.scaling, "layout": data.layout,
                "members": [r["best_state"] for r in state.records],
                "best_val_loss": float(np.mean(losses)) if losses else None, "test_report": report,
                "training": [{k: v for k, v in r.items() if k != "best_state"} for r in state.records]}

    def save(state: EnsembleState) -> None:
        run.save_checkpoint({**payload(None), "train_state": state.to_payload(config.ensemble, data.fingerprint)},
                            run.latest)

    def summary(saved: dict) -> dict:
        val_examples = len(ensemble.rows(0)[0])
        return {**{k: v for k, v in saved.items() if k != "members"}, "networks_trained": state.member,
                "train_examples": int(len(data.labels) - val_examples), "val_examples": val_examples,
                "threads": ensemble.threads.describe()}

    bar = progress_bar(config.ensemble * ensemble.epochs, progress, desc="classifier", bar_format=BAR,
                       initial=state.member * ensemble.epochs + (state.network or {}).get("epoch", 0))
    try:
        arm(should_stop)  # from here a Ctrl-C saves latest.pt; before, there was nothing to save
        finished = ensemble.run(state, save, should_stop, bar)
    finally:
        bar.close()
    epochs = max((len(r["history"]) for r in state.records), default=0)
    stopped_early = any(r["stopped_early"] for r in state.records)
    if not finished:
        run.write_json("run.json", summary(payload(None)))
        return ClassifyResult(run, config.ensemble, state.member, epochs, payload(None)["best_val_loss"],
                              stopped_early, None, config.test, "interrupted")
    report = None
    if data.test is not None:
        models = [rebuild(ensemble.model_config, r["best_state"], device) for r in state.records]
        labels, sequences, lines = data.test
        report = classification_report(labels, predict_proba(models, data.scaling, sequences, device,
                                                             describe=rows_of(config.test, lines)), data.classes)
    final = payload(report)
    run.save_checkpoint(final, run.best)
    run.save_checkpoint({**final, "train_state": state.to_payload(config.ensemble, data.fingerprint)}, run.latest)
    if report is not None:  # after the checkpoints: the folder is this run's once it holds one
        run.wrote(plot_confusion(report, run.path / "confusion.png", f"{Path(config.test).name}: accuracy "
                                                                     f"{report['accuracy']:.3f}"))
    run.write_json("run.json", summary(final))
    run.plot_history(state.records[0]["history"], x_label="epoch")  # the first network's curves
    return ClassifyResult(run, config.ensemble, state.member, epochs, final["best_val_loss"], stopped_early, report,
                          config.test, "patience" if stopped_early else "budget")
