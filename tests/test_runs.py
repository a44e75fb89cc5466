"""The run folder: a name that holds a run is never silently overwritten, --overwrite replaces a run only once the
new one has saved, resuming a finished run rewrites nothing, `last` names a run that has a checkpoint, and a
checkpoint that cannot be written is one line in the system's words with the previous one intact."""

import dataclasses
import errno
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error, run

import seqgen
from seqgen.checkpoint import load_checkpoint, resolve_checkpoint
from seqgen.errors import SeqgenError
from seqgen.models import LSTMLanguageModel
from seqgen.tasks.language_model.train import train

AIRLINE = Path(seqgen.__file__).parent / "data" / "airline.csv"
SMALL = {"forecast": {"corpus": str(AIRLINE), "epochs": 2, "ensemble": 1, "hidden_size": 8, "device": "cpu"},
         "classify": {"epochs": 2, "ensemble": 2, "hidden_size": 8, "conv_channels": 4, "batch_size": 8,
                      "device": "cpu"}}


def files_of(folder: Path) -> dict:
    """Every file of a folder with its bytes' hash and modification time: what 'unchanged' means."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".lock"}


def ucr(path: Path, n: int = 16, length: int = 12) -> Path:
    rng = np.random.default_rng(0)
    rows = [" ".join([str(1 + i % 2)] + [f"{v:.3f}" for v in (1 if i % 2 else -1) * np.linspace(-1, 1, length)
                                        + 0.3 * rng.standard_normal(length)]) for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def finished(tiny_model, tiny_train):
    """A finished 20-step language-model run in runs/run."""
    return train(tiny_model, tiny_train, progress=False)


def poison_after(monkeypatch, steps: int) -> None:
    """Training losses turn NaN after `steps` forward passes in training mode: the run diverges."""
    forward, calls = LSTMLanguageModel.forward, {"n": 0}

    def poisoned(self, tokens, state=None):
        logits, state = forward(self, tokens, state)
        if self.training:
            calls["n"] += 1
            if calls["n"] > steps:
                logits = logits * float("nan")
        return logits, state

    monkeypatch.setattr(LSTMLanguageModel, "forward", poisoned)


# -- a name that holds a run ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("task", ["language-model", "translate", "forecast", "classify"])
def test_a_name_that_holds_a_run_is_refused_for_every_task_and_nothing_changes(finished, tiny_train, tmp_path, task):
    before = files_of(finished.run_dir)
    options = {"language-model": {"corpus": tiny_train.corpus, "max_steps": 3},
               "translate": {"max_steps": 1, "train_pairs": 100},
               "forecast": SMALL["forecast"],
               "classify": dict(SMALL["classify"], corpus=str(ucr(tmp_path / "train.ucr")))}[task]
    with pytest.raises(SeqgenError) as caught:
        seqgen.train(task, output_dir=tiny_train.output_dir, name="run", progress=False, **options)
    message = str(caught.value)
    assert "already holds a run" in message and "--resume" in message and "--overwrite" in message
    assert "\n" not in message
    assert files_of(finished.run_dir) == before


@pytest.mark.slow
def test_the_command_line_refuses_a_name_that_holds_a_run_in_one_line(finished, tiny_train):
    before = files_of(finished.run_dir)
    line = one_line_error(run("train", "--corpus", tiny_train.corpus, "--max-steps", 3, "--output-dir",
                              tiny_train.output_dir, "--name", "run", "--device", "cpu", "--quiet"))
    assert "already holds a run" in line and "--overwrite" in line
    assert files_of(finished.run_dir) == before


@pytest.mark.slow
def test_overwrite_replaces_a_run_only_once_the_new_run_has_saved(finished, tiny_model, tiny_train, monkeypatch):
    folder = finished.run_dir
    (folder / "sample.mid").write_bytes(b"MThd")  # a file the old run's owner made beside it
    before = files_of(folder)

    # the new run diverges before it saves anything: the old run is left as it was, and no file of it is
    # called this run's last good checkpoint
    with monkeypatch.context() as patch:
        poison_after(patch, 2)
        with pytest.raises(SeqgenError) as caught:
            train(tiny_model, dataclasses.replace(tiny_train, max_steps=8, overwrite=True), progress=False)
    assert "became nan" in str(caught.value)
    assert "last good checkpoint" not in str(caught.value) and "saved no checkpoint" in str(caught.value)
    assert files_of(folder) == before

    # the new run saves: from then on the folder holds the new run alone
    result = seqgen.train(corpus=tiny_train.corpus, max_steps=6, eval_interval=3, output_dir=tiny_train.output_dir,
                          name="run", overwrite=True, progress=False, hidden_size=32, embedding_dim=16, batch_size=4,
                          bptt=16, eval_batch_size=4, device="cpu")
    assert result.run_dir == folder
    assert sorted(files_of(folder)) == ["best.pt", "latest.pt", "loss.png", "run.json"]
    assert load_checkpoint(folder / "latest.pt")["step"] == 6
    assert load_checkpoint(folder / "best.pt")["step"] in (3, 6)
    assert '"step": 6' in (folder / "run.json").read_text()


@pytest.mark.slow
def test_overwrite_of_another_tasks_run_leaves_none_of_its_files(finished, tmp_path):
    result = seqgen.train("classify", corpus=str(ucr(tmp_path / "train.ucr")), output_dir=str(finished.run_dir.parent),
                          name="run", overwrite=True, progress=False, **SMALL["classify"])
    assert load_checkpoint(result.best_path)["task"] == "classify"
    assert load_checkpoint(result.latest_path)["task"] == "classify"
    assert sorted(files_of(result.run_dir)) == ["best.pt", "latest.pt", "loss.png", "run.json"]


def test_a_run_that_diverges_before_its_first_save_names_no_checkpoint(tiny_model, tiny_train, monkeypatch):
    poison_after(monkeypatch, 2)
    with pytest.raises(SeqgenError) as caught:
        train(tiny_model, tiny_train, progress=False)
    assert "saved no checkpoint" in str(caught.value) and "last good" not in str(caught.value)


@pytest.mark.slow
def test_overwrite_does_not_apply_to_a_resumed_run(finished):
    with pytest.raises(SeqgenError, match="--overwrite is for a new run"):
        seqgen.train(resume=str(finished.run_dir), overwrite=True, progress=False)


@pytest.mark.slow
def test_two_runs_without_a_name_in_the_same_second_get_folders_of_their_own(tiny_train, monkeypatch):
    import datetime

    import seqgen.runs

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(seqgen.runs.datetime, "datetime", Frozen)
    config = {"corpus": tiny_train.corpus, "max_steps": 2, "eval_interval": 2, "output_dir": tiny_train.output_dir,
              "hidden_size": 16, "embedding_dim": 8, "batch_size": 4, "bptt": 16, "eval_batch_size": 4, "device": "cpu"}
    first = seqgen.train(**config, progress=False)
    second = seqgen.train(**config, seed=7, progress=False)
    assert first.run_dir != second.run_dir and second.run_dir.name == first.run_dir.name + "-2"
    assert load_checkpoint(first.latest_path)["train_config"]["seed"] != load_checkpoint(second.latest_path)[
        "train_config"]["seed"]


# -- resuming a finished run ------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["forecast", "classify"])
def test_resuming_a_finished_ensemble_run_rewrites_nothing(task, tmp_path):
    options = dict(SMALL[task], corpus=str(ucr(tmp_path / "train.ucr"))) if task == "classify" else SMALL[task]
    result = seqgen.train(task, output_dir=str(tmp_path / "runs"), name="done", progress=False, **options)
    before = files_of(result.run_dir)
    with pytest.raises(SeqgenError) as caught:
        seqgen.train(task, resume=str(result.run_dir), progress=False)
    assert "finished" in str(caught.value) and "nothing to do" in str(caught.value)
    line = one_line_error(run("train", "--task", task, "--resume", result.latest_path, "--quiet"))
    assert "finished" in line
    assert files_of(result.run_dir) == before


@pytest.mark.slow
def test_resuming_a_finished_language_model_run_rewrites_nothing(finished):
    before = files_of(finished.run_dir)
    with pytest.raises(SeqgenError, match="is finished.*--max-steps"):
        seqgen.train(resume=str(finished.run_dir), progress=False)
    assert files_of(finished.run_dir) == before


# -- `last` -----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_last_keeps_naming_a_run_with_a_checkpoint_while_a_new_run_starts(finished, tiny_model, tiny_train):
    last = Path(tiny_train.output_dir) / "last"
    seen = []

    def look():  # polled after every step of the second run, before and after its first save
        seen.append((os.readlink(last), resolve_checkpoint(last).resolve()))
        seqgen.load(last)  # what `seqgen sample checkpoints/last` does
        return False

    second = train(tiny_model, dataclasses.replace(tiny_train, name="second", max_steps=4, eval_interval=2),
                   should_stop=look, progress=False)
    assert seen[0] == ("run", finished.best_path)  # the new run has no checkpoint yet
    assert seen[-1] == ("second", second.best_path)  # it has saved: `last` is its


@pytest.mark.slow
def test_last_pointing_at_a_folder_without_a_checkpoint_resolves_to_the_newest_run(finished, tmp_path):
    output = finished.run_dir.parent
    (output / "empty").mkdir()
    (output / "last").unlink()
    (output / "last").symlink_to("empty")
    assert resolve_checkpoint(output / "last") == finished.best_path
    assert resolve_checkpoint(output / "last", "latest.pt") == finished.latest_path
    (output / "last").unlink()
    (output / "last").symlink_to("gone")  # a run folder removed by hand
    assert resolve_checkpoint(output / "last") == finished.best_path


# -- names and folders the file system refuses ------------------------------------------------------------------

@pytest.mark.parametrize("task", ["language-model", "forecast", "classify", "translate"])
def test_a_name_too_long_for_the_file_system_is_one_line(task, tmp_path):
    corpus = {"language-model": ["--max-steps", 1], "translate": ["--max-steps", 1, "--train-pairs", 100],
              "forecast": ["--epochs", 1, "--ensemble", 1],
              "classify": ["--corpus", ucr(tmp_path / "t.ucr"), "--epochs", 1, "--ensemble", 1]}[task]
    line = one_line_error(run("train", "--task", task, *corpus, "--output-dir", tmp_path / "runs", "--name", "n" * 300,
                              "--device", "cpu", "--quiet"))
    assert "--name" in line and "shorter" in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_default_name_from_a_very_long_file_name_fits_the_file_system(tmp_path):
    data = ucr(tmp_path / ("c" * 250 + ".ucr"))
    result = seqgen.train("classify", corpus=str(data), output_dir=str(tmp_path / "runs"), progress=False,
                          **dict(SMALL["classify"], ensemble=1, epochs=1))
    assert result.best_path.exists() and len(result.run_dir.name.encode()) <= 255


def test_an_output_dir_too_long_for_the_file_system_is_one_line(tmp_path):
    deep = tmp_path / "/".join(["d" * 200] * 25)  # over PATH_MAX
    line = one_line_error(run("train", "--task", "forecast", "--epochs", 1, "--ensemble", 1, "--output-dir", deep,
                              "--name", "r", "--device", "cpu", "--quiet"))
    assert "too long" in line


# -- a full disk while a checkpoint is written ------------------------------------------------------------------

def test_a_full_disk_during_a_checkpoint_write_says_so_and_keeps_the_previous_one(tiny_model, tiny_train, monkeypatch):
    """torch turns the OSError of a failed write into a RuntimeError of its own ('unexpected pos …'); the line
    must carry the system's words, and the latest.pt written before must be intact."""
    import seqgen.checkpoint

    writes = {"checkpoints": 0}

    class FillsUp:
        """A file on a disk that fills up in the middle of the third checkpoint."""

        def __init__(self, f):
            self.f, self.calls = f, 0
            writes["checkpoints"] += 1

        def write(self, data):
            self.calls += 1
            if writes["checkpoints"] >= 3 and self.calls > 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(seqgen.checkpoint, "open", lambda path, mode: FillsUp(open(path, mode)), raising=False)
    with pytest.raises(SeqgenError) as caught:
        train(tiny_model, dataclasses.replace(tiny_train, max_steps=30, eval_interval=10), progress=False)
    message = str(caught.value)
    assert "No space left on device" in message and "unexpected pos" not in message and "\n" not in message
    assert "the last good latest.pt is intact" in message
    folder = Path(tiny_train.output_dir) / "run"
    assert load_checkpoint(folder / "latest.pt")["step"] == 10
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]


def test_a_name_in_bytes_that_are_not_utf8_still_gets_its_run_json(tiny_train):
    """On Linux a folder name may be any bytes; Python hands those that are not UTF-8 over as surrogates."""
    result = seqgen.train(corpus=tiny_train.corpus, max_steps=2, eval_interval=2, output_dir=tiny_train.output_dir,
                          name="caf\udce9", progress=False, hidden_size=16, embedding_dim=8, batch_size=4, bptt=16,
                          eval_batch_size=4, device="cpu")
    import json

    assert json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))["step"] == 2


@pytest.mark.slow
def test_a_resumed_run_takes_last_over_when_it_saves(finished, tiny_model, tiny_train):
    other = train(tiny_model, dataclasses.replace(tiny_train, name="other", max_steps=2, eval_interval=2),
                  progress=False)
    last = Path(tiny_train.output_dir) / "last"
    assert os.readlink(last) == "other"
    seqgen.train(resume=str(finished.run_dir), max_steps=22, progress=False)
    assert os.readlink(last) == "run" and other.best_path.exists()


@pytest.mark.parametrize("task", ["forecast", "classify"])
def test_a_full_disk_at_the_end_of_an_ensemble_run_says_what_is_intact(task, tmp_path, monkeypatch):
    import seqgen.runs

    real, calls = seqgen.runs.save_checkpoint, []

    def save(payload, path, kept=None):
        calls.append(Path(path).name)
        if Path(path).name == "best.pt":  # the first best.pt, after latest.pt was saved during the run
            raise SeqgenError(f"could not write checkpoint {path} (No space left on device); {kept}")
        return real(payload, path, kept)

    monkeypatch.setattr(seqgen.runs, "save_checkpoint", save)
    options = dict(SMALL[task], ensemble=2, corpus=str(ucr(tmp_path / "t.ucr"))) if task == "classify" else \
        dict(SMALL[task], ensemble=2)
    with pytest.raises(SeqgenError) as caught:
        seqgen.train(task, output_dir=str(tmp_path / "runs"), name="r", progress=False, **options)
    assert calls[0] == "latest.pt" and "this run's latest.pt is intact" in str(caught.value)


def test_a_folder_whose_lock_is_held_refuses_a_second_run_until_it_is_released(tiny_model, tiny_train):
    """The run lock is filelock's OS lock (flock on Unix, a locked byte on Windows): while another holder has the
    folder's .lock a run there is one line, and once it lets go the run may start (with --overwrite)."""
    import filelock

    folder = Path(tiny_train.output_dir) / "run"
    folder.mkdir(parents=True)
    holder = filelock.FileLock(str(folder / ".lock"))
    holder.acquire(timeout=0)
    try:
        with pytest.raises(SeqgenError, match="another seqgen run is writing to"):
            train(tiny_model, dataclasses.replace(tiny_train, max_steps=2, eval_interval=2), progress=False)
    finally:
        holder.release()
    result = train(tiny_model, dataclasses.replace(tiny_train, max_steps=2, eval_interval=2, overwrite=True),
                   progress=False)
    assert Path(result.best_path).is_file()
    assert filelock.FileLock(str(folder / ".lock")).acquire(timeout=0)  # the run let go of it when it ended
