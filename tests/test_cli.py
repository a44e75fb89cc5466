import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from conftest import one_line_error, run

TINY = ["--embedding-dim", "16", "--hidden-size", "32", "--batch-size", "4", "--bptt", "16", "--eval-interval", "10",
        "--eval-batch-size", "4", "--device", "cpu", "--quiet"]


@pytest.fixture
def trained(corpus_file, tmp_path):
    result = run("train", "--corpus", corpus_file, "--max-steps", 20, "--output-dir", tmp_path / "runs", "--name", "r",
                 "--sample-length", 30, *TINY)
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / "r"


@pytest.mark.slow
def test_train_sample_evaluate_round_trip(trained):
    assert {p.name for p in trained.iterdir()} >= {"best.pt", "latest.pt", "run.json", "loss.png"}
    first = run("sample", trained / "best.pt", "--prime", "The quick", "--length", 50, "--seed", 3)
    second = run("sample", trained / "best.pt", "--prime", "The quick", "--length", 50, "--seed", 3)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout  # same seed, same text
    assert first.stdout.startswith("The quick") and len(first.stdout.rstrip("\n")) == len("The quick") + 50
    batch = run("sample", trained, "--num-samples", 3, "--length", 20, "--seed", 1, "--temperature", 0)
    assert batch.exit_code == 0 and batch.stdout.count("\n") == 3
    assert len(set(batch.stdout.splitlines())) == 1  # greedy: every sample of the batch is the same
    evaluated = run("evaluate", trained / "best.pt", "--split", "test", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(evaluated.stdout)
    assert figures["bits_per_character"] == pytest.approx(figures["loss"] / 0.6931, rel=1e-2)
    assert 0 < figures["loss"] < 4


@pytest.mark.slow
def test_evaluate_on_a_given_text_file(trained, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("The lazy dog reads a letter.\n" * 20)
    result = run("evaluate", trained / "best.pt", "--text", other)
    assert result.exit_code == 0 and "bits/character" in result.stdout


def test_accented_prime_text_works_with_a_portuguese_model(tmp_path):
    corpus = tmp_path / "pt.txt"
    corpus.write_text("Não há coração que não sinta a canção do mar, ó irmã.\n" * 60, encoding="utf-8")
    assert run("train", "--corpus", corpus, "--max-steps", 5, "--output-dir", tmp_path, "--name", "pt",
               "--sample-length", 0, *TINY).exit_code == 0
    result = run("sample", tmp_path / "pt", "--prime", "coração", "--length", 10, "--seed", 0)
    assert result.exit_code == 0 and result.stdout.startswith("coração")


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (bytes(range(256)) * 8, "binary file"),
    ("Ça coûte très cher à l'été.\n".encode("latin-1") * 50, "--encoding latin-1"),
])
def test_bad_corpus_files_give_one_line_errors(tmp_path, content, expected):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    assert expected in one_line_error(run("train", "--corpus", bad, "--max-steps", 2, "--output-dir", tmp_path, *TINY))


@pytest.mark.slow
def test_bad_options_and_checkpoints_give_one_line_errors(trained, tmp_path):
    assert "'!'" in one_line_error(run("sample", trained, "--prime", "Zebra!"))
    assert "--temperature" in one_line_error(run("sample", trained, "--temperature", -1))
    assert "--bptt" in one_line_error(run("train", "--bptt", 0))
    assert "does not exist" in one_line_error(run("sample", tmp_path / "nope.pt"))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((trained / "best.pt").read_bytes()[:1000])
    assert "not a readable seqgen checkpoint" in one_line_error(run("sample", corrupt))
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    assert "not a seqgen checkpoint" in one_line_error(run("evaluate", foreign))
    assert "no corpus named" in one_line_error(run("train", "--corpus", "nowhere-at-all"))
    assert "another task" in one_line_error(run("train", "--season", 12))
    assert "cannot change when resuming" in one_line_error(run("train", "--resume", trained / "latest.pt", "--hidden-size", 64))


def test_config_file_sets_options_and_flags_override_it(corpus_file, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(f'[train]\ncorpus = "{corpus_file}"\nmax-steps = 4\nbatch_size = 4\nbptt = 16\n'
                      f'output_dir = "{tmp_path}"\nname = "from-toml"\n[model]\nhidden_size = 24\nembedding_dim = 8\n')
    result = run("--help")
    assert result.exit_code == 0
    result = run("train", "--config", config, "--hidden-size", 20, "--sample-length", 0, "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "from-toml" / "run.json").read_text())
    assert saved["train_config"]["max_steps"] == 4 and saved["train_config"]["bptt"] == 16
    assert saved["model_config"]["hidden_size"] == 20 and saved["model_config"]["embedding_dim"] == 8
    config.write_text("hiden_size = 3\n")
    assert "unknown option(s): hiden_size" in one_line_error(run("train", "--config", config))


def test_train_help_shows_every_option_with_its_default():
    text = run("train", "--help").output
    for flag in ["--hidden-size", "--num-layers", "--embedding-dim", "--tie-weights", "--bptt", "--batch-size", "--lr",
                 "--max-steps", "--epochs", "--patience", "--seed", "--device", "--resume", "--config", "--vocab-size"]:
        assert flag in text
    assert "[default: 256" in text and "[default: lady-susan]" in text


def test_corpora_lists_the_builtin_corpora():
    result = run("corpora")
    assert result.exit_code == 0 and "lady-susan" in result.stdout and "tinyshakespeare" in result.stdout
    assert "bach" in result.stdout and "oneills" in result.stdout and "144 points" in result.stdout
    assert re.search(r"^dates\s+pairs", result.stdout, re.M)  # translation's built-in task, made by seqgen


@pytest.mark.slow
def test_ctrl_c_saves_latest_and_exits_cleanly(corpus_file, tmp_path):
    command = [sys.executable, "-m", "seqgen", "train", "--corpus", str(corpus_file), "--max-steps", "100000",
               "--output-dir", str(tmp_path), "--name", "ctrlc", *TINY]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    latest = tmp_path / "ctrlc" / "latest.pt"
    deadline = time.time() + 180  # a busy machine takes a while to import torch
    while not latest.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "seqgen train --resume" in err
    from seqgen.checkpoint import load_checkpoint

    assert load_checkpoint(latest)["step"] >= 10


@pytest.mark.slow
def test_help_lists_every_command_s_options_without_importing_torch():
    import subprocess
    import sys

    script = ("import sys\nfrom click.testing import CliRunner\nfrom seqgen.cli import cli\n"
              "for args in (['--help'], ['train', '--task', 'translate', '--help'], ['evaluate', '--help'],\n"
              "             ['translate', '--help'], ['forecast', '--help'], ['sample', '--help'], ['inspect', '--help']):\n"
              "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
              "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_ctrl_c_while_a_tokenizer_is_trained_stops_at_once_and_never_trains(tmp_path):
    """sentencepiece trains in C++ for seconds (here about 8 s of unigram on 60,000 lines), where Python
    cannot run a signal's handler: Ctrl-C must still answer at once, and no run may start after it."""
    import random

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10))) for _ in range(20000)]
    corpus = tmp_path / "words.txt"
    corpus.write_text("".join(" ".join(rng.choice(words) for _ in range(10)) + "\n" for _ in range(60000)))
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "seqgen", "train", "--corpus", str(corpus), "--tokenizer", "unigram",
               "--max-steps", "3", "--output-dir", str(tmp_path / "runs"), *TINY]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "SEQGEN_CACHE": str(cache), "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 180
    while not list(cache.glob("tokens/sources-*.json")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)  # the corpus is surveyed: the tokenizer's training comes next
    time.sleep(1.5)
    assert process.poll() is None, process.communicate()
    lines = []  # (seconds after the signal, line) of stderr, read as they come

    def read():
        for line in process.stderr:
            lines.append((time.time() - sent, line.rstrip()))

    reader = threading.Thread(target=read)
    sent = time.time()
    process.send_signal(signal.SIGINT)
    reader.start()
    process.wait(timeout=120)
    reader.join()
    err = "\n".join(line for _, line in lines)
    assert process.returncode == 130, err
    answered = [at for at, line in lines if line == "Aborted."]
    assert answered and answered[0] < 2, lines  # the tokenizer's remaining seconds of training are not waited for
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # never went on into training


@pytest.mark.slow
def test_a_signal_before_the_loop_starts_stops_the_run_even_if_swallowed():
    from seqgen.training import StopRequest, arm

    request = StopRequest()
    with pytest.raises(KeyboardInterrupt):
        request.signal(signal.SIGINT, None)
    # some library on the way caught the KeyboardInterrupt and went on: the loop must still not start
    with pytest.raises(KeyboardInterrupt):
        arm(request)
    assert not request()  # and never became a request to save a checkpoint
