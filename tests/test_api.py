"""The Python API the README shows: seqgen.train(task, **options) and seqgen.load(path) with its verbs."""

import dataclasses

import pytest
import torch

import seqgen
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import Seq2Seq, Seq2SeqConfig
from seqgen.training import parameter_groups

TINY = {"embedding_dim": 16, "hidden_size": 32, "batch_size": 4, "bptt": 16, "eval_interval": 10, "eval_batch_size": 4,
        "device": "cpu", "progress": False}


@pytest.mark.slow
def test_train_load_generate_evaluate_as_the_readme_shows(corpus_file, tmp_path):
    run = seqgen.train("language-model", corpus=str(corpus_file), max_steps=20, output_dir=str(tmp_path), name="api",
                       **TINY)
    assert run.best_path.exists() and run.latest_path.exists() and run.step == 20
    model = seqgen.load(run.best_path)
    text = model.generate(prime="The quick", length=40, temperature=0.8, seed=1)
    assert text.startswith("The quick") and len(text) == len("The quick") + 40
    assert model.generate(prime="The quick", length=40, temperature=0.8, seed=1) == text  # a seed fixes the text
    figures = model.evaluate(split="test")
    assert {"loss", "perplexity", "bits_per_character"} <= set(figures) and 0 < figures["loss"] < 5
    assert seqgen.load(run.run_dir).task == "language-model"  # a run folder loads its best.pt


def test_a_wrong_option_name_or_value_is_seqgens_own_one_line_error(corpus_file, tmp_path):
    with pytest.raises(SeqgenError, match="--hiden-size does not apply to --task language-model"):
        seqgen.train("language-model", hiden_size=3)
    with pytest.raises(SeqgenError, match="--season does not apply to --task language-model.*--task forecast"):
        seqgen.train("language-model", season=12)
    with pytest.raises(SeqgenError, match="--lr must be > 0"):
        seqgen.train("language-model", corpus=str(corpus_file), lr=0.0)
    with pytest.raises(SeqgenError, match="--lr must be a finite number"):
        seqgen.train("language-model", corpus=str(corpus_file), lr=float("nan"))
    with pytest.raises(SeqgenError, match="unknown task"):
        seqgen.train("poetry")
    with pytest.raises(SeqgenError, match="does not exist"):
        seqgen.load(tmp_path / "missing.pt")


def test_the_api_and_the_command_line_print_the_same_line_for_the_same_mistake(corpus_file):
    from conftest import one_line_error, run

    with pytest.raises(SeqgenError) as raised:
        seqgen.train("language-model", corpus=str(corpus_file), bptt=0)
    assert one_line_error(run("train", "--corpus", corpus_file, "--bptt", 0)) == f"Error: {raised.value}"


@pytest.mark.slow
def test_translation_trains_loads_and_translates_through_the_api(tmp_path):
    run = seqgen.train("translate", train_pairs=200, max_steps=3, eval_interval=3, hidden_size=8, embedding_dim=8,
                       batch_size=16, output_dir=str(tmp_path), name="dates", device="cpu", progress=False)
    translator = seqgen.load(run.best_path, "cpu")
    assert translator.task == "translate"
    out = translator.translate(["3 May 1979", "4 June 1980"], beam_size=3)
    assert len(out) == 2 and all(isinstance(t, str) for t in out)


def test_translate_in_python_searches_as_the_command_line_does():
    import inspect

    from click.testing import CliRunner

    from seqgen.cli import main
    from seqgen.tasks.translate.translate import Translator

    keywords = inspect.signature(Translator.translate).parameters
    help_text = CliRunner().invoke(main, ["translate", "--help"], terminal_width=200).output
    for name in ("beam_size", "length_penalty", "batch_size", "precision"):
        line = next(line for line in help_text.splitlines() if f"--{name.replace('_', '-')}" in line)
        assert f"[default: {keywords[name].default}]" in line, (name, line)


def test_weight_decay_spares_every_embedding_bias_and_norm_by_module_type():
    config = Seq2SeqConfig(source_vocab_size=9, target_vocab_size=11, embedding_dim=4, hidden_size=6, num_layers=1,
                           dropout=0.0)
    model = Seq2Seq(config)
    decay, no_decay = parameter_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    spared = {names[id(p)] for p in no_decay["params"]}
    decayed = {names[id(p)] for p in decay["params"]}
    # The seq2seq model's embeddings are encoder.embedding / decoder.embedding: once decayed by a name rule.
    assert {"encoder.embedding.weight", "decoder.embedding.weight"} <= spared
    assert all(name.endswith("bias") or "bias_" in name or "embedding" in name for name in spared)
    assert "encoder.lstm.weight_ih_l0" in decayed and "decoder.output.weight" in decayed
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.01


@pytest.mark.slow
def test_resume_through_the_api_continues_exactly(corpus_file, tmp_path):
    options = dict(corpus=str(corpus_file), max_steps=16, output_dir=str(tmp_path), **TINY)
    straight = seqgen.train("language-model", name="straight", **options)
    calls = {"n": 0}

    def stop_at_step_5():
        calls["n"] += 1
        return calls["n"] == 5

    stopped = seqgen.train("language-model", name="resumed", should_stop=stop_at_step_5, **options)
    assert stopped.stop_reason == "interrupted" and stopped.step == 5
    resumed = seqgen.train("language-model", resume=str(stopped.run_dir), progress=False, should_stop=lambda: False)
    a = torch.load(straight.latest_path, weights_only=True)["model_state"]
    b = torch.load(resumed.latest_path, weights_only=True)["model_state"]
    assert resumed.step == 16 and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(SeqgenError, match="cannot change when resuming"):
        seqgen.train("language-model", resume=str(stopped.run_dir), hidden_size=64)
    assert dataclasses.is_dataclass(seqgen.tasks.get_task("language-model").CONFIGS[0])


@pytest.mark.slow
def test_a_resumed_run_keeps_its_task_without_being_told(tmp_path):
    from conftest import run

    first = seqgen.train("translate", train_pairs=200, max_steps=2, eval_interval=2, hidden_size=8, embedding_dim=8,
                         batch_size=16, output_dir=str(tmp_path), name="dates", device="cpu", progress=False)
    result = run("train", "--resume", first.run_dir, "--max-steps", 3, "--sample-length", 0, "--quiet")
    assert result.exit_code == 0, result.output
    assert torch.load(first.latest_path, weights_only=True)["step"] == 3
    resumed = seqgen.train(resume=str(first.run_dir), max_steps=4, progress=False)
    assert resumed.step == 4 and seqgen.load(resumed.latest_path).task == "translate"
    with pytest.raises(SeqgenError, match="is a translate checkpoint, not a language-model one; leave out --task"):
        seqgen.train("language-model", resume=str(first.run_dir), max_steps=5)


def test_every_flag_of_seqgen_train_is_a_keyword_of_seqgen_train():
    import inspect

    from seqgen.api import options_of_task
    from seqgen.cli.train import train_command
    from seqgen.tasks import TASKS

    keywords = set(inspect.signature(seqgen.api.train).parameters)
    for task in TASKS:
        flags = {p.name for p in train_command.common + train_command.trailing} | options_of_task(task)
        assert flags <= keywords | options_of_task(task), flags - keywords - options_of_task(task)


@pytest.mark.slow
def test_the_train_flags_work_from_python(corpus_file, tmp_path):
    from pathlib import Path

    config = tmp_path / "run.toml"
    config.write_text('[train]\nmax_steps = 3\nbatch_size = 2\nquiet = true\n[model]\nhidden_size = 8\n')
    run = seqgen.train(config=config, corpus=Path(corpus_file), max_steps=2, embedding_dim=8, bptt=8, eval_interval=2,
                       eval_batch_size=2, device="cpu", output_dir=tmp_path, name="flags", sample_length=20)
    saved = torch.load(run.latest_path, weights_only=True)
    assert run.step == 2 and saved["train_config"]["batch_size"] == 2  # the keyword wins over the file
    assert saved["model_config"]["hidden_size"] == 8 and saved["train_config"]["corpus"] == str(corpus_file)
    assert isinstance(run.sample, str) and len(run.sample) == 20  # what `seqgen train --sample-length 20` prints
    assert seqgen.train(resume=Path(run.run_dir), max_steps=3, quiet=True).sample is None  # none unless asked


@pytest.mark.slow
def test_a_translation_run_shows_its_test_examples_when_asked(tmp_path):
    run = seqgen.train("translate", train_pairs=200, max_steps=2, eval_interval=2, hidden_size=8, embedding_dim=8,
                       batch_size=16, output_dir=tmp_path, name="dates", device="cpu", progress=False, sample_length=3)
    assert len(run.sample) == 3 and all(set(e) == {"source", "output", "expected"} for e in run.sample)


def test_paths_may_be_pathlib_paths_everywhere(corpus_file, tmp_path):
    run = seqgen.train(corpus=corpus_file, output_dir=tmp_path, name="p", max_steps=2, **TINY)
    model = seqgen.load(run.run_dir)
    assert model.evaluate(text=corpus_file)["tokens"] > 0
    assert model.write(output=tmp_path / "out" / "s.txt", length=5, seed=1) == [tmp_path / "out" / "s.txt"]
    assert model.inspect("the fox", save=tmp_path / "g.npz").steps == 7 and (tmp_path / "g.npz").exists()


def test_a_classifier_classifies_arrays_as_well_as_files(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    rows = [f"{1 + i % 2} " + " ".join(f"{(i % 2) * 2.0 + 0.1 * t + 0.05 * rng.standard_normal():.3f}" for t in range(12))
            for i in range(16)]
    (tmp_path / "beats.txt").write_text("\n".join(rows) + "\n")
    run = seqgen.train("classify", corpus=tmp_path / "beats.txt", epochs=2, ensemble=1, hidden_size=8, conv_channels=4,
                       output_dir=tmp_path, name="c", progress=False)
    classifier = seqgen.load(run.best_path)
    values = np.array([[float(v) for v in row.split()[1:]] for row in rows[:3]])  # (examples, steps)
    from_file = classifier.classify(tmp_path / "beats.txt")[:3]
    for data in (values, values[:, :, None], values.tolist(), [values[0], values[1, :7], values[2]]):
        rows_out = classifier.classify(data)
        assert [r["row"] for r in rows_out] == [1, 2, 3] and all(r["label"] == "" for r in rows_out)
    for given, read in zip(classifier.classify(values), from_file):
        assert given["probabilities"] == pytest.approx(read["probabilities"], rel=1e-5)
