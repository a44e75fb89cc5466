"""Remaining useful life on the spine: a model of a synthetic degrading signal beats the baselines' mean; the
columns it reads and leaves out; an interrupted run resumes to the same networks bit for bit; the checkpoint
alone estimates, inspects and evaluates; CSV files with named columns; the scores."""

import shutil

import numpy as np
import pytest
import torch
from conftest import one_line_error, run

import seqgen
from seqgen.checkpoint import load_checkpoint
from seqgen.errors import SeqgenError
from seqgen.tasks.remaining_life.evaluate import phm08_score, rmse

SMALL = {"window": 8, "cap": 40, "hidden_size": 16, "epochs": 12, "ensemble": 2, "batch_size": 32, "lr": 0.01,
         "patience": 12, "progress": False}


def degrading(n_units, seed, truncate=False):
    """Units that wear out: `wear` rises towards each unit's failure, `load` falls with it, `rated` is constant and
    `jitter` is noise. With `truncate`, each unit stops before failure; returns its true remaining steps too."""
    rng = np.random.default_rng(seed)
    units, truth = [], []
    for unit in range(1, n_units + 1):
        life = int(rng.integers(45, 90))
        shown = int(rng.integers(12, life - 2)) if truncate else life  # >= the window of 8
        t = np.arange(1, shown + 1)
        health = np.exp(-(life - t) / 18)  # 1 at failure
        rows = np.c_[np.full(shown, unit), t, 1 + 2 * health + 0.05 * rng.standard_normal(shown),
                     5 - 3 * health + 0.05 * rng.standard_normal(shown), np.full(shown, 7.0),
                     rng.standard_normal(shown)]
        units.append(rows)
        truth.append(life - shown)
    return np.concatenate(units), np.array(truth, dtype=float)


def write_text(path, table):
    path.write_text("".join(" ".join(f"{v:g}" for v in row) + " \n" for row in table))
    return path


def write_csv(path, table, header="engine,time,wear,load,rated,jitter"):
    path.write_text(header + "\n" + "".join(",".join(f"{v:g}" for v in row) + "\n" for row in table))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("rul-data")
    train, _ = degrading(16, 0)
    test, truth = degrading(12, 1, truncate=True)
    (root / "truth.txt").write_text("".join(f"{int(x)}\n" for x in truth))
    return {"train": write_text(root / "train.txt", train), "test": write_text(root / "test.txt", test),
            "truth": root / "truth.txt", "root": root}


@pytest.fixture(scope="module")
def model(files):
    return seqgen.train("remaining-life", corpus=files["train"], test=files["test"], test_targets=files["truth"],
                        output_dir=files["root"] / "runs", name="straight", **SMALL)


def test_a_degrading_signal_is_learned_better_than_the_training_mean(model):
    scores = model.report["scores"]
    assert scores["lstm ensemble"]["rmse"] < 0.6 * scores["training mean"]["rmse"], scores
    assert model.stop_reason in ("budget", "patience") and model.members_done == 2


def test_constant_and_uninformative_columns_are_left_out_and_reported(model):
    assert model.features == ["column_3", "column_4"]
    assert model.dropped["column_5"] == "constant" and model.dropped["column_6"].startswith("r = ")
    saved = load_checkpoint(model.best_path, task="remaining-life")
    assert saved["features"] == model.features and saved["dropped"] == model.dropped


def test_the_checkpoint_alone_estimates_with_a_band_evaluates_and_inspects(model, files, tmp_path):
    alone = tmp_path / "alone.pt"
    shutil.copy(model.best_path, alone)
    training = tmp_path / "train.txt"
    shutil.copy(files["train"], training)
    loaded = seqgen.load(alone)
    assert type(loaded).__name__ == "RemainingLife" and loaded.task == "remaining-life"
    rows = loaded.predict(files["test"])
    units = sorted(set(np.loadtxt(files["test"])[:, 0].astype(int)))
    assert [r["unit"] for r in rows] == units
    assert all(0 <= r["lower"] <= r["remaining"] <= r["upper"] for r in rows)
    every = loaded.predict(files["test"], every_step=True)
    lengths = np.bincount(np.loadtxt(files["test"])[:, 0].astype(int))[units]
    assert len(every) == int(np.sum(lengths - 8 + 1))
    assert [r for r in every if r["step"] == rows[0]["step"] and r["unit"] == units[0]][0] == rows[0]
    figures = loaded.evaluate(test=files["test"], test_targets=files["truth"])
    assert figures["scores"]["lstm ensemble"] == pytest.approx(model.report["scores"]["lstm ensemble"])
    for method, scores in model.report["scores"].items():  # the baselines are fitted from the checkpoint alike
        assert figures["scores"][method] == pytest.approx(scores), method
    inspection = loaded.inspect(member=1)
    assert inspection.kind == "series" and inspection.steps == loaded.payload["units"]["lengths"][0] - 8 + 1
    assert loaded.inspect(files["test"], unit=units[-1]).steps == lengths[-1] - 8 + 1


def test_an_array_of_units_is_estimated_as_its_file(model, files):
    loaded = seqgen.load(model.best_path)
    table = np.loadtxt(files["test"])
    units = [table[table[:, 0] == u][:, [2, 3]] for u in np.unique(table[:, 0])]
    from_arrays = loaded.predict(units)
    from_file = loaded.predict(files["test"])
    assert [r["remaining"] for r in from_arrays] == pytest.approx([r["remaining"] for r in from_file])
    with pytest.raises(SeqgenError, match="fewer than the window of 8"):
        loaded.predict([units[0][:5]])
    with pytest.raises(SeqgenError, match=r"\(steps, 2\) array"):
        loaded.predict([units[0][:, :1]])


def test_the_command_line_trains_predicts_evaluates_and_inspects(files, tmp_path):
    args = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items() if k != "progress"]
    result = run("train", "--task", "remaining-life", "--corpus", files["train"], *args, "--ensemble", 1, "--quiet",
                 "--output-dir", tmp_path, "--name", "cli")
    assert result.exit_code == 0, result.output
    assert "Columns left out: column_5 (constant), column_6 (r = " in result.output
    out = run("predict", tmp_path / "cli", files["test"], "--level", 0.8)
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert lines[0] == "unit,step,remaining,lower,upper" and len(lines) == 1 + len(np.unique(np.loadtxt(files["test"])[:, 0]))
    evaluated = run("evaluate", tmp_path / "cli", "--test", files["test"], "--test-targets", files["truth"])
    assert evaluated.exit_code == 0 and "gradient boosting (last window)" in evaluated.output, evaluated.output
    assert "[published]" not in evaluated.output  # the published figures are FD001's alone
    inspected = run("inspect", tmp_path / "cli", "--history", files["test"], "--save", tmp_path / "g.npz")
    assert inspected.exit_code == 0, inspected.output
    assert set(np.load(tmp_path / "g.npz")) >= {"h", "c", "forecast", "values"}
    assert "--text" in one_line_error(run("inspect", tmp_path / "cli", "--text", "1 2 3"))


def test_csv_logs_with_named_columns(files, tmp_path):
    table = np.loadtxt(files["train"])
    csv = write_csv(tmp_path / "train.csv", table)
    result = seqgen.train("remaining-life", corpus=csv, unit_column="engine", time_column="time", columns="load,wear",
                          output_dir=tmp_path, name="csv", **{**SMALL, "epochs": 2, "ensemble": 1})
    assert result.features == ["load", "wear"] and result.dropped == {}
    loaded = seqgen.load(result.best_path)
    test = np.loadtxt(files["test"])
    rows = loaded.predict(write_csv(tmp_path / "test.csv", test))
    assert len(rows) == len(np.unique(test[:, 0]))
    shuffled = write_csv(tmp_path / "shuffled.csv", test[:, [1, 0, 3, 2, 4, 5]], "time,engine,load,wear,rated,jitter")
    assert [r["remaining"] for r in loaded.predict(shuffled)] == pytest.approx([r["remaining"] for r in rows])
    with pytest.raises(SeqgenError, match="lacks jitter and has noise unlike the training file"):
        loaded.predict(write_csv(tmp_path / "other.csv", test, "engine,time,wear,load,rated,noise"))


def stop_at(call):
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] == call

    return should_stop


@pytest.mark.parametrize("call", [3, 13])  # during the first network; during the second
def test_an_interrupted_run_resumes_to_the_same_networks_bit_for_bit(model, files, tmp_path, call):
    options = {**SMALL, "patience": 100}  # every network runs all its epochs, so both stops fall inside a network
    straight = seqgen.train("remaining-life", corpus=files["train"], output_dir=tmp_path, name="straight", **options)
    stopped = seqgen.train("remaining-life", corpus=files["train"], output_dir=tmp_path, name="r",
                           should_stop=stop_at(call), **options)
    assert stopped.stop_reason == "interrupted" and not stopped.best_path.exists()
    with pytest.raises(SeqgenError, match="unfinished run"):
        seqgen.load(stopped.latest_path)
    resumed = seqgen.train("remaining-life", resume=stopped.run_dir, progress=False, should_stop=lambda: False)
    a = load_checkpoint(straight.best_path, task="remaining-life")
    b = load_checkpoint(resumed.best_path, task="remaining-life")
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a["members"], b["members"]) for k in x)
    assert a["training"] == b["training"] and a["residual_std"] == b["residual_std"]


def test_the_scores():
    truth = np.array([10.0, 20.0])
    assert rmse(np.array([13.0, 16.0]), truth) == pytest.approx(np.sqrt(12.5))
    # late by 10: e^1 - 1; early by 13: e^1 - 1
    assert phm08_score(np.array([20.0, 7.0]), truth) == pytest.approx(2 * (np.e - 1))


def test_an_estimate_never_looks_ahead_even_with_smoothing(files, tmp_path):
    run = seqgen.train("remaining-life", corpus=files["train"], output_dir=tmp_path, name="smooth",
                       **{**SMALL, "epochs": 2, "ensemble": 1, "smoothing": 0.3})
    loaded = seqgen.load(run.best_path)
    assert loaded.payload["scaling"]["smoothing"] == 0.3
    unit = np.loadtxt(files["train"])
    unit = unit[unit[:, 0] == 1][:, [2, 3]]
    whole = [r["remaining"] for r in loaded.predict([unit], every_step=True)]
    cut = [r["remaining"] for r in loaded.predict([unit[:20]], every_step=True)]
    assert cut == pytest.approx(whole[:len(cut)], abs=1e-4) and whole[len(cut)] != pytest.approx(cut[-1], abs=1e-4)
