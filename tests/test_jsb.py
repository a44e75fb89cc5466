"""Piano-roll corpora (the JSB chorales layout): the reader, the frame encoding with its mask, training
through the language-model task, NLL per frame, and generated pieces written as MIDI."""

import json
import math
import random

import mido
import numpy as np
import pytest
import torch
from conftest import one_line_error, run

from seqgen.data.pianoroll import read_pianoroll
from seqgen.errors import SeqgenError
from seqgen.models import LSTMLanguageModel, ModelConfig
from seqgen.music.frames import FrameTokenizer, frames_to_piece, piece_to_frames, transpose_frames
from seqgen.tasks.language_model.evaluate import frame_loss


def random_piece(rng, frames=24):
    """Four voices moving by small steps around a chord, sometimes resting, sometimes holding."""
    voices, out = [48, 55, 64, 72], []
    for _ in range(frames):
        voices = [min(100, max(30, v + rng.choice([-2, -1, 0, 0, 1, 2]))) for v in voices]
        out.append(sorted({v for v in voices if rng.random() > 0.05}))
    return out


@pytest.fixture
def roll_file(tmp_path):
    rng = random.Random(0)
    data = {"train": [random_piece(rng) for _ in range(8)], "valid": [random_piece(rng) for _ in range(2)],
            "test": [random_piece(rng) for _ in range(3)]}
    data["test"][0].insert(3, [])  # an empty frame is a frame too
    path = tmp_path / "roll.json"
    path.write_text(json.dumps(data))
    return path


def test_frames_encode_one_to_one_and_decode_back(roll_file):
    tokenizer = FrameTokenizer()
    _, splits = read_pianoroll(str(roll_file))
    for piece in splits["train"] + splits["test"]:
        ids = tokenizer.encode_frames(piece)
        assert tokenizer.decode_frames(ids) == [piece]
        assert ids.count(tokenizer.frame_id) == len(piece)
        # as a piece: quarter-note frames, a pitch held over consecutive frames is one note
        assert piece_to_frames(frames_to_piece(piece, "x")) == piece


def test_held_notes_are_tied_into_one_note():
    piece = frames_to_piece([[60, 67], [60, 69], [60], [62]], "x")
    assert [60, 3] in [[n[3], n[4]] for n in piece["notes"]]
    assert sorted(n[4] for n in piece["notes"] if n[3] in (67, 69, 62)) == [1, 1, 1]


def test_the_mask_leaves_only_higher_pitches_or_the_frame_end():
    tokenizer = FrameTokenizer()
    allowed = tokenizer.next_token_mask()
    after_60 = {tokenizer.tokens[j] for j in np.flatnonzero(allowed[tokenizer.pitch_id(60)])}
    assert after_60 == {"frame"} | {f"pitch_{p}" for p in range(61, 109)}
    assert not allowed[:, tokenizer.piece_id].any()  # the number of frames is given, never predicted
    assert allowed[tokenizer.pitch_id(108)].sum() == 1  # the top key can only end the frame
    assert transpose_frames([[100, 107]], 2) is None  # C8 + 1 leaves the keyboard


def test_frame_loss_is_the_log_likelihood_of_each_frame():
    """Against a naive reference: for each frame, the product of its tokens' probabilities under the
    renormalised (masked) distribution, scored piece by piece from a zero state."""
    torch.manual_seed(0)
    tokenizer = FrameTokenizer()
    model = LSTMLanguageModel(ModelConfig(num_tokens=tokenizer.vocab_size, embedding_dim=8, hidden_size=16,
                                          num_layers=1, dropout=0.0)).eval()
    pieces = [[[60, 64, 67], [], [62, 65]], [[48], [50, 53, 57, 60]]]
    ids = np.array([i for p in pieces for i in tokenizer.encode_frames(p)])
    allowed = tokenizer.next_token_mask()
    total = 0.0
    for piece in pieces:
        tokens = tokenizer.encode_frames(piece)
        with torch.no_grad():
            logits, _ = model(torch.tensor([tokens]))
        for position in range(len(tokens) - 1):
            probabilities = torch.softmax(logits[0, position], -1).numpy() * allowed[tokens[position]]
            total -= math.log(probabilities[tokens[position + 1]] / probabilities.sum())
    loss, frames = frame_loss(model, ids, tokenizer, "cpu")
    assert frames == 5
    assert loss == pytest.approx(total / 5, rel=1e-5)


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    ('{"train": [[[60, 200]]]}', "not a piano key"),
    ('{"train": [[60, 64]]}', "not a list of MIDI pitches"),
    ('{"train": [], "test": [[[60]]]}', "training split holds no frames"),
    ('[[60]]', "keys train, valid and test"),
])
def test_a_file_of_another_shape_is_one_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SeqgenError, match=message):
        read_pianoroll(str(path))
    result = run("train", "--corpus", path, "--max-steps", 1, "--output-dir", tmp_path / "runs")
    assert message in one_line_error(result)


@pytest.mark.slow
def test_train_evaluate_and_sample_a_piano_roll(roll_file, tmp_path):
    result = run("train", "--corpus", roll_file, "--max-steps", 40, "--batch-size", 4, "--bptt", 16,
                 "--hidden-size", 32, "--embedding-dim", 16, "--eval-interval", 20, "--augment", 2,
                 "--output-dir", tmp_path / "runs", "--name", "jsb", "--sample-length", 60, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    history = json.loads((tmp_path / "runs" / "jsb" / "run.json").read_text())["history"]
    assert any("val_loss_per_quarter" in h for h in history)  # a frame is a quarter note: nats per frame
    result = run("evaluate", tmp_path / "runs" / "jsb", "--split", "test", "--json", "--num-generated", 2)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["frames"] == 3 * 24 + 1 and figures["pieces"] == 3
    # the per-frame figure is the per-token one times the scored tokens (pitches and frame ends) per frame
    scored = figures["tokens"] - figures["pieces"]
    assert figures["loss_per_frame"] == pytest.approx(figures["loss"] * scored / figures["frames"])
    assert 0 < figures["loss_per_frame"] < 88 * math.log(2)  # better than a coin for every key
    assert figures["generated_vs_corpus"]["generated"]["pieces"] == 2

    out = tmp_path / "out" / "piece.mid"
    result = run("sample", tmp_path / "runs" / "jsb", "--bars", 3, "--num-samples", 2, "--seed", 1, "--output", out,
                 "--prime", "pitch_48 pitch_60 frame", "--temperature", 1.2)
    assert result.exit_code == 0, result.output
    for path in (out.with_name("piece-1.mid"), out.with_name("piece-2.mid")):
        clock, last_end, onsets = 0.0, 0.0, []
        for message in mido.MidiFile(str(path)):  # times in seconds, at music21's 120 beats per minute
            clock += message.time
            if message.type == "note_on" and message.velocity > 0:
                onsets.append(message.note)
            elif message.type in ("note_off", "note_on"):
                last_end = clock
        # the primer's frame and 3 bars of four quarter-note frames: 13 half-seconds at most
        assert 0 < last_end <= 13 * 0.5 + 1e-6
        assert onsets and all(21 <= n <= 108 for n in onsets)
    bad = run("sample", tmp_path / "runs" / "jsb", "--prime", "pitch_60 pitch_48 frame", "--output", out)
    assert "cannot follow" in one_line_error(bad)


def test_transpose_common_is_refused_for_a_piano_roll(roll_file, tmp_path):
    result = run("train", "--corpus", roll_file, "--transpose", "common", "--max-steps", 1,
                 "--output-dir", tmp_path / "runs")
    assert "--augment" in one_line_error(result)


def test_any_token_sequence_decodes_to_valid_frames():
    tokenizer, rng = FrameTokenizer(), random.Random(3)
    for _ in range(50):
        ids = [rng.randrange(tokenizer.vocab_size) for _ in range(rng.randrange(1, 80))]
        for frames in tokenizer.decode_frames(ids):
            for frame in frames:
                assert frame == sorted(set(frame)) and all(21 <= p <= 108 for p in frame)
            assert piece_to_frames(frames_to_piece(frames, "x")) == frames


@pytest.fixture(scope="module")
def roll_run(tmp_path_factory):
    """A tiny piano-roll model (a few steps: what it draws does not matter here, only what it reads and writes)."""
    folder = tmp_path_factory.mktemp("roll")
    rng = random.Random(0)
    data = {"train": [random_piece(rng) for _ in range(6)], "valid": [random_piece(rng)], "test": [random_piece(rng)]}
    (folder / "roll.json").write_text(json.dumps(data))
    result = run("train", "--corpus", folder / "roll.json", "--max-steps", 4, "--batch-size", 2, "--bptt", 16,
                 "--hidden-size", 16, "--embedding-dim", 8, "--num-layers", 2, "--eval-interval", 4,
                 "--output-dir", folder / "runs", "--name", "jsb", "--sample-length", 0, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    return folder / "runs" / "jsb"


FRAMES = "pitch_48 pitch_55 pitch_64 pitch_72 frame pitch_50 pitch_55 pitch_65 pitch_71 frame frame pitch_48 frame " * 3


def tune(path, pitches=(60, 62, 64, 65), beats=1.0):
    """One voice of quarter notes (beats long each), with a second voice a fifth below under the first note."""
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.Message("note_on", note=pitches[0] - 7, velocity=80, time=0))
    for index, pitch in enumerate(pitches):
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=int(480 * beats)))
        if index == 0:
            track.append(mido.Message("note_off", note=pitches[0] - 7, velocity=0, time=0))
    song.tracks.append(track)
    song.save(str(path))
    return path


@pytest.mark.slow
def test_inspect_reads_a_piano_roll_from_frame_tokens_and_from_a_midi_file(roll_run, tmp_path):
    import seqgen

    tokenizer = FrameTokenizer()
    result = run("inspect", roll_run, "--text", FRAMES, "--html", tmp_path / "p.html", "--save", tmp_path / "g.npz",
                 "--png", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    saved = np.load(tmp_path / "g.npz")
    assert saved["tokens"].tolist() == [tokenizer.piece_id] + [tokenizer.index[t] for t in FRAMES.split()]
    assert saved["h"].shape == (2, len(saved["tokens"]), 16)
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "pitch_55" in page and "frame" in page
    # a MIDI file is read as the piano roll's quarter-note frames: the low G held under the first note only
    inspection = seqgen.load(roll_run, device="cpu").inspect(prime_midi=str(tune(tmp_path / "t.mid")))
    assert inspection.labels == ["piece", "pitch_53", "pitch_60", "frame", "pitch_62", "frame", "pitch_64", "frame",
                                 "pitch_65", "frame"]
    assert set(inspection.features) == {"bar_position", "voice", "pitch"}
    assert inspection.features["voice"].tolist() == [0, 0, 1, 2, 0, 1, 0, 1, 0, 1]
    result = run("inspect", roll_run, "--prime-midi", tmp_path / "t.mid", "--top", 2)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, message", [
    (["--text", "pitch_64 pitch_60 frame"], "--text: pitch_60 cannot follow pitch_64"),
    (["--text", "pitch_60 pos_4 frame"], "unknown: pos_4"),
    (["--text", "   "], "frame tokens with --text"),
    (["--prime-midi", "x.mid", "--text", "frame"], "not both"),
    (["--text", "pitch_60 frame", "--member", 1], "--member does not apply"),
])
def test_bad_piano_roll_input_to_inspect_is_one_line(roll_run, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert message in one_line_error(run("inspect", roll_run, *args))


def test_a_piano_roll_sample_continues_a_midi_file(roll_run, tmp_path):
    out = tmp_path / "s.mid"
    result = run("sample", roll_run, "--prime-midi", tune(tmp_path / "t.mid"), "--bars", 1, "--seed", 1,
                 "--output", out)
    assert result.exit_code == 0, result.output
    onsets = [m.note for m in mido.MidiFile(str(out)) if m.type == "note_on" and m.velocity > 0]
    assert onsets[:3] == [53, 60, 62]  # the primer's notes come first
    assert mido.MidiFile(str(out)).length == pytest.approx(8 * 0.5)  # its 4 frames and 1 bar of 4: 8 quarter notes
    alone = run("sample", roll_run, "--prime-midi", tmp_path / "t.mid", "--bars", 1, "--seed", 1, "--no-keep-primer",
                "--output", tmp_path / "alone.mid")
    assert alone.exit_code == 0, alone.output
    assert mido.MidiFile(str(tmp_path / "alone.mid")).length == pytest.approx(4 * 0.5)  # the new bar alone
    low = tune(tmp_path / "low.mid", pitches=(20, 30))  # A0 is the lowest key: 20 and its fifth below are off it
    line = one_line_error(run("sample", roll_run, "--prime-midi", low, "--output", out))
    assert "outside the piano's 88 keys" in line and "13, 20" in line


@pytest.mark.parametrize("bars", [1, 3])
def test_bars_gives_exactly_that_many_bars_whatever_the_length(roll_run, tmp_path, bars):
    out = tmp_path / "s.mid"
    result = run("sample", roll_run, "--bars", bars, "--length", 5, "--num-samples", 3, "--seed", 2,
                 "--temperature", 1.5, "--output", out)
    assert result.exit_code == 0, result.output
    for index in (1, 2, 3):
        # 4 quarter-note frames a bar, 120 quarter notes a minute; silent last frames are part of the piece
        assert mido.MidiFile(str(out.with_name(f"s-{index}.mid"))).length == pytest.approx(bars * 2.0)
