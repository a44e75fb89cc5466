"""Series and labelled-sequence files as other tools write them: every shape pandas' to_csv gives (with and
without index, named and unnamed, dates in the first column), `.ts` files written by aeon, and values the
networks' 32-bit floats cannot hold. A header is never read as values, nor a row of values dropped as a header,
and what cannot be told apart is one line saying how to settle it."""

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import one_line_error, run

import seqgen
from seqgen.data.series import read_labeled_file, read_series_csv
from seqgen.errors import SeqgenError
from seqgen.tasks.classify.classify import predict_proba
from seqgen.tasks.classify.data import folds
from seqgen.tasks.classify.evaluate import classification_report, format_report
from seqgen.tasks.forecast.data import untransform
from seqgen.tasks.forecast.evaluate import format_table

AEON = Path(__file__).parent / "data" / "aeon"  # written by aeon's save_to_ts_file (see write.py there)
LYNX = [269, 321, 585, 871, 1475, 2821, 3928, 5943, 4950, 2577, 523, 98, 184, 279, 409, 2285, 2685, 3409, 1824, 409]
CLASSIFY = ["--epochs", 2, "--ensemble", 2, "--hidden-size", 8, "--conv-channels", 4, "--batch-size", 4,
            "--device", "cpu", "--quiet"]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- forecasting: one column of a CSV written by pandas -------------------------------------------------------

def _lynx(index=None, name=None, dtype="int64"):
    return pd.Series(np.array(LYNX, dtype=dtype), index=index, name=name)


YEARS = range(1821, 1821 + len(LYNX))
MONTHS = pd.date_range("2000-01-01", periods=len(LYNX), freq="MS")
SERIES_SHAPES = [  # (id, write the file, the column read, the first date)
    ("series-unnamed", lambda p: _lynx(YEARS).to_csv(p), "0", "1821"),
    ("series-named", lambda p: _lynx(YEARS, "lynx").to_csv(p), "lynx", "1821"),
    ("series-range-index", lambda p: _lynx().to_csv(p), "0", "0"),
    ("series-floats-no-index", lambda p: _lynx(dtype="float64").to_csv(p, index=False), "0", None),
    ("series-named-no-index", lambda p: _lynx(name="lynx").to_csv(p, index=False), "lynx", None),
    ("series-dates", lambda p: _lynx(MONTHS, "lynx").to_csv(p), "lynx", "2000-01-01"),
    ("frame-index", lambda p: pd.DataFrame({"temp": np.arange(20.0), "lynx": LYNX}).to_csv(p), "lynx", "0"),
    ("frame-no-index", lambda p: pd.DataFrame({"temp": np.arange(20.0), "lynx": LYNX}).to_csv(p, index=False),
     "lynx", "0.0"),
    ("frame-dates", lambda p: pd.DataFrame({"lynx": LYNX}, index=MONTHS).to_csv(p), "lynx", "2000-01-01"),
    ("frame-dates-labelled", lambda p: pd.DataFrame({"lynx": LYNX}, index=MONTHS).to_csv(p, index_label="month"),
     "lynx", "2000-01-01"),
    ("frame-unnamed-columns", lambda p: pd.DataFrame(np.c_[np.arange(20.0), LYNX]).to_csv(p), "1", "0"),
    ("frame-semicolons", lambda p: _lynx(YEARS, "lynx").to_csv(p, sep=";"), "lynx", "1821"),
    ("series-quote-all", lambda p: _lynx(MONTHS, "lynx").to_csv(p, quoting=csv.QUOTE_ALL), "lynx", "2000-01-01"),
]


@pytest.mark.parametrize("write_csv, column, first_date", [pytest.param(*row[1:], id=row[0]) for row in SERIES_SHAPES])
def test_every_pandas_shape_reads_its_values_and_never_its_header(tmp_path, write_csv, column, first_date):
    path = tmp_path / "lynx.csv"
    write_csv(path)
    series = read_series_csv(path)
    assert series.values.tolist() == LYNX and series.column == column
    assert (series.dates[0] if series.dates else None) == first_date


def test_the_bytes_pandas_writes_for_an_unnamed_series(tmp_path):
    path = write(tmp_path, "lynx.csv", ",0\n1821,269\n1822,321\n1823,585\n")  # Series.to_csv(), byte for byte
    assert read_series_csv(path).values.tolist() == [269, 321, 585]
    path = write(tmp_path, "dates.csv", ",v\n2000-01-01,1.5\n2000-02-01,2.5\n")  # a DatetimeIndex, unnamed
    assert read_series_csv(path).values.tolist() == [1.5, 2.5]


def test_covariates_of_a_pandas_frame_with_its_index(tmp_path):
    path = tmp_path / "frame.csv"
    pd.DataFrame({"temp": np.arange(20.0), "lynx": LYNX}, index=MONTHS).to_csv(path)
    series = read_series_csv(path, "lynx", covariates=["temp"])
    assert series.values.tolist() == LYNX and series.covariates["temp"].tolist() == list(range(20))
    assert series.dates[:2] == ["2000-01-01", "2000-02-01"]


def test_a_header_that_could_be_values_is_one_line_saying_how_to_settle_it(tmp_path):
    path = tmp_path / "counts.csv"
    _lynx().to_csv(path, index=False)  # "0" over whole numbers: a name, or a first count of 0
    with pytest.raises(SeqgenError, match=r"line 1 \(0\) may be the names pandas gives.*--column 0.*add a header"):
        read_series_csv(path)
    assert read_series_csv(path, "0").values.tolist() == LYNX
    message = one_line_error(run("train", "--task", "forecast", "--corpus", path, "--no-log-transform", "--epochs", 1,
                                 "--output-dir", tmp_path, "--device", "cpu", "--quiet"))
    assert "--column 0" in message and not (tmp_path / "counts-forecast").exists()


def test_a_typo_in_the_first_row_is_reported_not_dropped_as_a_header(tmp_path):
    path = write(tmp_path, "sales.csv", "2000-01,1x0\n2000-02,120\n2000-03,130\n")
    with pytest.raises(SeqgenError, match="line 1, column 'column 2' holds '1x0'"):
        read_series_csv(path)
    path = write(tmp_path, "sales.csv", "month,sales\n2000-01,110\n2000-02,abc\n2000-03,130\n")
    with pytest.raises(SeqgenError, match="line 3, column 'sales' holds 'abc'"):
        read_series_csv(path)


def test_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, "sales.csv", "month,sales\n\n2000-01,110\n\n2000-02,\n")
    with pytest.raises(SeqgenError, match="line 5 has a missing value"):
        read_series_csv(path)


# -- classification: sequences in the rows of a CSV written by pandas -----------------------------------------

X = np.round(np.random.default_rng(0).standard_normal((6, 8)), 3)
Y = ["up", "down"] * 3


def _frame(labels=True, first=False):
    frame = pd.DataFrame(X)
    if labels:
        if first:
            frame.insert(0, "label", Y)
        else:
            frame["label"] = Y
    return frame


CLASSIFY_SHAPES = [  # (id, write the file, labelled)
    ("index-label-last", lambda p: _frame().to_csv(p), True),
    ("index-label-first", lambda p: _frame(first=True).to_csv(p), True),
    ("no-index-label-last", lambda p: _frame().to_csv(p, index=False), True),
    ("no-index-label-first", lambda p: _frame(first=True).to_csv(p, index=False), True),
    ("unlabelled-index", lambda p: _frame(False).to_csv(p), False),
    ("unlabelled-no-index", lambda p: _frame(False).to_csv(p, index=False), False),
    ("unlabelled-tabs", lambda p: _frame(False).to_csv(p, sep="\t"), False),
    ("quote-all", lambda p: _frame().to_csv(p, quoting=csv.QUOTE_ALL), True),
    ("quote-non-numeric", lambda p: _frame(first=True).to_csv(p, quoting=csv.QUOTE_NONNUMERIC, index=False), True),
    ("quote-all-spaces", lambda p: _frame().to_csv(p, quoting=csv.QUOTE_ALL, sep=" ", index=False), True),
]


@pytest.mark.parametrize("write_csv, labeled", [pytest.param(*row[1:], id=row[0]) for row in CLASSIFY_SHAPES])
def test_every_pandas_shape_of_sequences_reads_its_rows_without_header_or_index(tmp_path, write_csv, labeled):
    path = tmp_path / "rows.csv"
    write_csv(path)
    labels, sequences, layout = read_labeled_file(path, labeled=labeled)
    assert labels == (Y if labeled else [""] * 6)
    assert np.allclose(np.stack(sequences), X)
    assert layout["format"] == "csv" and layout["lines"] == [2, 3, 4, 5, 6, 7]


def test_the_one_named_column_among_pandas_numbers_is_the_label(tmp_path):
    path = tmp_path / "rows.csv"
    frame = _frame(False)
    frame["class"] = Y
    frame.to_csv(path)  # ",0,1,…,7,class"
    labels, sequences, layout = read_labeled_file(path)
    assert labels == Y and np.allclose(np.stack(sequences), X) and layout["label_column"] == "class"


def test_a_label_holding_a_comma_is_one_label(tmp_path):
    path = tmp_path / "rows.csv"
    frame = _frame()
    frame["label"] = ["up, fast", "down"] * 3
    frame.to_csv(path, index=False)  # pandas quotes the label: "up, fast"
    labels, sequences, _ = read_labeled_file(path)
    assert labels == ["up, fast", "down"] * 3 and np.allclose(np.stack(sequences), X)


def test_whole_number_sequences_under_pandas_names_are_one_line(tmp_path):
    path = tmp_path / "counts.csv"
    pd.DataFrame(np.arange(24).reshape(3, 8) * 7).to_csv(path, index=False)
    with pytest.raises(SeqgenError, match="line 1 holds 0, 1, 2, … above whole numbers.*remove it"):
        read_labeled_file(path, labeled=False)
    labelled = tmp_path / "labelled.csv"
    frame = pd.DataFrame(np.arange(24).reshape(3, 8) * 7)
    frame["label"] = ["up", "down", "up"]
    frame.to_csv(labelled, index=False)  # 0, 1, … beside a name: a header
    labels, sequences, _ = read_labeled_file(labelled)
    assert labels == ["up", "down", "up"] and sequences[1].tolist() == list(range(56, 112, 7))


def test_a_ucr_row_with_a_typo_stays_data_and_is_reported(tmp_path):
    path = write(tmp_path, "u.txt", "1 0.5 x 0.7\n2 0.1 0.2 0.3\n1 0.4 0.5 0.6\n")
    with pytest.raises(SeqgenError, match="line 1, value 2 is 'x'"):
        read_labeled_file(path)


@pytest.mark.slow
def test_a_classifier_trained_on_a_pandas_csv_classifies_its_unlabelled_twin(tmp_path):
    rng = np.random.default_rng(1)
    ramps = np.array([(1 if i % 2 else -1) * np.linspace(-1, 1, 12) for i in range(16)]) + 0.1 * rng.random((16, 12))
    frame = pd.DataFrame(ramps.round(4))
    frame["label"] = ["up, fast" if i % 2 else "down" for i in range(16)]  # pandas quotes the comma's label
    frame.to_csv(tmp_path / "train.csv")
    frame.drop(columns="label").to_csv(tmp_path / "unlabelled.csv")
    result = run("train", "--task", "classify", "--corpus", tmp_path / "train.csv", "--output-dir", tmp_path,
                 "--name", "c", *CLASSIFY)
    assert result.exit_code == 0, result.output
    assert seqgen.load(tmp_path / "c").payload["layout"]["columns"] == [str(i) for i in range(12)] + ["label"]
    result = run("classify", tmp_path / "c", tmp_path / "unlabelled.csv", "--no-labels")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == ["row", "label", "predicted", "p_down", "p_up, fast"] and len(rows) == 17
    assert all(len(row) == 5 and row[2] in ("down", "up, fast") for row in rows[1:])
    message = one_line_error(run("classify", tmp_path / "c", tmp_path / "unlabelled.csv"))
    assert "has no column 'label'" in message and "pass --no-labels" in message


# -- .ts files as aeon writes them ------------------------------------------------------------------------------

def aeon_value(case, channel, step):
    return case + 0.5 * channel + 0.25 * step  # write.py's values


@pytest.mark.parametrize("name, channels, lengths", [
    ("motions_TRAIN.ts", 3, [5] * 6),  # @univariate false, @dimension 3 (aeon's spelling), @timestamps
    ("strokes_TRAIN.ts", 2, [5, 3, 4, 5, 2, 4]),  # unequal lengths
    ("line_TRAIN.ts", 1, [5] * 6),
])
def test_files_written_by_aeon_read_as_aeon_wrote_them(name, channels, lengths):
    labels, sequences, layout = read_labeled_file(AEON / name)
    assert labels == ["walk", "run"] * 3 and layout["channels"] == channels
    for case, (sequence, length) in enumerate(zip(sequences, lengths)):
        expected = [[aeon_value(case, c, t) for c in range(channels)] for t in range(length)]
        assert sequence.reshape(length, channels).tolist() == expected


def test_an_unlabelled_aeon_file_reads_with_no_labels():
    labels, sequences, layout = read_labeled_file(AEON / "motions_UNLABELLED.ts", labeled=False)
    assert labels == ["", "", ""] and [s.shape for s in sequences] == [(5, 3)] * 3 and layout["channels"] == 3


@pytest.mark.parametrize("edit", [
    lambda text: text.replace("@dimension 3\n", ""),  # no @dimensions at all: the channels come from the data
    lambda text: text.replace("@dimension 3", "@DIMENSIONS\t3").replace("@univariate", "@UniVariate"),
    lambda text: text.replace("@timestamps false", "@TIMESTAMPS False").replace("@classLabel", "@classlabel"),
])
def test_tags_are_read_in_any_case_and_channels_inferred_without_dimensions(tmp_path, edit):
    path = write(tmp_path, "motions.ts", edit((AEON / "motions_TRAIN.ts").read_text()))
    labels, sequences, layout = read_labeled_file(path)
    assert layout["channels"] == 3 and [s.shape for s in sequences] == [(5, 3)] * 6


def test_channels_that_disagree_are_named_truthfully(tmp_path):
    text = (AEON / "motions_TRAIN.ts").read_text().replace("@dimension 3\n", "")
    lines = text.splitlines()
    lines[-2] = lines[-2].split(":", 1)[1]  # the fifth case loses a channel
    path = write(tmp_path, "motions.ts", "\n".join(lines) + "\n")
    with pytest.raises(SeqgenError, match=r"line 14 has 2 channel\(s\) before the label, line 10, the first case, has 3"):
        read_labeled_file(path)
    path = write(tmp_path, "flat.ts", text.replace("@univariate false", "@univariate true"))
    with pytest.raises(SeqgenError, match="line 10 has 3 channels .* but @univariate is true"):
        read_labeled_file(path)


@pytest.mark.slow
def test_a_classifier_trains_on_aeon_files_and_classifies_them(tmp_path):
    result = run("train", "--task", "classify", "--corpus", AEON / "motions_TRAIN.ts", "--test", AEON / "motions_TRAIN.ts",
                 "--output-dir", tmp_path, "--name", "m", *CLASSIFY)
    assert result.exit_code == 0, result.output
    result = run("classify", tmp_path / "m", AEON / "motions_UNLABELLED.ts", "--no-labels")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 4
    message = one_line_error(run("classify", tmp_path / "m", AEON / "motions_UNLABELLED.ts"))
    assert "--no-labels" in message


# -- a class with one example -----------------------------------------------------------------------------------

def test_the_only_example_of_a_class_is_never_held_out():
    targets = np.array([0, 0, 0, 0, 0, 1, 1, 2])
    assigned = folds(targets, 5, np.random.default_rng(0))
    assert assigned[7] == -1 and sorted(assigned[5:7]) == [0, 1] and sorted(assigned[:5]) == [0, 1, 2, 3, 4]


LINE_TS = (AEON / "line_TRAIN.ts").read_text()


@pytest.mark.parametrize("text, name, lone", [
    ("1 0.1 0.2 0.3 0.4\n2 0.5 0.4 0.3 0.1\n", "two.txt", [0, 1]),  # every class has one example
    ("".join(f"{1 + i % 2} {i % 3} 0.2 0.3 0.{i}\n" for i in range(8)) + "3 0.9 0.9 0.9 0.9\n", "three.txt", [8]),
    (LINE_TS.replace("true run walk", "true run walk jump") + "9.0,9.0,9.0,9.0,9.0:jump\n", "line.ts", [6]),
], ids=["every-class-alone", "one-class-alone", "ts"])
@pytest.mark.slow
def test_a_class_with_one_example_trains_on_it_in_every_network(tmp_path, text, name, lone):
    path = write(tmp_path, name, text)
    result = run("train", "--task", "classify", "--corpus", path, "--output-dir", tmp_path, "--name", "c",
                 "--epochs", 2, "--ensemble", 3, "--hidden-size", 8, "--conv-channels", 4, "--batch-size", 4,
                 "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    records = seqgen.load(tmp_path / "c").payload["training"]
    assert len(records) == 3 and not any(set(lone) & set(record["val_rows"]) for record in records)


# -- values the networks cannot hold ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifier")
    rng = np.random.default_rng(0)
    rows = [" ".join([str(1 + i % 2)] + [f"{(1 if i % 2 else -1) * v + 0.1 * rng.standard_normal():.4f}"
                                         for v in np.linspace(-1, 1, 10)]) for i in range(12)]
    train = write(root, "train.txt", "\n".join(rows) + "\n")
    result = run("train", "--task", "classify", "--corpus", train, "--output-dir", root, "--name", "c", *CLASSIFY)
    assert result.exit_code == 0, result.output
    return root / "c", rows


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("command", ["classify", "evaluate"])
def test_values_near_the_float32_limit_are_one_line_naming_the_row(classifier, tmp_path, command):
    run_dir, rows = classifier
    path = write(tmp_path, "big.txt", rows[0] + "\n" + "1 " + " ".join(["3e38", "-3e38"] * 5) + "\n")
    args = ["classify", run_dir, path] if command == "classify" else ["evaluate", run_dir, "--test", path]
    message = one_line_error(run(*args))
    assert f"{path} row 2 (line 2) holds 3e+38 (step 1)" in message and "32-bit floats" in message


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_probabilities_and_inspect_refuse_what_32_bit_floats_cannot_hold(classifier):
    model = seqgen.load(classifier[0])
    with pytest.raises(SeqgenError, match="sequence 2 holds 3e\\+38"):
        model.probabilities([[0.5] * 10, [3e38] * 10])
    with pytest.raises(SeqgenError, match="sequence 1 holds a value beyond the range of 32-bit floats"):
        model.probabilities([[1e300] * 10])
    with pytest.raises(SeqgenError, match="32-bit floats"):
        model.inspect([1e300, 1.0, 2.0])
    assert np.isfinite(model.probabilities([[1e30, -1e30] * 5])).all()


def test_probabilities_that_are_not_numbers_are_never_returned():
    class Broken(torch.nn.Module):
        def forward(self, values, lengths):
            return torch.where(values[:, :1, 0] > 1, torch.nan, 0.0).repeat(1, 2)

    scaling = {"mean": 0.0, "std": 1.0}
    assert np.isfinite(predict_proba(Broken(), scaling, [np.zeros(3, np.float32)])).all()
    with pytest.raises(SeqgenError, match="rows.csv row 2: the model's class probabilities are not numbers"):
        predict_proba(Broken(), scaling, [np.zeros(3, np.float32), np.full(3, 5, np.float32)],
                      describe=lambda i: f"rows.csv row {i + 1}")


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("cell, covariate, expected", [
    ("1e300", False, "line 12, column 'sales' holds 1e300, beyond the range of 32-bit floats"),
    ("1.7e308", True, "line 12, column 'temp' holds 1.7e308, beyond the range of 32-bit floats"),
])
def test_series_values_beyond_float32_are_one_line_naming_the_cell(tmp_path, cell, covariate, expected):
    rows = [f"{2000 + i // 12}-{i % 12 + 1:02d},{cell if i == 10 and covariate else 1.5},"
            f"{cell if i == 10 and not covariate else 100 + i}" for i in range(48)]
    path = write(tmp_path, "s.csv", "month,temp,sales\n" + "\n".join(rows) + "\n")
    args = ["--covariates", "temp"] if covariate else []
    message = one_line_error(run("train", "--task", "forecast", "--corpus", path, *args, "--epochs", 1, "--ensemble", 1,
                                 "--output-dir", tmp_path, "--device", "cpu", "--quiet"))
    assert expected in message and "rescale" in message and "--lr" not in message


def test_the_fit_api_refuses_what_32_bit_floats_cannot_hold():
    from seqgen.tasks.forecast.config import ForecastConfig
    from seqgen.tasks.forecast.train import fit

    values = np.r_[np.full(30, 100.0), 1e300, np.full(17, 100.0)]
    with pytest.raises(SeqgenError, match="the series holds 1e\\+300 at point 31"):
        fit(values, ForecastConfig(epochs=1, ensemble=1, window=6, horizon=3, log_transform=False), 12)


def test_a_forecast_that_overflows_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert untransform(np.array([1e4]), True)[0] == np.inf


# -- tables that fit what they show ----------------------------------------------------------------------------

def test_the_confusion_table_keeps_long_labels_apart():
    classes = ["walking_upstairs", "walking_downstairs", "sitting", "1"]
    labels = [classes[i % 4] for i in range(12)]
    report = classification_report(labels, np.eye(4)[[i % 4 for i in range(12)]], classes)
    lines = format_report(report).splitlines()
    header = lines[lines.index("confusion (rows: true class, columns: predicted)") + 1]
    assert header.split() == classes
    ends = [match.end() for match in re.finditer(r"\S+", header)]
    for row in lines[-4:]:  # each count ends where its column's label ends
        assert [match.end() for match in re.finditer(r"\S+", row)][1:] == ends


def test_the_evaluate_table_keeps_large_figures_apart():
    scores = {"lstm": {"rmse": 4.3e37, "mae": 2.8e37, "mape": 16.5, "mase": None},
              "seasonal naive": {"rmse": 0.0, "mae": 0.0, "mape": 0.0, "mase": None}}
    lines = format_table({"scores": scores}).splitlines()
    assert lines[0].split() == ["method", "RMSE", "MAE", "MAPE", "%", "MASE"]
    assert len(lines[1].split()) == 5 and len({len(line) for line in lines}) == 1


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_diverging_forecaster_is_one_line_in_inspect_and_forecast(tmp_path):
    result = run("train", "--task", "forecast", "--corpus", "airline", "--epochs", 1, "--ensemble", 1, "--hidden-size", 4,
                 "--output-dir", tmp_path, "--name", "f", "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    forecaster = seqgen.load(tmp_path / "f")
    forecaster.payload["members"][0]["head.bias"] += 1e6  # a correction exp() cannot hold
    with pytest.raises(SeqgenError, match="network 0's one-step forecast after point 36 is not a finite number"):
        forecaster.inspect()
    with pytest.raises(SeqgenError, match="becomes non-finite or absurd .* at step 1"):
        forecaster.forecast()
