"""The UEA/UCR `.ts` archive format: univariate and multivariate, equal and unequal lengths, missing values,
every malformed file one line naming the file and line; and a multichannel, variable-length classifier
trained, used and scored from such files on the command line."""

import json

import numpy as np
import pytest
from conftest import one_line_error, run

from seqgen.data.series import read_labeled_file, read_labeled_sequences

HEADER = """# a comment line
@problemName Toy
@timeStamps false
@missing {missing}
@univariate {univariate}
{dimensions}@equalLength {equal}
@classLabel true up down
@data
"""


def ts_text(cases, equal=True, missing=False):
    """cases: (label, [channel values, …]) → the text of a .ts file."""
    channels = len(cases[0][1])
    dimensions = "" if channels == 1 else f"@dimensions {channels}\n"
    head = HEADER.format(missing=str(missing).lower(), univariate=str(channels == 1).lower(), dimensions=dimensions,
                         equal=str(equal).lower())
    lines = [":".join(",".join(str(v) for v in channel) for channel in chans) + f":{label}" for label, chans in cases]
    return head + "\n".join(lines) + "\n"


def write(tmp_path, text, name="toy.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_univariate_file_reads_as_the_ucr_reader_would(tmp_path):
    path = write(tmp_path, ts_text([("up", [[1, 2, 3]]), ("down", [[3, 2.5, 1]])]))
    labels, sequences, layout = read_labeled_file(path)
    assert labels == ["up", "down"]
    assert [s.tolist() for s in sequences] == [[1, 2, 3], [3, 2.5, 1]]
    assert layout["format"] == "ts" and layout["channels"] == 1 and layout["min_length"] == 3


def test_a_multivariate_unequal_length_file_keeps_channels_and_lengths(tmp_path):
    cases = [("up", [[1, 2, 3, 4], [10, 20, 30, 40]]), ("down", [[5, 6, "?", "?"], [50, 60, "?", "?"]]),
             ("up", [[7], [70]])]
    path = write(tmp_path, ts_text(cases, equal=False, missing=True))
    labels, sequences = read_labeled_sequences(path)
    assert labels == ["up", "down", "up"]
    assert [s.shape for s in sequences] == [(4, 2), (2, 2), (1, 2)]
    assert sequences[1].tolist() == [[5, 50], [6, 60]]  # trailing '?' ends the shorter sequence
    _, unlabeled = read_labeled_sequences(path, labeled=False)
    assert all(np.array_equal(a, b) for a, b in zip(unlabeled, sequences))


@pytest.mark.parametrize("body, expected", [
    (ts_text([("up", [[1, 2], [3, 4]])]).replace(":up", ":sideways"), "line 10: label 'sideways' is not one of"),
    (ts_text([("up", [[1, 2], [3, 4]])]).replace("1,2:3,4", "1,2"), "line 10 has 1 channel(s) before the label"),
    (ts_text([("up", [[1, "?", 2], [3, 4, 5]])], missing=True), "line 10, channel 1, value 2 is a missing value"),
    (ts_text([("up", [[1, "x"], [3, 4]])]), "line 10, channel 1, value 2 is 'x', which is not a number"),
    (ts_text([("up", [[1, 2], [3]])], equal=False), "line 10: channel 2 has 1 values, channel 1 2"),
    (ts_text([("up", [[1, 2]]), ("down", [[1, 2, 3]])]), "@equalLength true, but its cases have 2 to 3 steps"),
    (ts_text([("up", [[1, 2]])]).replace("@data\n", ""), "line 8: expected a @ tag, found '1,2:up'"),
    ("@problemName x\n@univariate true\n", "has no @data line"),
    (ts_text([("up", [[1, 2]])]).replace("@missing false", "@missing perhaps"), "line 4: @missing must be followed"),
    (ts_text([("up", [[1, 2]])]).replace("@timeStamps false", "@timeStamps true"), "line 3: files with @timeStamps"),
    (ts_text([("up", [[1, 2]])]).replace("@classLabel true up down", "@classLabel false"), "has no class labels"),
    (ts_text([("up", [[1, 2]])]) + "@data\n", "line 10: a @ tag after @data"),
    (HEADER.format(missing="false", univariate="true", dimensions="", equal="true"), "has no cases after @data"),
])
def test_a_malformed_file_is_one_line_naming_the_file_and_line(tmp_path, body, expected):
    path = write(tmp_path, body)
    with pytest.raises(Exception) as caught:
        read_labeled_sequences(path)
    message = str(caught.value)
    assert type(caught.value).__name__ == "SeqgenError" and "\n" not in message
    assert str(path) in message and expected in message, message


def motions(n, seed):
    """Three channels, unequal lengths: class 'up' rises on channel 2, 'down' falls; the others are noise."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        label = "up" if i % 2 else "down"
        length = int(rng.integers(12, 30))
        ramp = (1 if label == "up" else -1) * np.linspace(-1, 1, length)
        chans = [rng.standard_normal(length), 5 + 3 * ramp + 0.1 * rng.standard_normal(length),
                 100 * rng.standard_normal(length)]
        cases.append((label, [[f"{v:.4f}" for v in c] for c in chans]))
    return ts_text(cases, equal=False)


FAST = ["--epochs", 12, "--ensemble", 2, "--hidden-size", 8, "--conv-channels", 8, "--batch-size", 8, "--device", "cpu",
        "--quiet"]


@pytest.mark.slow
def test_a_multichannel_variable_length_classifier_trains_classifies_and_scores_ts_files(tmp_path):
    train, test = write(tmp_path, motions(40, 0), "TRAIN.ts"), write(tmp_path, motions(20, 1), "TEST.ts")
    result = run("train", "--task", "classify", "--corpus", train, "--test", test, "--output-dir", tmp_path,
                 "--name", "m", *FAST)
    assert result.exit_code == 0, result.output
    assert "accuracy 1.0000" in result.stdout
    result = run("classify", tmp_path / "m", test)
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.splitlines()[1:]]
    assert len(rows) == 20 and all(row[1] == row[2] for row in rows)
    result = run("evaluate", tmp_path / "m", "--test", test, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0

    import seqgen
    classifier = seqgen.load(tmp_path / "m")
    scaling = classifier.payload["scaling"]
    assert len(scaling["mean"]) == 3 and scaling["std"][2] > 50  # scaled per channel on the training file
    p = classifier.probabilities([np.stack([np.zeros(15), 5 + 3 * np.linspace(-1, 1, 15), np.zeros(15)], axis=1)])
    assert classifier.classes[int(p[0].argmax())] == "up"
    assert "(steps, 3) array" in one_line_error_of(lambda: classifier.probabilities([np.zeros(15)]))

    two = write(tmp_path, ts_text([("up", [[1, 2, 3], [1, 2, 3]]), ("down", [[3, 2, 1], [3, 2, 1]])]), "two.ts")
    assert "has 2 channels per step, the model was trained on 3" in one_line_error(run("classify", tmp_path / "m", two))
    ucr = write(tmp_path, "up 1 2 3\n", "one.txt")
    assert "has 1 channel per step, the model was trained on 3" in one_line_error(run("evaluate", tmp_path / "m",
                                                                                      "--test", ucr))


def one_line_error_of(call):
    with pytest.raises(Exception) as caught:
        call()
    assert type(caught.value).__name__ == "SeqgenError" and "\n" not in str(caught.value)
    return str(caught.value)


@pytest.mark.slow
def test_a_multichannel_checkpoint_rebuilt_as_one_channel_is_refused_in_one_line(tmp_path):
    from seqgen.checkpoint import load_checkpoint, save_checkpoint

    train = write(tmp_path, motions(16, 0), "TRAIN.ts")
    result = run("train", "--task", "classify", "--corpus", train, "--output-dir", tmp_path, "--name", "m",
                 *FAST[:1], 2, *FAST[2:])
    assert result.exit_code == 0, result.output
    payload = load_checkpoint(tmp_path / "m" / "best.pt", task="classify")
    del payload["model_config"]["input_size"]
    save_checkpoint(payload, tmp_path / "damaged.pt")
    message = one_line_error(run("classify", tmp_path / "damaged.pt", train))
    assert "damaged.pt is damaged" in message and "scaling" in message


def test_series_length_is_checked_against_every_case(tmp_path):
    text = ts_text([("up", [[1, 2, 3]]), ("down", [[1, 2]])]).replace("@equalLength true", "@seriesLength 3")
    message = one_line_error_of(lambda: read_labeled_sequences(write(tmp_path, text)))
    assert "line 10: @seriesLength 3, but this case has 2 steps" in message
