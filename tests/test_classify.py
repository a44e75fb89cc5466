import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import one_line_error, run

import seqgen
from seqgen.checkpoint import load_checkpoint
from seqgen.data.series import read_labeled_sequences
from seqgen.errors import SeqgenError
from seqgen.models.classify import LSTMClassifier
from seqgen.tasks.classify.classify import predict_proba
from seqgen.tasks.classify.data import pad
from seqgen.tasks.classify.evaluate import classification_report

PNG = b"\x89PNG\r\n\x1a\n"
FAST = ["--epochs", 12, "--ensemble", 2, "--hidden-size", 16, "--conv-channels", 8, "--batch-size", 8, "--device", "cpu", "--quiet"]


def two_classes(n, seed, sep=" "):
    """Rising ramps (label 1) and falling ramps (label -1) of varying lengths, with noise: UCR lines."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = 1 if i % 2 else -1
        length = int(rng.integers(20, 40))
        values = label * np.linspace(-1, 1, length) + 0.1 * rng.standard_normal(length)
        lines.append(sep.join([f"{float(label):.7e}"] + [f"{v:.5f}" for v in values]))
    return "\n".join(lines) + "\n"


@pytest.fixture
def files(tmp_path):
    train, test = tmp_path / "TRAIN.txt", tmp_path / "TEST.tsv"
    train.write_text(two_classes(40, 0))
    test.write_text(two_classes(20, 1, sep=","))
    return train, test


@pytest.mark.slow
def test_two_separable_classes_reach_100_percent_and_round_trip_through_the_cli(files, tmp_path):
    train, test = files
    result = run("train", "--task", "classify", "--corpus", train, "--test", test, "--output-dir", tmp_path, "--name", "c", *FAST)
    assert result.exit_code == 0, result.output
    assert "20 examples: accuracy 1.0000   macro-F1 1.0000" in result.stdout
    run_dir = tmp_path / "c"
    assert {p.name for p in run_dir.iterdir()} >= {"best.pt", "latest.pt", "run.json", "loss.png", "confusion.png"}
    assert (run_dir / "confusion.png").read_bytes()[:8] == PNG
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["classes"] == ["-1", "1"] and saved["val_examples"] == 8  # 20 % of each class

    result = run("classify", run_dir / "best.pt", test, "--output", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert len(rows) == 20 and all(r["predicted"] == r["label"] for r in rows)
    assert all(abs(float(r["p_-1"]) + float(r["p_1"]) - 1) < 1e-3 for r in rows)
    unlabeled = tmp_path / "new.txt"
    unlabeled.write_text("\n".join(" ".join(f"{v:.3f}" for v in sign * np.linspace(-1, 1, 30)) for sign in (1, -1, 1)))
    result = run("classify", run_dir, unlabeled, "--no-labels")
    assert result.exit_code == 0, result.output
    assert [line.split(",")[2] for line in result.stdout.splitlines()[1:]] == ["1", "-1", "1"]

    result = run("evaluate", run_dir, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["accuracy"] == 1.0 and report["confusion"] == [[10, 0], [0, 10]]


def test_padding_does_not_change_a_sequence_prediction():
    torch.manual_seed(0)
    model = LSTMClassifier(num_classes=3, hidden_size=8, conv_channels=4).eval()
    scaling = {"mean": 0.0, "std": 1.0}
    short, long = np.sin(np.arange(10, dtype=np.float32)), np.cos(np.arange(30, dtype=np.float32))
    alone = predict_proba([model], scaling, [short])
    together = predict_proba(model, scaling, [short, long])
    assert np.allclose(alone[0], together[0], atol=1e-6)
    values, lengths = pad([short, long], scaling)
    assert values.shape == (2, 30, 1) and lengths.tolist() == [10, 30] and float(values[0, 10:].abs().sum()) == 0


def test_a_multichannel_prediction_does_not_depend_on_its_batch_mates():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = LSTMClassifier(num_classes=4, hidden_size=8, conv_channels=4, input_size=3).eval()
    scaling = {"mean": [0.0, 1.0, -2.0], "std": [1.0, 2.0, 0.5]}
    sequences = [rng.standard_normal((length, 3)).astype(np.float32) for length in (7, 40, 19, 3)]
    alone = np.concatenate([predict_proba(model, scaling, [s]) for s in sequences])
    together = predict_proba(model, scaling, sequences)
    shuffled = predict_proba(model, scaling, sequences[::-1])[::-1]
    assert np.allclose(alone, together, atol=1e-6) and np.allclose(alone, shuffled, atol=1e-6)
    values, lengths = pad(sequences, scaling)
    assert values.shape == (4, 40, 3) and lengths.tolist() == [7, 40, 19, 3]
    assert np.allclose(values[0, :7, 1].numpy(), (sequences[0][:, 1] - 1.0) / 2.0)  # scaled per channel
    assert float(values[0, 7:].abs().sum()) == 0


def test_report_counts_precision_recall_and_confusion():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    report = classification_report(["a", "b", "b", "b"], probabilities, ["a", "b"])
    assert report["confusion"] == [[1, 0], [1, 2]] and report["accuracy"] == 0.75
    assert report["per_class"]["a"]["precision"] == 0.5 and report["per_class"]["b"]["recall"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_csv_with_a_label_column_and_shorter_rows(tmp_path):
    path = tmp_path / "beats.csv"
    path.write_text("t1,t2,t3,kind\n1,2,3,normal\n4,5,,odd\n")
    labels, sequences = read_labeled_sequences(path, "kind")
    assert labels == ["normal", "odd"] and [len(s) for s in sequences] == [3, 2]


def test_ucr_float_labels_become_integers(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("  -1.0000000e+00   0.5   0.25\n   1.0000000e+00   1.5   NaN\n")
    labels, sequences = read_labeled_sequences(path)
    assert labels == ["-1", "1"] and sequences[1].tolist() == [1.5]


def test_bad_inputs_give_one_line_errors(files, tmp_path):
    train, test = files
    unseen = tmp_path / "unseen.txt"
    unseen.write_text("3 0.1 0.2 0.3\n1 0.1 0.2 0.3\n")
    base = ["train", "--task", "classify", "--output-dir", tmp_path, "--quiet", "--epochs", 1]
    assert "label(s) '3' never seen in training" in one_line_error(run(*base, "--corpus", train, "--test", unseen))
    bad = tmp_path / "bad.txt"
    bad.write_text("1 0.1 0.2\n-1 0.3 oops 0.4\n")
    assert "line 2, value 2 is 'oops', which is not a number" in one_line_error(run(*base, "--corpus", bad))
    bad.write_text("1 0.1 NaN 0.2\n-1 0.3 0.4\n")
    assert "line 1, value 2 is a missing value" in one_line_error(run(*base, "--corpus", bad))
    bad.write_text("1 0.1 0.2\n1 0.3 0.4\n")
    assert "only one class" in one_line_error(run(*base, "--corpus", bad))
    bad.write_text("\n\n")
    assert "is empty" in one_line_error(run(*base, "--corpus", bad))
    assert "needs --corpus TRAIN_FILE" in one_line_error(run(*base))
    assert "--window" in one_line_error(run(*base, "--corpus", train, "--window", 5))
    assert "does not exist" in one_line_error(run("classify", tmp_path / "none.pt", test))


# Classify inputs that used to give absurd output: files laid out unlike the training file.


AIRLINE = str(Path(seqgen.__file__).parent / "data" / "airline.csv")  # the built-in copy: dates, then values
CLASSIFY = ["--epochs", 3, "--ensemble", 1, "--hidden-size", 8, "--conv-channels", 4, "--batch-size", 8, "--device", "cpu",
            "--quiet"]


def ucr(path, n=20, length=24, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = 1 if i % 2 else -1
        values = label * np.linspace(-1, 1, length) + 0.1 * rng.standard_normal(length)
        lines.append(" ".join([str(label)] + [f"{v:.4f}" for v in values]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening-classify")
    train = ucr(root / "TRAIN.txt")
    result = run("train", "--task", "classify", "--corpus", train, "--output-dir", root, "--name", "c", *CLASSIFY)
    assert result.exit_code == 0, result.output
    return root / "c", train


def test_the_airline_csv_is_refused_by_a_classifier_of_ucr_files(classifier):
    run_dir, _ = classifier
    message = one_line_error(run("classify", run_dir, AIRLINE))
    assert "airline.csv is a CSV file with a header ('month', 'passengers')" in message
    assert "trained on a UCR file" in message
    message = one_line_error(run("evaluate", run_dir, "--test", AIRLINE))
    assert "airline.csv is a CSV file" in message


def test_sequences_far_from_the_training_length_are_refused(classifier, tmp_path):
    run_dir, _ = classifier
    short = tmp_path / "short.txt"
    short.write_text("1 0.5\n-1 0.25\n")
    message = one_line_error(run("classify", run_dir, short))
    assert "short.txt has 1 value per row, the model was trained on sequences of 24 values (accepted: 12 to 48)" in message
    long = ucr(tmp_path / "long.txt", length=100)
    assert "has 100 values per row" in one_line_error(run("evaluate", run_dir, "--test", long))
    ok = ucr(tmp_path / "ok.txt", length=30, seed=1)
    assert run("classify", run_dir, ok).exit_code == 0
    values_only = tmp_path / "values.txt"
    values_only.write_text("0.1 0.2\n")
    assert "has 2 values per row" in one_line_error(run("classify", run_dir, values_only, "--no-labels"))


def test_the_training_layout_is_stored_and_old_checkpoints_still_classify(classifier, tmp_path):
    run_dir, train = classifier
    payload = load_checkpoint(run_dir / "best.pt", task="classify")
    assert payload["layout"] == {"format": "ucr", "columns": None, "label_column": 0, "min_length": 24, "max_length": 24,
                                 "cells_per_row": 25, "channels": 1}
    del payload["layout"]
    assert payload["model_config"].pop("input_size") == 1  # written before multichannel input: one channel
    old = tmp_path / "old.pt"
    torch.save({**payload, "version": 1}, old)
    short = tmp_path / "short.txt"
    short.write_text("1 0.5\n-1 0.25\n")
    result = run("classify", old, short)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3


@pytest.mark.slow
def test_a_csv_classifier_refuses_another_header(tmp_path):
    rows = "".join(f"{'up' if i % 2 else 'down'},{i % 3},{(i % 2) * 2 - 1},{(i % 2) * 4 - 2}\n" for i in range(16))
    train = tmp_path / "train.csv"
    train.write_text("kind,a,b,c\n" + rows)
    result = run("train", "--task", "classify", "--corpus", train, "--label-column", "kind", "--output-dir", tmp_path,
                 "--name", "c", *CLASSIFY)
    assert result.exit_code == 0, result.output
    other = tmp_path / "other.csv"
    other.write_text("kind,a,b,d\n" + rows)
    message = one_line_error(run("classify", tmp_path / "c", other))
    assert "other.csv lacks column(s) 'c'; has column(s) 'd' the training file had not" in message
    same = tmp_path / "same.csv"
    same.write_text("kind,a,b,c\n" + rows)
    assert run("classify", tmp_path / "c", same).exit_code == 0


def test_a_column_asked_of_a_file_without_header_is_named_truthfully(tmp_path):
    from seqgen.data.series import read_series_csv

    path = tmp_path / "plain.csv"
    path.write_text("1949-01,112\n1949-02,118\n")
    with pytest.raises(SeqgenError, match="has no header row .* so no column named 'sales'"):
        read_series_csv(path, "sales")
