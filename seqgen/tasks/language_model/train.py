"""Training a language model: truncated BPTT over parallel streams, the state carried from window to
window, on the shared loop of seqgen.training (so it resumes exactly)."""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import torch

from seqgen.checkpoint import rebuilding
from seqgen.config import from_dict, to_dict
from seqgen.data.text import check_size
from seqgen.device import resolve_device
from seqgen.distributed import World, joined
from seqgen.errors import SeqgenError
from seqgen.models import LSTMLanguageModel, ModelConfig
from seqgen.runs import check_new_run
from seqgen.tasks.language_model.config import TrainConfig
from seqgen.tasks.language_model.data import Splits, TextStreams, check_corpus_options, load_splits
from seqgen.tasks.language_model.evaluate import evaluate_loss, masked_loss, next_token_bias, unscored_token
from seqgen.training import FitResult, TrainState, fit_run, make_optimizer, resume_point

NAME = "language-model"


class LanguageModelTraining:
    """The language model's part of the loop (see seqgen.training.StepTask)."""

    def __init__(self, model: LSTMLanguageModel, model_config: ModelConfig, config: TrainConfig, splits: Splits,
                 device: torch.device, world: Optional[World] = None):
        self.model, self.model_config, self.config, self.splits, self.device = model, model_config, config, splits, device
        self.world = world or World()
        self.network = model  # what the loss runs: the model itself, or its DistributedDataParallel wrapper
        self.optimizer = make_optimizer(model, config.lr, config.weight_decay, device)
        self.streams = TextStreams(splits.ids["train"], config, device, self.world.rank, self.world.size)
        self.val_ids = splits.ids["val"] if len(splits.ids["val"]) else None
        self.hidden = None  # the LSTM state carried from one window of each of this rank's streams to the next
        # The frame encoding masks tokens that cannot come next, in training as in scoring and sampling.
        self.bias, self.unscored = next_token_bias(splits.tokenizer, device), unscored_token(splits.tokenizer)
        self.tokens_per_step = config.batch_size * config.bptt  # decides whether bf16 pays on a CPU
        # Music reports its loss per quarter note too, so encodings with different grids compare (for a
        # piano roll a quarter note is a frame, and the unscored `piece` tokens are left out of the count).
        quarters = splits.quarter_notes.get("val")
        scored = None if self.val_ids is None else int((self.val_ids != self.unscored).sum())
        self.tokens_per_quarter = scored / quarters if self.val_ids is not None and quarters else None

    def next_batch(self, state: TrainState):
        window = state.position.get("window", 0)
        if window >= self.streams.windows_in(state.epoch):
            state.epoch, window, self.hidden = state.epoch + 1, 0, None
        state.position["window"] = window + 1
        return self.streams.window(state.epoch, window)  # inputs, targets (B, T)

    def epochs_done(self, state: TrainState) -> float:
        return state.epoch + state.position.get("window", 0) / max(1, self.streams.windows_in(state.epoch))

    def loss(self, batch) -> torch.Tensor:
        inputs, targets = batch
        if self.hidden is not None:
            # Truncated BPTT: keep the values of the state, cut the graph, so the gradient reaches
            # back only through this window while the model still sees the text before it.
            self.hidden = tuple(t.detach() for t in self.hidden)
        logits, self.hidden = self.network(inputs, self.hidden)  # (B, T, V)
        return masked_loss(logits, inputs, targets, self.bias, self.unscored)

    def batch_tokens(self, batch) -> int:
        return batch[1].numel()

    def evaluate(self, should_stop: Callable[[], bool]) -> Optional[dict]:
        if self.val_ids is None:
            return {"val_loss": None}
        loss = evaluate_loss(self.model, self.val_ids, self.config.eval_batch_size, self.config.bptt, self.device,
                             should_stop, self.bias, self.unscored)
        if loss is None:
            return None
        figures = {"val_loss": loss}
        if self.tokens_per_quarter is not None and math.isfinite(loss):
            figures["val_loss_per_quarter"] = loss * self.tokens_per_quarter
        return figures

    def position(self) -> dict:
        """The carried state of all B streams (gathered from every rank), so a resume continues exactly."""
        local = None if self.hidden is None else [t.detach().cpu() for t in self.hidden]
        parts = self.world.gather(local)
        if any(part is None for part in parts):
            return {"hidden": None}
        return {"hidden": [torch.cat([part[i] for part in parts], dim=1) for i in range(len(parts[0]))]}

    def restore(self, position: dict) -> None:
        """Take up this rank's streams' share of the saved LSTM state of all B streams."""
        hidden, rows = position.get("hidden"), self.streams.rows
        self.hidden = None if hidden is None else tuple(t[:, rows].to(self.device) for t in hidden)

    def payload(self) -> dict:
        return {"task": NAME, "model_config": to_dict(self.model_config), "train_config": to_dict(self.config),
                "tokenizer": self.splits.tokenizer.to_state(),
                "corpus": {"name": self.splits.name, "spec": self.config.corpus, "fingerprint": self.splits.fingerprint}}

    def summary(self) -> dict:
        return {"task": NAME, "model_config": to_dict(self.model_config), "train_config": to_dict(self.config),
                "train_tokens": int(self.splits.ids["train"].size),
                "skipped_files": [list(item) for item in self.splits.skipped]}

    def postfix(self, state: TrainState) -> dict:
        if math.isinf(state.best_val_loss):
            return {}
        val = state.best_val_loss
        if self.splits.tokenizer.kind == "char":
            return {"val": f"{val:.3f}", "bpc": f"{val / math.log(2):.3f}"}
        return {"val": f"{val:.3f}", "ppl": f"{math.exp(min(val, 700)):.1f}"}


def train(model_config: ModelConfig, config: TrainConfig, resume: Optional[str] = None,
          overrides: Optional[dict] = None, should_stop: Optional[Callable[[], bool]] = None,
          progress: bool = True) -> FitResult:
    """Train a language model; with `resume` (a latest.pt or its run folder), continue that run exactly.

    `should_stop` is polled after every step (the CLI wires it to Ctrl-C and SIGTERM); when it
    returns True, latest.pt is saved with the full state and the function returns.
    """
    checkpoint = None
    if resume is None:
        check_corpus_options(config)  # a resumed run's options were its own when it started
    if resume is not None:
        resume, checkpoint = resume_point(resume, NAME, overrides)
        with rebuilding(resume):
            model_config = from_dict(ModelConfig, checkpoint["model_config"])
            config = dataclasses.replace(from_dict(TrainConfig, checkpoint["train_config"]), **(overrides or {}))

    with joined(resolve_device(config.device)) as (world, device):
        return _train(model_config, config, resume, checkpoint, world, device, should_stop, progress)


def _train(model_config, config, resume, checkpoint, world: World, device, should_stop, progress) -> FitResult:
    if config.batch_size % world.size:
        raise SeqgenError(f"--batch-size {config.batch_size} (the global batch) must be divisible by the "
                          f"{world.size} processes, each of which trains its share of the streams")
    if checkpoint is None:  # a --name already taken is one line before the corpus is read
        world.from_main(lambda: check_new_run(config.output_dir, config.name, config.overwrite))
    torch.manual_seed(config.seed)

    def read():
        return load_splits(config, checkpoint["tokenizer"] if checkpoint is not None else None, progress and world.main)

    # Rank 0 reads (the first time, tokenises) the corpus, then the others open its token file; an error on
    # rank 0 stops every rank with the same line.
    first = []
    world.from_main(lambda: first.append(read()))
    if world.main:
        splits = first[0]
    else:
        with world.alone():  # rank 0 read it: an error here is this process's own (e.g. no such file on its node)
            splits = read()
    if checkpoint is not None and checkpoint["corpus"]["fingerprint"] != splits.fingerprint:
        raise SeqgenError(f"the corpus {config.corpus!r} changed since the checkpoint was written; it cannot be resumed")
    check_size("train", splits.ids["train"], config.batch_size)
    if len(splits.ids["val"]):
        check_size("val", splits.ids["val"], 1, "--eval-batch-size")
    model_config = dataclasses.replace(model_config, num_tokens=splits.tokenizer.vocab_size)
    model = LSTMLanguageModel(model_config).to(device)
    notes = ()
    if splits.skipped:
        shown = "; ".join(f"{name} ({reason})" for name, reason in splits.skipped[:20])
        more = f"; and {len(splits.skipped) - 20} more" if len(splits.skipped) > 20 else ""
        notes = (f"Skipped {len(splits.skipped)} file(s): {shown}{more}",)
    return fit_run(lambda: LanguageModelTraining(model, model_config, config, splits, device, world), model, config,
                   splits.name, resume, checkpoint, device, world, should_stop, progress, notes)
