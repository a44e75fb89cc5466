"""Every option of every task has one owner and reaches what it sets: the configs `seqgen train` and
`seqgen.train` build carry each value given, and the options that shape the data do what they say."""

import dataclasses

import pytest
from conftest import run

import seqgen
import seqgen.api
from seqgen.config import field_type, metadata, option_names
from seqgen.tasks import TASKS, get_task


def test_no_two_configs_of_a_task_share_a_field_name():
    for task in TASKS:
        seen = {}
        for cls in get_task(task).CONFIGS:
            for field in dataclasses.fields(cls):
                assert field.name not in seen, (f"--task {task}: {field.name} is a field of both "
                                                f"{seen[field.name].__name__} and {cls.__name__}")
                seen[field.name] = cls


def other_value(cls, name):
    """A valid value of option `name` of `cls` that is not its default."""
    meta, kind = metadata(cls, name), field_type(cls, name)
    current = next(f.default for f in dataclasses.fields(cls) if f.name == name)
    if kind is bool:
        return not current
    if "choices" in meta:
        return next(c for c in meta["choices"] if c != current)
    low, high = meta.get("min"), meta.get("max")
    if kind is str:
        return "x.txt" if current is None else current + "-x"
    if kind is int:
        value = (low if low is not None else 0) + 1 if current is None else current + 1
        return value if high is None or value <= high else current - 1
    value = ((low or 0.0) + 0.25 if current is None or current == 0.0 else current * 0.5)
    return value if high is None or value <= high else high


def options_and_values():
    for task in TASKS:
        for cls in get_task(task).CONFIGS:
            for name in option_names(cls):
                yield pytest.param(task, name, other_value(cls, name), id=f"{task}-{name}")


@pytest.mark.parametrize("task, name, value", list(options_and_values()))
def test_every_option_of_the_api_reaches_every_config_that_has_it(task, name, value):
    configs = seqgen.api.split_options(task, {name: value})
    holders = [c for c in configs if name in {f.name for f in dataclasses.fields(c)}]
    assert holders and all(getattr(c, name) == value for c in holders), (name, value, holders)


def test_every_path_option_takes_a_pathlib_path_and_holds_it_as_text(tmp_path):
    from pathlib import Path

    paths = [(task, cls, name) for task in TASKS for cls in get_task(task).CONFIGS for name in option_names(cls)
             if metadata(cls, name).get("path")]
    assert {name for _, _, name in paths} >= {"corpus", "output_dir", "test"}
    for task, cls, name in paths:
        built = seqgen.api.split_options(task, {name: Path(tmp_path / "x")})
        assert [getattr(c, name) for c in built if isinstance(c, cls)] == [str(tmp_path / "x")]


class Captured(Exception):
    pass


@pytest.mark.parametrize("task, name, value", list(options_and_values()))
def test_every_flag_of_seqgen_train_reaches_every_config_that_has_it(monkeypatch, task, name, value):
    seen = []

    def train(*configs, **_):
        seen.extend(configs)
        raise Captured

    monkeypatch.setattr(seqgen.api, "train_function", lambda _: train)
    if isinstance(value, bool):
        args = [f"--{'' if value else 'no-'}{name.replace('_', '-')}"]
    else:
        args = [f"--{name.replace('_', '-')}", value]
    result = run("train", "--task", task, *args)
    assert isinstance(result.exception, Captured), result.output
    holders = [c for c in seen if name in {f.name for f in dataclasses.fields(c)}]
    assert holders and all(getattr(c, name) == value for c in holders), (name, value, holders)


TINY = ["--max-steps", 2, "--eval-interval", 2, "--hidden-size", 8, "--embedding-dim", 8, "--num-layers", 1,
        "--batch-size", 2, "--bptt", 8, "--eval-batch-size", 2, "--sample-length", 0, "--device", "cpu", "--quiet"]


@pytest.mark.parametrize("kind, size", [("bpe", 320), ("bpe", 500), ("unigram", 340)])
def test_vocab_size_on_the_command_line_sizes_the_tokenizer_and_the_network(corpus_file, tmp_path, kind, size):
    # the corpus holds about 30 words: the default 2,000 pieces is more than it can give (at most 542)
    result = run("train", "--corpus", corpus_file, "--tokenizer", kind, "--vocab-size", size, *TINY,
                 "--output-dir", tmp_path, "--name", "run")
    assert result.exit_code == 0, result.output
    model = seqgen.load(tmp_path / "run")
    assert model.tokenizer.kind == kind and model.tokenizer.vocab_size == size
    assert model.model.embedding.num_embeddings == model.model.decoder.out_features == size
    assert model.train_config.vocab_size == size


@pytest.mark.slow
def test_vocab_size_in_the_python_api_sizes_the_tokenizer(corpus_file, tmp_path):
    run_ = seqgen.train(corpus=str(corpus_file), tokenizer="bpe", vocab_size=400, max_steps=2, eval_interval=2,
                        hidden_size=8, embedding_dim=8, num_layers=1, batch_size=2, bptt=8, eval_batch_size=2,
                        device="cpu", output_dir=str(tmp_path), name="run", progress=False)
    assert seqgen.load(run_.best_path).tokenizer.vocab_size == 400


@pytest.mark.slow
def test_a_checkpoint_that_names_the_network_size_vocab_size_still_loads(corpus_file, tmp_path):
    import torch

    result = run("train", "--corpus", corpus_file, *TINY, "--output-dir", tmp_path, "--name", "run")
    assert result.exit_code == 0, result.output
    payload = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    payload["model_config"]["vocab_size"] = payload["model_config"].pop("num_tokens")  # as format 1 wrote it
    payload["version"] = 1
    torch.save(payload, tmp_path / "old.pt")
    model = seqgen.load(tmp_path / "old.pt")
    assert model.model.embedding.num_embeddings == model.tokenizer.vocab_size
    assert model.generate(length=5, seed=1)
    payload = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)
    payload["model_config"]["vocab_size"] = payload["model_config"].pop("num_tokens")
    payload["version"] = 1
    torch.save(payload, tmp_path / "run" / "latest.pt")
    resumed = run("train", "--resume", tmp_path / "run", "--max-steps", 3, "--sample-length", 0, "--quiet")
    assert resumed.exit_code == 0, resumed.output
