"""Training the encoder-decoder with teacher forcing on the shared loop of seqgen.training: batches of
similar length in a fixed order per epoch, so an interrupted run resumes exactly."""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.checkpoint import rebuilding
from seqgen.config import from_dict, to_dict
from seqgen.device import resolve_device
from seqgen.distributed import World, joined
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import PAD, Seq2Seq, Seq2SeqConfig
from seqgen.runs import check_new_run
from seqgen.tasks.translate.config import TranslateConfig
from seqgen.tasks.translate.data import (
    PairData,
    Vocab,
    batches,
    check_corpus_options,
    fingerprint,
    make_batch,
    prepare_pairs,
)
from seqgen.tasks.translate.evaluate import validation_loss
from seqgen.tasks.translate.translate import Translator
from seqgen.tokenizers import tokenizer_from_state
from seqgen.training import FitResult, TrainState, fit_run, make_optimizer, resume_point

NAME = "translate"


class TranslationTraining:
    """The translation task's part of the loop (see seqgen.training.StepTask)."""

    def __init__(self, model: Seq2Seq, model_config: Seq2SeqConfig, config: TranslateConfig, data: PairData, device,
                 world: Optional[World] = None):
        self.model, self.model_config, self.config, self.data, self.device = model, model_config, config, data, device
        self.world = world or World()
        self.network = model  # what the loss runs: the model itself, or its DistributedDataParallel wrapper
        self.optimizer = make_optimizer(model, config.lr, config.weight_decay, device)
        self.translator = Translator(model, data.source_vocab, data.target_vocab, device, config.max_length)
        self.translator.inherit_threads = True  # validation decodes with the training loop's thread count
        self.source_lengths = [len(s) for s, _ in data.train_ids]
        self.per_epoch = math.ceil(len(data.train_ids) / config.batch_size)
        # target tokens in a typical step: decides whether bf16 pays on a CPU
        self.tokens_per_step = config.batch_size * (1 + sum(len(t) for _, t in data.train_ids) // max(1, len(data.train_ids)))
        self._order = (None, None)  # (epoch, its batches)

    def _batches(self, epoch: int) -> list:
        if self._order[0] != epoch:
            rng = np.random.default_rng(self.config.seed + epoch)
            self._order = (epoch, batches(len(self.data.train_ids), self.config.batch_size, self.source_lengths, rng))
        return self._order[1]

    def next_batch(self, state: TrainState):
        index = state.position.get("batch", 0)
        if index >= len(self._batches(state.epoch)):
            state.epoch, index = state.epoch + 1, 0
        state.position["batch"] = index + 1
        rows = self._batches(state.epoch)[index]
        ids = self.data.train_ids
        source, lengths, target_in, target_out = make_batch([ids[i][0] for i in rows], [ids[i][1] for i in rows], "cpu")
        # In a data-parallel run each rank takes a contiguous share of the rows (maybe none); the loss is
        # divided by the target tokens of the whole batch, so the ranks together compute its mean.
        count = int((target_out != PAD).sum())
        share = np.array_split(np.arange(len(rows)), self.world.size)[self.world.rank]
        tensors = [t[torch.from_numpy(share)].to(self.device) for t in (source, lengths, target_in, target_out)]
        return (*tensors, count)

    def epochs_done(self, state: TrainState) -> float:
        return state.epoch + state.position.get("batch", 0) / max(1, self.per_epoch)

    def loss(self, batch) -> torch.Tensor:
        source, lengths, target_in, target_out, count = batch
        if not len(source):  # this rank's share of a short last batch is empty: it still joins the gradient average
            return sum(p.sum() for p in self.model.parameters()) * 0.0
        logits, _ = self.network(source, lengths, target_in)  # (B, T, V)
        total = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), target_out.flatten(),
                                                  ignore_index=PAD, reduction="sum")
        return total * (self.world.size / count)  # DDP averages over the ranks: together, the batch's mean

    def batch_tokens(self, batch) -> int:
        return int((batch[3] != PAD).sum())

    def evaluate(self, should_stop: Callable[[], bool]) -> Optional[dict]:
        try:
            val_loss = validation_loss(self.model, self.data.val_ids, self.config.batch_size, self.device, should_stop)
            if val_loss is None or should_stop():
                return None
            hypotheses = self.translator.translate([s for s, _ in self.data.val_pairs], beam_size=1, batch_size=256,
                                                   precision="fp32")  # greedy, the weights as they train
        finally:
            self.model.train()
        exact = float(np.mean([h == t for h, (_, t) in zip(hypotheses, self.data.val_pairs)]))
        return {"val_loss": val_loss, "val_exact_match": exact}

    def position(self) -> dict:
        return {}

    def payload(self) -> dict:
        vocabs = self.data.source_vocab, self.data.target_vocab
        return {"task": NAME, "model_config": to_dict(self.model_config), "train_config": to_dict(self.config),
                "source_tokenizer": vocabs[0].tokenizer.to_state(),
                "target_tokenizer": None if vocabs[1] is vocabs[0] else vocabs[1].tokenizer.to_state(),
                "corpus": {"name": self.data.name, "spec": self.config.corpus,
                           "test_fingerprint": fingerprint(self.data.splits["test"]),
                           "train_fingerprint": fingerprint(self.data.train_pairs)}}

    def summary(self) -> dict:
        return {"task": NAME, "model_config": to_dict(self.model_config), "train_config": to_dict(self.config),
                "train_pairs": len(self.data.train_ids)}

    def postfix(self, state: TrainState) -> dict:
        last = next((h for h in reversed(state.history) if "val_exact_match" in h), None)
        if last is None:
            return {}
        return {"val": f"{last['val_loss']:.3f}", "exact": f"{100 * last['val_exact_match']:.1f}%"}


def train(config: TranslateConfig, resume: Optional[str] = None, overrides: Optional[dict] = None,
          should_stop: Optional[Callable[[], bool]] = None, progress: bool = True) -> FitResult:
    """Train an encoder-decoder on `config.corpus`; best.pt has the lowest validation loss. With
    `resume` (a latest.pt or its run folder) continue that run exactly."""
    checkpoint, vocabs = None, None
    if resume is None:
        check_corpus_options(config)  # a resumed run's options were its own when it started
    if resume is not None:
        resume, checkpoint = resume_point(resume, NAME, overrides)
        if "data_position" not in checkpoint:
            raise SeqgenError(f"{resume} was written by a seqgen whose translation runs could not resume; "
                              "start a new run")
        with rebuilding(resume):
            config = dataclasses.replace(from_dict(TranslateConfig, checkpoint["train_config"]), **(overrides or {}))
            from_dict(Seq2SeqConfig, checkpoint["model_config"])  # rebuilt from the data below, but must be sound
            source_vocab = Vocab(tokenizer_from_state(checkpoint["source_tokenizer"]))
            target_state = checkpoint["target_tokenizer"]
            vocabs = source_vocab, source_vocab if target_state is None else Vocab(tokenizer_from_state(target_state))

    with joined(resolve_device(config.device)) as (world, device):
        return _train(config, resume, checkpoint, vocabs, world, device, should_stop, progress)


def _train(config, resume, checkpoint, vocabs, world: World, device, should_stop, progress) -> FitResult:
    if checkpoint is None:  # a --name already taken is one line before the corpus is read
        world.from_main(lambda: check_new_run(config.output_dir, config.name, config.overwrite))
    torch.manual_seed(config.seed)
    # Rank 0 reads the pairs first, so an error every rank would meet is one line from rank 0; after it, an
    # error on another rank is that rank's own (e.g. no such file on its node).
    first = []
    world.from_main(lambda: first.append(prepare_pairs(config, vocabs)))
    if world.main:
        data = first[0]
    else:
        with world.alone():
            data = prepare_pairs(config, vocabs)
    if checkpoint is not None and checkpoint["corpus"].get("train_fingerprint") != fingerprint(data.train_pairs):
        raise SeqgenError(f"the corpus {config.corpus!r} changed since the checkpoint was written; it cannot be resumed")
    model_config = Seq2SeqConfig(data.source_vocab.size, data.target_vocab.size, config.embedding_dim,
                                 config.hidden_size, config.num_layers, config.dropout)
    model = Seq2Seq(model_config).to(device)
    return fit_run(lambda: TranslationTraining(model, model_config, config, data, device, world), model, config,
                   data.name, resume, checkpoint, device, world, should_stop, progress, tuple(data.notes))
