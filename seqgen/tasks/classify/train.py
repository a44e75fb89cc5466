"""Training a classifier: an ensemble of networks trained one after another on the ensemble loop of
seqgen.training, each with class weights on all but its own validation fold and stopped early when that
fold's loss stops improving; best.pt keeps each network's best weights and the test report. `--resume`
continues a run exactly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.config import to_dict
from seqgen.models.classify import LSTMClassifier
from seqgen.models.configs import ClassifierConfig
from seqgen.runs import RunFolder, RunPaths
from seqgen.tasks.classify.classify import predict_proba, rebuild
from seqgen.tasks.classify.config import ClassifyConfig
from seqgen.tasks.classify.data import (
    TrainingData,
    default_run_stem,
    fold_count,
    folds,
    member_rows,
    read_training_data,
    rows_of,
)
from seqgen.tasks.classify.evaluate import classification_report, plot_confusion
from seqgen.training.ensemble import EnsembleState, MemberTaskBase, records_payload, train_from_file

NAME = "classify"


class ClassifyMembers(MemberTaskBase):
    """The classifier's part of the ensemble loop (see seqgen.training.ensemble.MemberTask): network m holds
    out fold m for early stopping, so the ensemble as a whole learns from every example."""

    title = "classifier"

    def __init__(self, data: TrainingData, config: ClassifyConfig, device: torch.device):
        super().__init__(config, device)
        self.data = data
        self.values, self.lengths, self.targets = data.tensors(device)
        self.model_config = ClassifierConfig(len(data.classes), config.hidden_size, config.num_layers,
                                             config.bidirectional, config.conv_channels, config.dropout, data.channels)
        self.fold_count = fold_count(config.val_fraction)
        self.folds = folds(self.targets.cpu().numpy(), self.fold_count, np.random.default_rng(config.seed))

    def network(self) -> LSTMClassifier:
        return LSTMClassifier(**to_dict(self.model_config))

    def order(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    def begin(self, member: int) -> None:
        """The rows of network `member` and, with --class-weights, its classes' weights."""
        self.val_rows, self.train_rows = member_rows(self.folds, self.fold_count, member)
        counts = np.bincount(self.targets[self.train_rows].cpu().numpy(), minlength=len(self.data.classes))
        self.weights = torch.tensor(len(self.train_rows) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32,
                                    device=self.device) if self.config.class_weights else None

    def batches(self, member: int, order: np.random.Generator):
        for batch in torch.from_numpy(order.permutation(self.train_rows)).split(self.config.batch_size):
            if len(batch) > 1 or len(self.train_rows) == 1:  # batch norm cannot learn from a single example
                yield batch

    def examples(self, member: int) -> int:
        return len(self.train_rows)

    def loss(self, model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(model(self.values[batch], self.lengths[batch]), self.targets[batch],
                                                 weight=self.weights)

    def validate(self, model: torch.nn.Module, member: int) -> Optional[float]:
        if not len(self.val_rows):
            return None
        model.eval()
        with torch.no_grad():
            logits = model(self.values[self.val_rows], self.lengths[self.val_rows])
            return float(torch.nn.functional.cross_entropy(logits, self.targets[self.val_rows], weight=self.weights))

    def record(self, member: int) -> dict:
        return {"val_rows": [int(r) for r in self.val_rows]}

    def extra_state(self) -> dict:
        return {"fingerprint": self.data.fingerprint}

    def payload(self, state: EnsembleState, final: bool) -> dict:
        losses = [r["best_val_loss"] for r in state.records if r["best_val_loss"] is not None]
        return {"task": NAME, "train_config": to_dict(self.config), "model_config": to_dict(self.model_config),
                "classes": self.data.classes, "scaling": self.data.scaling, "layout": self.data.layout,
                "members": state.weights(), "best_val_loss": float(np.mean(losses)) if losses else None,
                "test_report": self.test_report(state) if final else None,
                "training": records_payload(state)}

    def test_report(self, state: EnsembleState) -> Optional[dict]:
        """The ensemble's scores on --test (None without it)."""
        if self.data.test is None:
            return None
        models = [rebuild(to_dict(self.model_config), weights, self.device) for weights in state.weights()]
        labels, sequences, lines = self.data.test
        return classification_report(labels, predict_proba(models, self.data.scaling, sequences, self.device,
                                                           describe=rows_of(self.config.test, lines)),
                                     self.data.classes)

    def summary(self, state: EnsembleState, final: Optional[dict], run: RunFolder) -> "ClassifyResult":
        config, saved = self.config, final or self.payload(state, False)
        val_examples = len(member_rows(self.folds, self.fold_count, 0)[0])
        report = saved["test_report"]
        if report is not None:  # after the checkpoints: the folder is this run's once it holds one
            run.wrote(plot_confusion(report, run.path / "confusion.png",
                                     f"{Path(config.test).name}: accuracy {report['accuracy']:.3f}"))
        run.write_json("run.json", {**{k: v for k, v in saved.items() if k != "members"},
                                    "networks_trained": state.member,
                                    "train_examples": int(len(self.data.labels) - val_examples),
                                    "val_examples": val_examples, "threads": self.threads.describe()})
        if final is not None:
            run.plot_history(state.records[0]["history"], x_label="epoch")  # the first network's curves
        epochs = max((len(r["history"]) for r in state.records), default=0)
        stopped_early = any(r["stopped_early"] for r in state.records)
        reason = "interrupted" if final is None else "patience" if stopped_early else "budget"
        return ClassifyResult(run, config.ensemble, state.member, epochs, saved["best_val_loss"], stopped_early,
                              report, config.test, reason)


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


def train(config: ClassifyConfig, resume=None, overrides: Optional[dict] = None,
          should_stop: Optional[Callable[[], bool]] = None, progress: bool = True) -> ClassifyResult:
    """Train on the --corpus file, keep each network's weights of its best validation loss, score --test if
    given; writes best.pt, latest.pt, run.json, loss.png (and confusion.png). With `resume` (a latest.pt or
    its run folder) continue that run exactly; only --device, --precision and --threads may change.
    `should_stop` is polled after every epoch: when it turns true, latest.pt is saved with the full state and
    the function returns."""
    return train_from_file(NAME, config, ClassifyMembers, read_training_data, default_run_stem, resume, overrides,
                           should_stop, progress)
