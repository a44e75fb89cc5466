import dataclasses
import json
import math

import pytest
import torch

from seqgen.checkpoint import load_checkpoint
from seqgen.errors import SeqgenError
from seqgen.models import LSTMLanguageModel
from seqgen.tasks.language_model import LanguageModel
from seqgen.tasks.language_model.train import train


def train_losses(history):
    return [(h["step"], h["train_loss"]) for h in history if "train_loss" in h]


def test_training_learns_and_writes_its_run_files(tiny_model, tiny_train):
    config = dataclasses.replace(tiny_train, max_steps=60, eval_interval=20, lr=1e-2)
    result = train(tiny_model, config, progress=False)
    losses = [loss for _, loss in train_losses(result.history)]
    assert losses[-1] < losses[0] - 0.5  # it really learns the little corpus
    run = json.loads((result.run_dir / "run.json").read_text())
    val = [h["val_loss"] for h in run["history"] if "val_loss" in h]
    assert len(val) == 3 and run["best_val_loss"] == pytest.approx(min(val))
    assert (result.run_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = load_checkpoint(result.best_path)
    assert best["best_val_loss"] == pytest.approx(min(val)) and best["step"] == 20 * (val.index(min(val)) + 1)
    assert load_checkpoint(result.latest_path)["step"] == 60


def test_interrupted_then_resumed_run_matches_an_uninterrupted_one(tiny_model, tiny_train, tmp_path):
    config = dataclasses.replace(tiny_train, max_steps=24, eval_interval=10)
    straight = train(tiny_model, dataclasses.replace(config, name="straight"), progress=False)

    calls = {"n": 0}

    def stop_at_step_7():
        calls["n"] += 1
        return calls["n"] == 7

    stopped = train(tiny_model, dataclasses.replace(config, name="resumed"), should_stop=stop_at_step_7, progress=False)
    assert stopped.stop_reason == "interrupted" and stopped.step == 7
    resumed = train(tiny_model, config, resume=str(stopped.latest_path), progress=False)
    assert resumed.step == 24
    assert train_losses(resumed.history) == train_losses(straight.history)  # bit-for-bit the same losses
    a = LanguageModel.load(straight.latest_path, "cpu").model
    b = LanguageModel.load(resumed.latest_path, "cpu").model
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_patience_stops_a_run_that_no_longer_improves(tiny_model, tiny_train):
    config = dataclasses.replace(tiny_train, max_steps=400, eval_interval=5, patience=2, lr=0.5, grad_clip=0.0)
    result = train(tiny_model, config, progress=False)
    assert result.stop_reason == "patience" and result.step < 400


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_model, tiny_train, monkeypatch):
    forward = LSTMLanguageModel.forward
    calls = {"n": 0}

    def poisoned(self, tokens, state=None):
        logits, state = forward(self, tokens, state)
        if self.training:
            calls["n"] += 1
            if calls["n"] > 12:
                logits = logits * float("nan")
        return logits, state

    monkeypatch.setattr(LSTMLanguageModel, "forward", poisoned)
    with pytest.raises(SeqgenError, match="loss became nan at step 13.*lower --lr"):
        train(tiny_model, dataclasses.replace(tiny_train, max_steps=30), progress=False)
    good = load_checkpoint(tiny_train.output_dir + "/run/latest.pt")
    assert good["step"] == 10
    assert all(torch.isfinite(t).all() for t in good["model_state"].values())


def test_corpus_too_small_for_the_batch_is_a_clear_error(tiny_model, tiny_train, tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("just a few words\n")
    with pytest.raises(SeqgenError, match="too few for --batch-size"):
        train(tiny_model, dataclasses.replace(tiny_train, corpus=str(small), batch_size=64), progress=False)


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_subword_models_train_and_store_their_tokenizer(tiny_model, tiny_train, kind):
    config = dataclasses.replace(tiny_train, tokenizer=kind, vocab_size=320, max_steps=10)
    result = train(tiny_model, config, progress=False)
    lm = LanguageModel.load(result.best_path, "cpu")
    model, tokenizer = lm.model, lm.tokenizer
    assert tokenizer.kind == kind and model.config.num_tokens == tokenizer.vocab_size == 320
    assert math.isfinite(result.best_val_loss)
