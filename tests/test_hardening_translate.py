"""Translation inputs that used to hang, run for minutes or print made-up output: over-long lines in the
pairs file or at translation time, empty texts, binary stdin, NUL characters, impossible option values."""

import os
import time

import pytest
from conftest import one_line_error, run

from seqgen.data.pairs import dates_splits, read_pairs
from seqgen.errors import SeqgenError
from seqgen.tasks.translate import Translator

WORDS = [("cat", "gato"), ("dog", "cão"), ("house", "casa"), ("water", "água"), ("blue", "azul"), ("milk", "leite")]
TINY = ["--embedding-dim", 8, "--hidden-size", 16, "--batch-size", 8, "--dropout", 0, "--warmup-steps", 1,
        "--device", "cpu", "--quiet", "--sample-length", 0, "--val-fraction", 0, "--test-fraction", 0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained on a pairs file holding one 10,000-character line: it must take seconds."""
    root = tmp_path_factory.mktemp("hardening-translate")
    pairs = root / "long.tsv"
    long_line = "the quick brown fox " * 500  # 10,000 characters
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in WORDS) + f"{long_line}\traposa\n"
                     + f"gato\t{long_line}\n", encoding="utf-8")
    start = time.perf_counter()
    result = run("train", "--task", "translate", "--corpus", pairs, *TINY, "--max-steps", 3, "--eval-interval", 3,
                 "--output-dir", root, "--name", "long")
    seconds = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    return root / "long", result, seconds


def test_a_10000_character_line_is_left_out_of_training_and_reported(trained):
    _, result, seconds = trained
    assert seconds < 30, seconds  # was minutes and 1.7 GB
    lines = [line for line in result.stderr.splitlines() if "long.tsv:" in line]
    assert len(lines) == 1 and "left out 2 pair(s) longer than --max-length 200 tokens (2 training, 0 validation)" in lines[0]


def test_skipped_and_dropped_lines_share_one_line(tmp_path):
    pairs = tmp_path / "mixed.tsv"
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in WORDS) + "no tab here\n" + "x" * 50 + "\ty\n", encoding="utf-8")
    result = run("train", "--task", "translate", "--corpus", pairs, *TINY, "--max-steps", 1, "--max-length", 20,
                 "--output-dir", tmp_path)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "mixed.tsv:" in line]
    assert len(lines) == 1, result.stderr
    assert "skipped 1 line(s): line 7" in lines[0] and "left out 1 pair(s) longer than --max-length 20 tokens" in lines[0]


def test_every_pair_over_the_cap_is_one_line(tmp_path):
    pairs = tmp_path / "all-long.tsv"
    pairs.write_text("".join(f"{s * 10}\t{t}\n" for s, t in WORDS), encoding="utf-8")
    message = one_line_error(run("train", "--task", "translate", "--corpus", pairs, *TINY, "--max-steps", 1,
                                 "--max-length", 5, "--output-dir", tmp_path))
    assert "--max-length 5" in message and "raise --max-length" in message
    assert "2000" in one_line_error(run("train", "--task", "translate", "--corpus", pairs, "--max-length", 10**6))


def test_translating_a_huge_text_is_cut_to_the_cap_and_noted(trained):
    run_dir, _, _ = trained
    translator = Translator.load(run_dir, "cpu")
    assert translator.max_length == 200
    start = time.perf_counter()
    out = translator.translate(["dog " * 250_000], beam_size=3)  # a million characters
    assert time.perf_counter() - start < 20 and len(out) == 1
    result = run("translate", run_dir, "cat " * 5000, "--beam-size", 1)
    assert result.exit_code == 0, result.output
    assert "translating its first 200" in result.stderr and len(result.stdout.splitlines()) == 1


def test_empty_and_blank_texts_are_refused(trained):
    run_dir, _, _ = trained
    assert "empty" in one_line_error(run("translate", run_dir, ""))
    assert "empty" in one_line_error(run("translate", run_dir, "   "))


def test_binary_stdin_is_refused_in_one_line(trained):
    run_dir, _, _ = trained
    start = time.perf_counter()
    message = one_line_error(run("translate", run_dir, "-", input=os.urandom(1 << 16)))
    assert time.perf_counter() - start < 10
    assert "stdin" in message and ("UTF-8" in message or "NUL" in message)
    assert "NUL" in one_line_error(run("translate", run_dir, "-", input=b"\x00\x01\x02dog\n"))
    later = run("translate", run_dir, "-", input=b"cat\n\x00dog\n")  # the good first line is translated, then refused
    assert later.exit_code != 0 and later.output.splitlines()[-1].startswith("Error: line 2 of stdin holds a NUL")
    assert "not valid UTF-8" in one_line_error(run("translate", run_dir, "-", input=b"\xff\xfe cat\n"))
    result = run("translate", run_dir, "-", input="cat\n\ndog\n".encode())  # text still works, blank lines kept
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3


def test_an_impossible_max_len_is_refused(trained):
    run_dir, _, _ = trained
    assert "--max-len" in one_line_error(run("translate", run_dir, "cat", "--max-len", 10**9))


def test_a_nul_after_the_first_8_kb_of_a_pairs_file_is_refused(tmp_path):
    path = tmp_path / "nul.tsv"
    path.write_bytes(b"one\tum\n" * 2000 + b"two\td\x00ois\n")
    with pytest.raises(SeqgenError, match="NUL|binary"):
        read_pairs(path)


def test_more_dates_pairs_than_can_be_generated_are_refused():
    with pytest.raises(SeqgenError, match="at most 1,000,000"):
        dates_splits(10**8, 0)


def test_impossible_beam_sizes_and_length_penalties_are_refused(trained):
    run_dir, _, _ = trained
    assert "--beam-size" in one_line_error(run("translate", run_dir, "cat", "--beam-size", 10**6))
    for value in ("nan", "inf", "1e9"):
        assert "--length-penalty" in one_line_error(run("translate", run_dir, "cat", "--length-penalty", value))
