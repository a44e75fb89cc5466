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
