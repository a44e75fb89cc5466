"""`seqgen inspect` and the models' `inspect`: the recorded values are the network's own, long inputs read in
windows give what one pass gives, the .npz holds what the README says, the features and the ranking find what
they claim, and bad input is one line."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import one_line_error, run
from music21 import converter

import seqgen
from seqgen.errors import SeqgenError
from seqgen.inspect import Inspection, text_features
from seqgen.inspect.features import music_features, rank_units
from seqgen.tasks.language_model.train import train

TEXT = 'He said "go (now) home." Then\nhe left. She stayed.\nA line\n'


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    from conftest import make_text

    from seqgen.models import ModelConfig
    from seqgen.tasks.language_model import TrainConfig

    folder = tmp_path_factory.mktemp("inspect")
    corpus = folder / "corpus.txt"
    corpus.write_text(make_text() + TEXT, encoding="utf-8")
    config = TrainConfig(corpus=str(corpus), batch_size=4, bptt=16, max_steps=20, eval_interval=10, log_interval=1,
                         warmup_steps=2, output_dir=str(folder / "runs"), name="run", device="cpu", eval_batch_size=4)
    return train(ModelConfig(embedding_dim=16, hidden_size=32, num_layers=2, dropout=0.1), config, progress=False)


@pytest.mark.slow
def test_the_recorded_values_are_the_models_own(text_run):
    model = seqgen.load(text_run.best_path, device="cpu")
    inspection = model.inspect(TEXT, top_k=4)
    ids = torch.as_tensor(model.tokenizer.encode(TEXT).astype("int64"))[None]
    with torch.no_grad():
        logits, (h_n, c_n) = model.model(ids)
        output, _ = model.model.lstm(model.model.embedding(ids))
    steps = len(TEXT)
    assert inspection["h"].shape == (2, steps, 32) and inspection.steps == steps
    assert np.allclose(inspection["h"][-1], output[0].numpy(), atol=1e-5)
    assert np.allclose(inspection["c"][:, -1], c_n[:, 0].numpy(), atol=1e-5)
    probs, top = logits[0].softmax(-1).topk(4)
    assert np.array_equal(inspection.top_tokens, top.numpy())
    assert np.allclose(inspection.top_probs, probs.numpy(), atol=1e-5)
    assert "".join(inspection.labels) == TEXT and inspection.top_labels[0][0] == model.tokenizer.label(top[0, 0])


def test_a_long_input_read_in_windows_gives_what_one_pass_gives(text_run):
    model = seqgen.load(text_run.best_path, device="cpu")
    whole = model.inspect(TEXT * 3, window=4096)
    windowed = model.inspect(TEXT * 3, window=7)
    for quantity in "ifgoch":
        assert np.allclose(whole[quantity], windowed[quantity], atol=1e-5)
    assert np.allclose(whole.top_probs, windowed.top_probs, atol=1e-5)


@pytest.mark.slow
def test_cli_writes_the_npz_page_and_heat_map(text_run, tmp_path):
    text_file = tmp_path / "t.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    result = run("inspect", text_run.best_path, "--text-file", text_file, "--html", tmp_path / "p.html",
                 "--png", tmp_path / "p.png", "--save", tmp_path / "g.npz", "--top", "3")
    assert result.exit_code == 0, result.output
    assert result.output.count("follows") == 3  # the three most telling units, with their feature and r
    saved = np.load(tmp_path / "g.npz")
    assert {"tokens", "i", "f", "g", "o", "c", "h", "top_tokens", "top_probs"} <= set(saved.files)
    model = seqgen.load(text_run.best_path, device="cpu")
    assert np.array_equal(saved["tokens"], model.tokenizer.encode(TEXT))
    api = model.inspect(TEXT)
    for quantity in "ifgoch":
        assert saved[quantity].shape == (2, len(TEXT), 32)
        assert np.allclose(saved[quantity], api[quantity], atol=1e-6)
    assert np.all((saved["f"] > 0) & (saved["f"] < 1)) and np.allclose(saved["h"], saved["o"] * np.tanh(saved["c"]),
                                                                       atol=1e-5)
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "Content-Security-Policy" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page  # nothing fetched: no CDN
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_the_page_starts_on_the_unit_asked_for(text_run, tmp_path):
    result = run("inspect", text_run.best_path, "--text", TEXT, "--html", tmp_path / "p.html", "--layer", "1",
                 "--unit", "5", "--quantity", "f", "--png", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    assert '"start":{"layer":1,"unit":5,"quantity":"f"}' in (tmp_path / "p.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    (["--text", ""], "empty"),
    (["--text", "héllo ☃"], "never saw"),
    (["--text", "ab", "--text-file", "x.txt"], "not both"),
    (["--text", "ab", "--member", "1"], "--member does not apply"),
    (["--text", "ab", "--prime-midi", "x.mid"], "--prime-midi is for music models"),
    (["--text", "ab", "--save", "x.txt"], ".npz"),
    (["--text", "ab", "--html", "x.png"], ".html"),
    (["--text", "ab", "--unit", "32", "--html", "p.html"], "--unit 32 is out of range"),
    (["--text", "ab", "--layer", "2", "--html", "p.html"], "--layer 2 is out of range"),
])
def test_bad_inspect_input_is_one_line(text_run, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run("inspect", text_run.best_path, *args))
    assert message in line


def test_an_input_beyond_the_limit_is_refused_before_reading(text_run, monkeypatch):
    import seqgen.inspect.record as record

    monkeypatch.setattr(record, "MAX_STEPS", 20)
    with pytest.raises(SeqgenError, match="at most 20"):
        seqgen.load(text_run.best_path, device="cpu").inspect(TEXT)


def test_a_long_input_is_saved_part_by_part_as_one_pass_would_save_it(text_run, tmp_path, monkeypatch):
    import seqgen.inspect.record as record

    model = seqgen.load(text_run.best_path, device="cpu")
    whole = model.inspect(TEXT * 2, window=5)
    monkeypatch.setattr(record, "PART", 25)  # parts of 25 steps, the state carried from one to the next
    first = model.inspect(TEXT * 2, window=5, save=tmp_path / "long.npz")
    saved = np.load(tmp_path / "long.npz")
    assert first.steps == 25 and saved["h"].shape == (2, len(TEXT) * 2, 32)
    for name, values in whole.arrays().items():
        assert np.allclose(saved[name], values, atol=1e-5), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.npz"]  # the parts' folder is gone
    result = run("inspect", text_run.best_path, "--text", TEXT * 2, "--save", tmp_path / "cli.npz", "--html",
                 tmp_path / "p.html")
    assert result.exit_code == 0, result.output
    assert np.allclose(np.load(tmp_path / "cli.npz")["c"], whole["c"], atol=1e-5)
    monkeypatch.setattr(record, "MAX_STEPS", 100)
    assert "--save" in one_line_error(run("inspect", text_run.best_path, "--text", TEXT * 2))


def test_text_features_mark_what_they_name():
    text = 'ab "cd" (e)\nf. Go'
    features = text_features(list(text))
    def marked(name):
        return "".join(ch for ch, on in zip(text, features[name]) if on)
    assert marked("in_quotes") == '"cd"'
    assert marked("in_brackets") == "(e)"
    assert marked("word_start") == "acefG"
    assert marked("sentence_end") == "."
    assert features["line_position"].tolist() == [*range(12), 0, 1, 2, 3, 4]
    # subword pieces: a piece read inside quotes counts, and a leading space starts a word
    pieces = features_of(["He", " said", ' "', "go", '"', " now"])
    assert pieces["in_quotes"].tolist() == [0, 0, 1, 1, 1, 0] and pieces["word_start"].tolist() == [1, 1, 0, 1, 0, 1]


def features_of(pieces):
    return {name: values.astype(int) for name, values in text_features(pieces).items()}


def test_music_features_follow_bar_position_and_part():
    labels = ["piece", "bar", "pos_0", "part_0", "pitch_60", "pos_4", "part_1", "pitch_64", "bar", "pos_2"]
    features = music_features(labels)
    assert features["bar_position"].tolist() == [0, 0, 0, 0, 0, 4, 4, 4, 0, 2]
    assert features["part"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_the_ranking_finds_a_unit_that_follows_a_feature():
    rng = np.random.default_rng(0)
    labels = list("one line\ntwo lines here\nthree\n" * 4)
    features = text_features(labels)
    gates = {q: rng.uniform(0, 1, (2, len(labels), 6)).astype(np.float32) for q in "ifgoch"}
    gates["c"][1, :, 4] = features["line_position"] * 0.1 + rng.normal(0, 0.05, len(labels))  # a line-length unit
    inspection = Inspection("text", np.zeros(len(labels)), labels, gates, features=features)
    best = rank_units(inspection, 3)[0]
    assert (best["layer"], best["unit"], best["quantity"], best["feature"]) == (1, 4, "c", "line_position")
    assert best["r"] > 0.9
    assert len({(e["layer"], e["unit"]) for e in rank_units(inspection, 12)}) == 12  # each unit listed once


def test_saturation_counts_the_share_of_steps_beyond_the_thresholds():
    gates = {q: np.full((1, 4, 2), 0.5, dtype=np.float32) for q in "ifgoch"}
    gates["f"][0, :, 0] = [0.05, 0.95, 0.99, 0.5]
    shares = Inspection("text", np.zeros(4), list("abcd"), gates).saturation()
    assert shares["f"][0, 0].tolist() == [0.25, 0.5] and shares["i"][0, 1].tolist() == [0.0, 0.0]


@pytest.mark.slow
def test_forecast_inspect_follows_the_series_and_its_forecast(tmp_path):
    from seqgen.tasks.forecast.data import transform, untransform
    from seqgen.tasks.forecast.predict import member_forecast, rebuild

    result = seqgen.train("forecast", epochs=3, ensemble=2, hidden_size=8, device="cpu", progress=False,
                          output_dir=str(tmp_path), name="airline")
    model = seqgen.load(result.best_path)
    inspection = model.inspect(member=1)
    prep = model.payload["preprocessing"]
    first = max(prep["window"], prep["season"])
    assert inspection.kind == "series" and inspection["c"].shape == (1, len(model.values) - first + 1, 8)
    assert np.array_equal(inspection.values, model.values[first - 1:])
    assert inspection.labels[-1] == model.dates[-1]
    # the forecast recorded after the last point is that network's own one-step forecast
    z = transform(model.values, prep["log"])
    own = untransform(member_forecast(rebuild(model.payload, 1), z, 1, prep, "cpu"), prep["log"])
    assert inspection.forecast[-1] == pytest.approx(own[0], rel=1e-5)
    result = run("inspect", result.best_path, "--png", tmp_path / "f.png", "--html", tmp_path / "f.html",
                 "--save", tmp_path / "f.npz", "--member", "1")
    assert result.exit_code == 0, result.output
    assert {"forecast", "values", "tokens"} <= set(np.load(tmp_path / "f.npz").files)
    assert "--text does not apply" in one_line_error(run("inspect", tmp_path / "airline", "--text", "x"))
    assert "--member must be" in one_line_error(run("inspect", tmp_path / "airline", "--member", "2"))


@pytest.mark.slow
def test_classify_and_translate_inspect_their_lstms(tmp_path):
    tiny = {"hidden_size": 8, "device": "cpu", "progress": False, "output_dir": str(tmp_path)}
    rows = [f"{1 + i % 2} " + " ".join(str((i % 2) * 2.0 + 0.1 * t) for t in range(12)) for i in range(16)]
    (tmp_path / "beats.txt").write_text("\n".join(rows) + "\n")
    classify = seqgen.train("classify", corpus=str(tmp_path / "beats.txt"), epochs=2, ensemble=1, name="ecg", **tiny)
    inspection = seqgen.load(classify.best_path).inspect([0.1 * t for t in range(12)])
    assert inspection.directions == 2 and inspection["h"].shape == (1, 12, 16)
    result = run("inspect", classify.best_path, "--text", "0.1 0.2 0.3 0.4 0.5", "--save", tmp_path / "c.npz")
    assert result.exit_code == 0, result.output and np.load(tmp_path / "c.npz")["h"].shape == (1, 5, 16)
    assert "numbers" in one_line_error(run("inspect", classify.best_path, "--text", "0.1 x"))

    translate = seqgen.train("translate", train_pairs=200, max_steps=2, eval_interval=2, embedding_dim=8,
                             batch_size=16, name="dates", **tiny)
    translator = seqgen.load(translate.best_path)
    parts = translator.inspect("3 May 1979", translation="1979-05-03")
    encoder, decoder = parts["encoder"], parts["decoder"]
    assert encoder.directions == 2 and encoder["h"].shape[1] == len("3 May 1979") + 1  # and the end token
    source = torch.as_tensor([translator.source_vocab.encode("3 May 1979") + [2]])
    with torch.no_grad():
        memory, _ = translator.model.encoder(source, torch.tensor([source.size(1)]))
    assert np.allclose(encoder["h"][-1], memory[0].numpy(), atol=1e-5)
    assert decoder.labels[0] == "<s>" and decoder.top_probs.shape == (decoder.steps, 3)
    result = run("inspect", translate.best_path, "--text", "3 May 1979", "--part", "decoder", "--html",
                 tmp_path / "d.html")
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_music_inspect_reads_a_midi_file(tmp_path, monkeypatch):
    from test_music import small_score, write_midi

    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "midi"
    folder.mkdir()
    for shift in range(3):
        write_midi(small_score(shift), folder / f"p{shift}.mid")
    result = run("train", "--corpus", folder, "--max-steps", "4", "--batch-size", "2", "--bptt", "8",
                 "--hidden-size", "8", "--embedding-dim", "8", "--eval-interval", "4", "--output-dir", tmp_path / "runs",
                 "--name", "m", "--sample-length", "20", "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    model = seqgen.load(tmp_path / "runs" / "m")
    inspection = model.inspect(prime_midi=str(folder / "p0.mid"))
    assert inspection.kind == "music" and inspection.labels[0] == "piece"
    assert any(label.startswith("pitch_") for label in inspection.labels)
    assert converter.parse(str(folder / "p0.mid")).flatten().notes  # the primer itself is a real MIDI file
    assert inspection.features["bar_position"].max() > 0
    result = run("inspect", tmp_path / "runs" / "m", "--prime-midi", folder / "p0.mid", "--html", tmp_path / "m.html")
    assert result.exit_code == 0, result.output
    tokens = run("inspect", tmp_path / "runs" / "m", "--text", "piece bar pos_0 part_0 pitch_60 dur_4",
                 "--save", tmp_path / "m.npz")
    assert tokens.exit_code == 0 and np.load(tmp_path / "m.npz")["h"].shape == (2, 6, 8)
    assert "--prime-midi FILE" in one_line_error(run("inspect", tmp_path / "runs" / "m"))


def test_a_bidirectional_page_says_which_direction_a_unit_reads():
    inspection = Inspection("series", np.arange(5), list("01234"),
                            {q: np.full((1, 5, 4), 0.5, np.float32) for q in "ifgoch"}, directions=2,
                            values=np.arange(5.0))
    from seqgen.inspect.page import page_data

    data = page_data(inspection, 5, 0, 3, "c")
    assert data["per_direction"] == 2 and data["directions"] == 2


def test_dataclass_fields_are_the_npz_contents():
    inspection = Inspection("text", np.arange(3), list("abc"),
                            {q: np.zeros((1, 3, 2), np.float32) for q in "ifgoch"})
    assert set(inspection.arrays()) == {"tokens", "i", "f", "g", "o", "c", "h"}
    assert "features" in {f.name for f in dataclasses.fields(Inspection)}


def test_a_multichannel_classifier_is_inspected_over_all_its_channels(tmp_path):
    cases = []
    for i in range(12):
        label = "up" if i % 2 else "down"
        first = ",".join(f"{(t if i % 2 else -t) * 0.1:.2f}" for t in range(10))
        second = ",".join(f"{0.05 * t * (i % 3):.2f}" for t in range(10))
        cases.append(f"{first}:{second}:{label}")
    path = tmp_path / "two.ts"
    path.write_text("@problemName two\n@univariate false\n@dimensions 2\n@equalLength true\n@seriesLength 10\n"
                    "@classLabel true down up\n@data\n" + "\n".join(cases) + "\n")
    run = seqgen.train("classify", corpus=str(path), epochs=2, ensemble=1, hidden_size=8, device="cpu", progress=False,
                       output_dir=str(tmp_path))
    model = seqgen.load(run.best_path)
    sequence = np.stack([np.linspace(0, 1, 10), np.linspace(0, 0.5, 10)], axis=1)  # (steps, channels)
    inspection = model.inspect(sequence)
    assert inspection.gates["h"].shape[1] == 10  # (layers, T, units): one step per point, both channels read
    with pytest.raises(SeqgenError, match=r"\(steps, 2\) array"):
        model.inspect(np.linspace(0, 1, 10))  # one channel is not enough


ONE_LINE = "the quick brown fox jumps over a lazy dog while my sister reads her letter"


def test_on_one_line_no_unit_is_said_to_follow_the_position_in_it(text_run):
    result = run("inspect", text_run.best_path, "--text", ONE_LINE, "--top", 10)
    assert result.exit_code == 0, result.output
    ranked = [line for line in result.output.splitlines() if "follows" in line]
    assert ranked and not any("position in the line" in line for line in ranked), result.output
    assert all("r = +1.00" not in line and "r = -1.00" not in line for line in ranked)


def test_a_unit_that_only_drifts_follows_no_feature_and_one_that_follows_a_feature_is_found_despite_drift():
    rng = np.random.default_rng(0)
    labels = list("one line here\nand a second, longer line of text\n" * 2)
    features = text_features(labels)
    steps = np.arange(len(labels))
    gates = {q: rng.uniform(0, 1, (1, len(labels), 4)).astype(np.float32) for q in "ifgoch"}
    gates["c"][0, :, 0] = steps * 0.01 + rng.normal(0, 0.01, len(labels))  # drifts through the input, nothing else
    gates["c"][0, :, 1] = features["word_start"] + steps * 0.05  # starts of words, on a strong drift
    inspection = Inspection("text", np.zeros(len(labels)), labels, gates, features=features)
    ranking = {(e["unit"], e["quantity"]): e for e in rank_units(inspection, 8)}
    assert ranking[(1, "c")]["feature"] == "word_start" and ranking[(1, "c")]["r"] > 0.95
    assert abs(ranking.get((0, "c"), {"r": 0.0})["r"]) < 0.5


def test_features_that_are_the_step_count_or_a_single_change_rank_nothing():
    from seqgen.inspect import series_features
    from seqgen.inspect.features import telling_features, unranked_reason

    def inspection(labels, features):
        gates = {q: np.random.default_rng(1).uniform(0, 1, (1, len(labels), 3)).astype(np.float32) for q in "ifgoch"}
        return Inspection("text", np.zeros(len(labels)), labels, gates, features=features)

    line = inspection(list(ONE_LINE), text_features(list(ONE_LINE)))
    assert "line_position" not in telling_features(line)  # one line: the column is the step
    assert {"word_start"} <= set(telling_features(line))
    unclosed = list('he said "and never stopped')  # a quote opened once: only a before and an after
    assert "in_quotes" not in telling_features(inspection(unclosed, text_features(unclosed)))
    short = series_features(np.sin(np.arange(10.0)), season=12)  # shorter than a season: the position is the step
    assert "season_position" not in telling_features(inspection(list("abcdefghij"), short))
    assert "value" in telling_features(inspection(list("abcdefghij"), short))
    few = inspection(list("a b"), text_features(list("a b")))
    assert rank_units(few) == [] and "too few" in unranked_reason(few)
    flat = inspection(list("aaaaaaaaaa"), {"line_position": np.zeros(10, dtype=np.float32)})
    assert rank_units(flat) == [] and "no feature" in unranked_reason(flat)
