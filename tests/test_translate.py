import datetime
import math
import os
import time

import pytest
import torch
from conftest import one_line_error, run

from seqgen.checkpoint import save_checkpoint
from seqgen.data.pairs import dates_splits, read_pairs, split_pairs
from seqgen.decode.search import beam_search, greedy_search
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import BOS, EOS, Seq2Seq, Seq2SeqConfig
from seqgen.tasks.translate import Translator
from seqgen.tasks.translate.data import make_batch

# A tiny "dictionary" the model must learn by heart; the targets share letters with the sources.
WORDS = [("cat", "gato"), ("dog", "cão"), ("house", "casa"), ("water", "água"), ("blue", "azul"), ("milk", "leite")]


def test_beam_search_finds_the_best_sequence_that_greedy_misses():
    # Made-up model over tokens {0: pad, 1: bos, 2: eos, 3: "a", 4: "b"}:
    # after BOS, "a" 0.6 / "b" 0.4; after "a", "b" 0.4 / eos 0.3 / "a" 0.3; after "b", eos 0.95.
    # Greedy takes "a" then "b": 0.6 × 0.4 × 0.95 = 0.228. The best sequence is "b" eos: 0.4 × 0.95 = 0.38.
    table = {BOS: {3: 0.6, 4: 0.4}, 3: {4: 0.4, EOS: 0.3, 3: 0.3}, 4: {EOS: 0.95, 3: 0.05}}

    def step(tokens, state):
        log_probs = torch.full((len(tokens), 5), -1e9)
        for row, token in enumerate(tokens.tolist()):
            for nxt, p in table.get(token, {EOS: 1.0}).items():
                log_probs[row, nxt] = math.log(p)
        return log_probs, state

    state = torch.zeros(2, 1)  # two identical inputs in one batch
    assert greedy_search(step, state, 2, BOS, EOS, max_len=10) == [[3, 4], [3, 4]]
    for length_penalty in (0.0, 1.0):
        assert beam_search(step, state, 2, BOS, EOS, max_len=10, beam_size=2, length_penalty=length_penalty) == [[4], [4]]
    assert beam_search(step, state, 2, BOS, EOS, max_len=10, beam_size=1) == [[3, 4], [3, 4]]  # a beam of 1 is greedy


def test_padding_gives_the_same_outputs_as_alone():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(20, 20, 8, 16, 2, 0.3)).eval()
    short, long = [5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]
    target = [4, 9, 6]
    alone = make_batch([short], [target], "cpu")
    padded = make_batch([short, long], [target, [7] * 6], "cpu")
    with torch.no_grad():
        logits_alone, attention_alone = model(*alone[:3])
        logits_padded, attention_padded = model(*padded[:3])
    steps, width = logits_alone.size(1), attention_alone.size(2)
    assert torch.allclose(logits_alone[0], logits_padded[0, :steps], atol=1e-5)
    assert torch.allclose(attention_alone[0], attention_padded[0, :steps, :width], atol=1e-6)
    assert float(attention_padded[0, :, width:].abs().sum()) == 0.0  # no weight on padding
    for search in (greedy_search, beam_search):
        one = search(model.step, model.start(*alone[:2]), 1, BOS, EOS, 12)
        both = search(model.step, model.start(*padded[:2]), 2, BOS, EOS, 12)
        assert one[0] == both[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("translate")
    pairs = root / "words.tsv"
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in WORDS), encoding="utf-8")
    result = run("train", "--task", "translate", "--corpus", pairs, "--val-fraction", 0, "--test-fraction", 0,
                 "--embedding-dim", 16, "--hidden-size", 48, "--batch-size", 6, "--lr", 0.02, "--dropout", 0,
                 "--max-steps", 150, "--eval-interval", 150, "--warmup-steps", 5, "--device", "cpu", "--quiet",
                 "--sample-length", 0, "--output-dir", root, "--name", "words")
    assert result.exit_code == 0, result.output
    return root / "words", pairs


@pytest.mark.slow
def test_a_tiny_pairs_file_is_learned_to_exact_match(tiny_run):
    run_dir, pairs = tiny_run
    assert {p.name for p in run_dir.iterdir()} >= {"best.pt", "latest.pt", "run.json", "loss.png"}
    sources = [s for s, _ in WORDS]
    for beam in (1, 4):
        result = run("translate", run_dir / "best.pt", *sources, "--beam-size", beam)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [t for _, t in WORDS]
    scored = run("evaluate", run_dir / "best.pt", "--pairs", pairs, "--beam-size", 3)
    assert scored.exit_code == 0, scored.output
    assert "greedy   exact match 100.00%" in scored.stdout and "beam3    exact match 100.00%" in scored.stdout
    assert "split of" in one_line_error(run("evaluate", run_dir, "--split", "test"))  # trained with --test-fraction 0


def test_translate_reads_stdin_line_by_line_and_plots_attention(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    result = run("translate", run_dir, "-", input="house\n\nmilk\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["casa", "", "leite"]
    png = tmp_path / "attention.png"
    result = run("translate", run_dir, "water", "--plot-attention", png)
    assert result.exit_code == 0 and result.stdout == "água\n"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    unseen = run("translate", run_dir, "cat€")
    assert unseen.exit_code == 0 and "never saw '€'" in unseen.stderr


def test_checkpoints_of_the_other_task_get_one_line_errors(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    assert "needs a language-model checkpoint" in one_line_error(run("sample", run_dir / "best.pt", "--length", 5))
    lm = save_checkpoint({"task": "language-model"}, tmp_path / "lm.pt")
    assert "needs a translate checkpoint" in one_line_error(run("translate", lm, "hello"))


@pytest.mark.slow
def test_malformed_tsv_lines_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("one\tum\n\ntwo without a tab\nthree\ttrês\n\t\n", encoding="utf-8")
    read = read_pairs(path)
    assert read.pairs == [("one", "um"), ("three", "três")]
    assert [n for n, _ in read.skipped] == [2, 3, 5]
    result = run("train", "--task", "translate", "--corpus", path, "--max-steps", 1, "--device", "cpu", "--quiet",
                 "--sample-length", 0, "--hidden-size", 8, "--embedding-dim", 4, "--output-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "skipped 3 line(s): line 2: blank; line 3: 1 column(s)" in result.stderr
    empty = tmp_path / "bad.tsv"
    empty.write_text("no tabs here\nnor here\n", encoding="utf-8")
    message = one_line_error(run("train", "--task", "translate", "--corpus", empty, "--output-dir", tmp_path))
    assert "line 1" in message and "line 2" in message


def test_tatoeba_files_use_their_sentence_columns_and_split_by_source(tmp_path):
    path = tmp_path / "tatoeba.txt"
    path.write_text("".join(f"eng\tpor\tI see {i}.\tEu vejo {i}.\n" for i in range(200)), encoding="utf-8")
    read = read_pairs(path)
    assert read.columns == (3, 4) and read.pairs[7] == ("I see 7.", "Eu vejo 7.")
    doubled = read.pairs + [(s, t + "!") for s, t in read.pairs]  # every source twice
    parts = split_pairs(doubled, 0.1, 0.2)
    assert split_pairs(doubled, 0.1, 0.2) == parts  # fixed, no seed involved
    sources = {name: {s for s, _ in part} for name, part in parts.items()}
    assert not sources["train"] & sources["test"] and not sources["train"] & sources["val"]
    assert 0.1 < len(parts["test"]) / len(doubled) < 0.3


@pytest.mark.slow
def test_dates_held_out_set_shares_no_source_with_training():
    splits = dates_splits(20_000, seed=3)
    train, val, test = ({s for s, _ in splits[name]} for name in ("train", "val", "test"))
    assert len(test) == 2000 and len(val) == 1000 and len(train) == 20_000
    assert not train & test and not val & test and not train & val
    assert dates_splits(100, seed=4)["test"] == splits["test"]  # the same test set for every run
    for source, target in splits["test"][:300]:
        date = datetime.date.fromisoformat(target)
        assert str(date.day) in source and 1950 <= date.year <= 2049
    assert any("de" in s for s, _ in splits["test"]) and any("th" in s for s, _ in splits["test"])


@pytest.mark.parametrize("output, problem", [
    ("2024-02-29", None), ("1950-01-01", None), ("2049-12-31", None), (" 2024-02-29 ", None),
    ("2024-02-30", "not a calendar date"), ("2023-02-29", "not a calendar date"), ("2024-13-01", "not a calendar date"),
    ("2097-09-08", "outside the dates task's years 1950-2049"), ("1949-12-31", "outside the dates task's years"),
    ("2024-2-3", "not a date in the form YYYY-MM-DD"), ("yesterday", "not a date"), ("", "not a date"),
    ("２０２４-０２-２９", "not a date"),  # digits of another script: not the task's answer, though Python reads them
])
def test_a_dates_output_that_is_not_a_calendar_date_of_the_task_is_named(output, problem):
    from seqgen.data.pairs import date_problem

    found = date_problem(output)
    assert (found is None) if problem is None else (found is not None and problem in found), found


@pytest.fixture(scope="module")
def dates_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dates")
    result = run("train", "--task", "translate", "--corpus", "dates", "--train-pairs", 200, "--max-steps", 2,
                 "--eval-interval", 2, "--embedding-dim", 8, "--hidden-size", 8, "--batch-size", 8, "--sample-length", 0,
                 "--device", "cpu", "--quiet", "--output-dir", root, "--name", "dates")
    assert result.exit_code == 0, result.output
    return root / "dates"


@pytest.mark.slow
def test_dates_translations_that_are_not_calendar_dates_are_marked(dates_run, tiny_run, tmp_path, monkeypatch):
    import seqgen
    from seqgen.tasks.translate.data import Vocab

    answers = {"Feb 30, 2024": "2024-02-30", "yesterday": "2097-09-08", "29 Feb 2024": "2024-02-29"}
    for text, answer in answers.items():
        monkeypatch.setattr(Vocab, "decode", lambda self, ids, answer=answer: answer)  # what the model wrote
        result = run("translate", dates_run, text)
        assert result.exit_code == 0, result.output
        expected = {"2024-02-30": "2024-02-30\t(not a calendar date)",
                    "2097-09-08": "2097-09-08\t(outside the dates task's years 1950-2049)",
                    "2024-02-29": "2024-02-29"}[answer]
        assert result.stdout == expected + "\n"
        translation = seqgen.load(dates_run, device="cpu").translate([text])[0]
        assert translation == answer and (translation.problem is None) == (answer == "2024-02-29")
        stdin = run("translate", dates_run, "-", input=text + "\n")
        assert stdin.stdout == expected + "\n"
        plotted = run("translate", dates_run, text, "--plot-attention", tmp_path / "a.png")
        assert plotted.stdout == expected + "\n"
        # a model of another corpus writes what it writes, unmarked
        other = run("translate", tiny_run[0], "cat")
        assert other.exit_code == 0 and other.stdout == answer + "\n"
        assert seqgen.load(tiny_run[0], device="cpu").translate("cat")[0].problem is None


# Translation inputs that used to hang, run for minutes or print made-up output: over-long lines in the
# pairs file or at translation time, empty texts, binary stdin, NUL characters, impossible option values.


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


@pytest.mark.slow
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
