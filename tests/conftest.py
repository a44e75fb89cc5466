import os
import random
import tempfile

import pytest
import torch
from click.testing import CliRunner

from seqgen.models import ModelConfig
from seqgen.tasks.language_model import TrainConfig

# Tiny models gain nothing from more threads, and on a busy machine extra threads only wait on each other; the
# thread policy honours OMP_NUM_THREADS, so the commands run in-process keep to one thread too.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Token files and other cache entries of the tests go to a folder of their own, not the user's cache.
os.environ.setdefault("SEQGEN_CACHE", tempfile.mkdtemp(prefix="seqgen-test-cache-"))

WORDS = ("the quick brown fox jumps over a lazy dog while my sister reads her letter to "
         "our friend at the manor and nobody can say what she will do next").split()


def make_text(n_words: int = 3000, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines, line = [], []
    for _ in range(n_words):
        line.append(rng.choice(WORDS))
        if len(line) == 12:
            lines.append(" ".join(line).capitalize() + ".")
            line = []
    return "\n".join(lines) + "\n"


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


@pytest.fixture
def tiny_model():
    return ModelConfig(embedding_dim=16, hidden_size=32, num_layers=2, dropout=0.1)


@pytest.fixture
def tiny_train(corpus_file, tmp_path):
    """A training config that runs in about a second on the CPU."""
    return TrainConfig(corpus=str(corpus_file), batch_size=4, bptt=16, max_steps=20, eval_interval=10,
                       log_interval=1, warmup_steps=2, output_dir=str(tmp_path / "runs"), name="run",
                       device="cpu", eval_batch_size=4)


def run(*args, input=None):
    """Invoke the `seqgen` command line in-process, arguments as strings."""
    from seqgen.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def one_line_error(result):
    """The promise for bad input: a non-zero exit, no traceback, one line starting 'Error: '."""
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]
