import dataclasses
import json
import math

import pytest
import torch
from conftest import run

import seqgen
from seqgen.checkpoint import load_checkpoint
from seqgen.errors import SeqgenError
from seqgen.models import LSTMLanguageModel
from seqgen.tasks import TASKS, get_task
from seqgen.tasks.language_model import LanguageModel
from seqgen.tasks.language_model.train import train
from seqgen.training import learning_rate


def train_losses(history):
    return [(h["step"], h["train_loss"]) for h in history if "train_loss" in h]


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# Promises of the shared training core: Ctrl-C saves before validating, a resume that extends the
# budget keeps what was done and stretches the schedule as the README says, translation resumes
# exactly, and `seqgen train --task T --help` and run.json show T's own options and defaults.


def test_an_interruption_saves_latest_first_and_skips_validation(tiny_model, tiny_train):
    config = dataclasses.replace(tiny_train, max_steps=40, eval_interval=10)
    calls = {"n": 0}

    def stop_at_step_10():
        calls["n"] += 1
        return calls["n"] >= 10

    result = train(tiny_model, config, should_stop=stop_at_step_10, progress=False)
    assert result.stop_reason == "interrupted" and result.step == 10
    assert not any("val_loss" in h for h in result.history)  # no validation pass before stopping
    assert torch.load(result.latest_path, weights_only=True)["step"] == 10


@pytest.mark.slow
def test_a_resume_that_extends_the_budget_keeps_the_past_and_stretches_the_schedule(tiny_model, tiny_train):
    config = dataclasses.replace(tiny_train, max_steps=20, eval_interval=10, warmup_steps=0)
    first = train(tiny_model, config, progress=False)
    before = [h for h in first.history if "train_loss" in h]
    longer = train(tiny_model, config, resume=str(first.run_dir), overrides={"max_steps": 40}, progress=False)
    assert longer.step == 40
    after = [h for h in longer.history if "train_loss" in h]
    assert after[:len(before)] == before  # what was trained is kept as it was
    extended = dataclasses.replace(config, max_steps=40)
    step_21 = next(h for h in after if h["step"] == 21)
    # the step after the resume follows the cosine over the new budget, from where the run stood
    assert step_21["lr"] == pytest.approx(learning_rate(extended, 20, 20 / 40))
    assert step_21["lr"] > learning_rate(config, 20, 1.0)


@pytest.mark.slow
def test_translation_resumes_exactly(tmp_path):
    options = {"train_pairs": 200, "max_steps": 12, "eval_interval": 10, "hidden_size": 8, "embedding_dim": 8,
               "batch_size": 16, "device": "cpu", "progress": False, "output_dir": str(tmp_path)}
    straight = seqgen.train("translate", name="straight", **options)
    calls = {"n": 0}

    def stop_at_step_7():
        calls["n"] += 1
        return calls["n"] == 7

    stopped = seqgen.train("translate", name="stopped", should_stop=stop_at_step_7, **options)
    assert stopped.stop_reason == "interrupted" and stopped.step == 7
    resumed = seqgen.train("translate", resume=str(stopped.latest_path), progress=False, should_stop=lambda: False)
    a = torch.load(straight.latest_path, weights_only=True)
    b = torch.load(resumed.latest_path, weights_only=True)
    assert b["step"] == 12 and all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])
    losses = [(h["step"], h["train_loss"]) for h in a["history"] if "train_loss" in h]
    assert losses == [(h["step"], h["train_loss"]) for h in b["history"] if "train_loss" in h]


@pytest.mark.parametrize("task", TASKS)
def test_train_help_shows_only_the_tasks_own_options_with_its_defaults(task):
    text = " ".join(run("train", "--task", task, "--help").output.split())
    package = get_task(task)
    own = {f.name for cls in package.CONFIGS for f in dataclasses.fields(cls) if f.metadata.get("cli", True)}
    for other in TASKS:
        for cls in get_task(other).CONFIGS:
            for field in dataclasses.fields(cls):
                flag = "--" + field.name.replace("_", "-") + " "
                assert (flag in text) == (field.name in own), (task, flag)
    for cls in package.CONFIGS:
        for field in dataclasses.fields(cls):
            shown_here = field.metadata.get("cli", True) and field.default not in (None, "")
            if shown_here and not isinstance(field.default, bool):
                shown = text.split("--" + field.name.replace("_", "-") + " ", 1)[1].split("[default: ", 1)[1]
                assert shown.startswith(str(field.default)), (task, field.name, shown[:20])


@pytest.mark.slow
def test_each_tasks_defaults_reach_its_run_json(corpus_file, tmp_path):
    result = run("train", "--corpus", corpus_file, "--max-steps", 2, "--output-dir", tmp_path, "--name", "lm",
                 "--sample-length", 0, "--quiet", "--device", "cpu", "--batch-size", 4)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "lm" / "run.json").read_text())
    assert saved["model_config"]["hidden_size"] == 256 and saved["train_config"]["lr"] == 4e-3
    result = run("train", "--task", "translate", "--train-pairs", 200, "--max-steps", 2, "--output-dir", tmp_path,
                 "--name", "tr", "--sample-length", 0, "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "tr" / "run.json").read_text())
    config = saved["train_config"]
    assert (config["hidden_size"], config["batch_size"], config["lr"], config["test_fraction"]) == (128, 128, 3e-3, 0.1)
    assert saved["model_config"]["hidden_size"] == 128
