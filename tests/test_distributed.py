"""Data-parallel training launched the way users launch it (torchrun, standalone, gloo on the CPU): two
processes give the losses and weights of one process with the same global batch, a run resumes under the
same or another number of processes, and a rank that dies ends the run with one line."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import make_text

import seqgen

TORCHRUN = Path(sys.executable).parent / "torchrun"
# seqgen's own source files, however the checkout is named (a checkout named `seqgen`, with its venv inside, has
# `seqgen/` in the path of torchrun's own files too)
PACKAGE = {str(Path(seqgen.__file__).parent) + os.sep, str(Path(seqgen.__file__).resolve().parent) + os.sep}
MODEL = {"embedding_dim": 16, "hidden_size": 32, "num_layers": 2, "dropout": 0.0}  # no dropout: its masks differ by rank
RUN = {"batch_size": 4, "bptt": 16, "eval_interval": 6, "log_interval": 1, "warmup_steps": 2, "device": "cpu"}

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside this Python")]


def flags(options: dict) -> list[str]:
    return [part for name, value in options.items() for part in (f"--{name.replace('_', '-')}", str(value))]


def torchrun(folder: Path, *args, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "seqgen", *map(str, args)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)


def seqgen_frames(stderr: str) -> list[str]:
    """The lines of a traceback in `stderr` that point into seqgen's own files."""
    return [line for line in stderr.splitlines()
            if line.strip().startswith('File "') and any(folder in line for folder in PACKAGE)]


def losses(run_dir: Path) -> list[float]:
    history = json.loads((run_dir / "run.json").read_text())["history"]
    return [row["train_loss"] for row in history if "train_loss" in row]


def weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)["model_state"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    (folder / "c.txt").write_text(make_text(4000), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def one_process(corpus):
    """The reference: 6 steps in one process, global batch 4, then resumed to 12 (the schedule of a run
    follows its budget, so a run extended on resume is compared with one extended the same way)."""
    first = seqgen.train("language-model", corpus=str(corpus / "c.txt"), max_steps=6, output_dir=str(corpus / "runs"),
                         name="one", progress=False, **MODEL, **RUN)
    return seqgen.train("language-model", resume=str(first.latest_path), max_steps=12, progress=False)


def test_two_processes_train_as_one_and_resume_under_any_world_size(corpus, one_process):
    common = ["train", "--corpus", corpus / "c.txt", "--output-dir", "runs", "--sample-length", "0", "--quiet",
              *flags(MODEL), *flags(RUN)]
    first = torchrun(corpus, *common, "--max-steps", "6", "--name", "two")
    assert first.returncode == 0, first.stderr[-2000:]
    two = corpus / "runs" / "two"
    summary = json.loads((two / "run.json").read_text())
    assert (summary["world_size"], summary["backend"]) == (2, "gloo")
    assert first.stdout.count("Best validation loss") + first.stderr.count("Best validation loss") == 1  # rank 0 reports

    shutil.copytree(two, corpus / "runs" / "two-again")

    # another world size: one process takes all four streams and their carried state over, exactly
    solo = seqgen.train("language-model", resume=str(two / "latest.pt"), max_steps=12, progress=False)
    assert solo.step == 12
    assert_same_weights(weights(solo.latest_path), weights(one_process.latest_path))

    # the same world size
    resumed = torchrun(corpus, "train", "--resume", "runs/two-again/latest.pt", "--max-steps", "12", "--sample-length",
                       "0", "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run_dir = corpus / "runs" / "two-again"
    reference = losses(one_process.run_dir)
    assert len(losses(run_dir)) == len(reference) == 12
    torch.testing.assert_close(torch.tensor(losses(run_dir)), torch.tensor(reference), rtol=1e-4, atol=1e-5)
    assert_same_weights(weights(run_dir / "latest.pt"), weights(one_process.latest_path))


def test_translation_trains_as_one_process(corpus):
    options = {"batch_size": 5, "max_steps": 4, "eval_interval": 4, "log_interval": 1, "dropout": 0.0, "embedding_dim": 16,
                   "hidden_size": 16, "num_layers": 1, "device": "cpu"}  # 5 rows: the ranks hold 3 and 2
    one = seqgen.train("translate", output_dir=str(corpus / "t"), name="one", progress=False, **options)
    two = torchrun(corpus, "train", "--task", "translate", "--output-dir", "t", "--name", "two", "--sample-length", "0",
                   "--quiet", *flags(options))
    assert two.returncode == 0, two.stderr[-2000:]
    torch.testing.assert_close(torch.tensor(losses(corpus / "t" / "two")), torch.tensor(losses(one.run_dir)),
                               rtol=1e-4, atol=1e-5)
    assert_same_weights(weights(corpus / "t" / "two" / "latest.pt"), weights(one.latest_path))


def test_a_global_batch_the_processes_cannot_share_is_one_line(corpus):
    result = torchrun(corpus, "train", "--corpus", "c.txt", "--batch-size", "3", "--max-steps", "1", "--output-dir",
                      "bad", "--quiet")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr  # every rank meets it; rank 0 alone prints it
    assert "--batch-size 3" in lines[0] and "divisible by the 2 processes" in lines[0]
    assert not seqgen_frames(result.stderr)


def signal_rank_one(folder: Path, name: str, signum: int) -> tuple[subprocess.Popen, str]:
    """Start a long two-process run, wait until it has saved once, send `signum` to rank 1 only, and wait
    for the whole job to end; (job, its stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "seqgen", "train", "--corpus", "c.txt",
               "--max-steps", "1000000", "--output-dir", "signals", "--name", name, "--quiet", *flags(MODEL), *flags(RUN)]
    job = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not (folder / "signals" / name / "latest.pt").exists():  # the run is under way
            assert job.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.2)
        rank_one = [pid for pid in _descendants(job.pid) if "RANK=1" in _environ(pid)]
        assert rank_one
        os.kill(rank_one[0], signum)
        _, err = job.communicate(timeout=120)  # ends, does not hang
    finally:
        if job.poll() is None:
            job.kill()
    return job, err


def test_sigterm_on_one_rank_saves_once_and_stops_every_rank(corpus):
    job, err = signal_rank_one(corpus, "term", signal.SIGTERM)
    assert err.count("Interrupted; continue with: seqgen train --resume") == 1  # rank 0 reports, once
    saved = torch.load(corpus / "signals" / "term" / "latest.pt", weights_only=True)
    assert saved["step"] > RUN["eval_interval"] and saved["step"] % RUN["eval_interval"]  # saved at the stop itself
    assert not [line for line in err.splitlines() if line.startswith("Error: ")]  # a clean stop, no failure of ours


def test_a_rank_that_dies_ends_the_run_with_one_line(corpus):
    job, err = signal_rank_one(corpus, "kill", signal.SIGKILL)
    assert job.returncode != 0
    ours = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(ours) == 1 and "another process of this run stopped" in ours[0]
    assert "`--resume signals/kill/latest.pt` continues it" in ours[0]  # this run's own last save
    assert not seqgen_frames(err)
    torch.load(corpus / "signals" / "kill" / "latest.pt", weights_only=True)  # the last good checkpoint is intact


def _descendants(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                children += [int(entry.name), *_descendants(int(entry.name))]
    return children


def _environ(pid: int) -> set:
    try:
        return set((Path("/proc") / str(pid) / "environ").read_bytes().decode(errors="replace").split("\0"))
    except OSError:
        return set()


def test_the_traceback_check_looks_at_seqgens_own_files_only():
    package = sorted(PACKAGE)[0]
    torchrun_frame = '  File "/home/me/seqgen/.venv/lib/python3.11/site-packages/torch/distributed/run.py", line 9'
    assert seqgen_frames(torchrun_frame) == []
    assert seqgen_frames(f'  File "{package}training.py", line 1') != []


def test_under_torchrun_an_error_every_rank_meets_is_printed_by_rank_zero_alone(monkeypatch):
    from click.testing import CliRunner

    import seqgen.distributed
    from seqgen.cli import cli

    monkeypatch.setattr(seqgen.distributed, "QUIET_RANK_WAIT", 0)  # no rank 0 to wait for here

    def error_lines(rank: str) -> tuple[int, list[str]]:
        env = {"WORLD_SIZE": "2", "RANK": rank, "LOCAL_RANK": rank}
        result = CliRunner().invoke(cli, ["train", "--batch-size", "0", "--quiet"], env=env)
        return result.exit_code, [line for line in result.output.splitlines() if line.strip()]

    assert error_lines("0") == (1, ["Error: --batch-size must be >= 1, not 0"])
    assert error_lines("1") == (1, [])  # the same line would follow from every other rank


def test_under_torchrun_an_error_of_one_rank_alone_is_printed_by_that_rank(monkeypatch):
    from seqgen.distributed import OwnError, World, reports
    from seqgen.errors import SeqgenError

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(OwnError) as caught:
        with World(rank=1, size=2).alone():  # rank 0 did this without error
            raise SeqgenError("no such file or folder: c.txt")
    assert str(caught.value) == "rank 1 of 2: no such file or folder: c.txt"
    assert reports(caught.value) and not reports(SeqgenError("the same on every rank"))


def test_a_peer_lost_before_the_first_save_names_no_checkpoint_to_resume():
    from seqgen.distributed import PeerLost, World

    with pytest.raises(PeerLost) as caught:
        with World(rank=0, size=2).collective("agreeing on the step"):
            raise RuntimeError("[../gloo/transport.cc:1] Connection closed by peer. more")
    assert str(caught.value).endswith("(Connection closed by peer); the run stops here")
    assert "--resume" not in str(caught.value) and "latest.pt" not in str(caught.value)
