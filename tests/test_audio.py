"""`seqgen sample --output x.wav`: generated music rendered to audio by FluidSynth, for real (CI installs
libfluidsynth3), and one line saying what to install where it is missing."""

import json
import os
import random
import wave

import mido
import numpy as np
import pytest
from conftest import one_line_error, run


def fluidsynth_works() -> bool:
    try:
        import pretty_midi.fluidsynth as bridge
    except (ImportError, OSError):
        return False
    return bridge._HAS_FLUIDSYNTH


# CI installs FluidSynth, so there the test must run; elsewhere a machine without it skips the rendering.
needs_fluidsynth = pytest.mark.skipif(not fluidsynth_works() and not os.environ.get("CI"),
                                      reason="FluidSynth is not installed (apt install libfluidsynth3; pip install -e .[audio])")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    rng = random.Random(1)
    pieces = [[sorted(rng.sample(range(48, 80), 4)) for _ in range(16)] for _ in range(6)]
    corpus = folder / "roll.json"
    corpus.write_text(json.dumps({"train": pieces[:4], "valid": pieces[4:5], "test": pieces[5:]}))
    result = run("train", "--corpus", corpus, "--max-steps", 30, "--batch-size", 2, "--bptt", 16, "--hidden-size", 32,
                 "--embedding-dim", 16, "--output-dir", folder / "runs", "--name", "m", "--sample-length", 10,
                 "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    return folder / "runs" / "m"


def last_note_end(path) -> float:
    clock, end = 0.0, 0.0
    for message in mido.MidiFile(str(path)):  # seconds
        clock += message.time
        if message.type in ("note_on", "note_off"):
            end = clock
    return end


@pytest.mark.slow
@needs_fluidsynth
def test_wav_output_is_audio_of_the_piece_length_and_not_silent(model, tmp_path):
    common = ["--bars", 2, "--seed", 3, "--temperature", 1.0]
    assert run("sample", model, "--output", tmp_path / "x.mid", *common).exit_code == 0
    result = run("sample", model, "--output", tmp_path / "x.wav", *common)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("x.wav")
    with wave.open(str(tmp_path / "x.wav")) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 44_100)
        seconds = audio.getnframes() / audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").astype(float) / 32768
    # the same seed draws the same piece: its notes, then FluidSynth's one-second release, and at least its two
    # bars (eight quarter notes at 120 a minute), silent last beats included
    assert seconds == pytest.approx(max(last_note_end(tmp_path / "x.mid") + 1.0, 4.0), abs=0.05)
    assert mido.MidiFile(str(tmp_path / "x.mid")).length == pytest.approx(4.0)
    assert np.sqrt(np.mean(samples ** 2)) > 0.01  # not silent
    # --format wav names the file .wav itself
    result = run("sample", model, "--output", tmp_path / "y", "--format", "wav", *common)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "y.wav").stat().st_size == (tmp_path / "x.wav").stat().st_size


def test_without_fluidsynth_one_line_says_what_to_install(model, tmp_path, monkeypatch):
    import pretty_midi.fluidsynth as bridge

    monkeypatch.setattr(bridge, "_HAS_FLUIDSYNTH", False)  # what pretty_midi records when pyfluidsynth cannot load
    line = one_line_error(run("sample", model, "--output", tmp_path / "x.wav", "--seed", 1))
    assert "apt install libfluidsynth3" in line and "brew install fluid-synth" in line and "[audio]" in line
    assert not (tmp_path / "x.wav").exists()


def test_a_wav_format_with_another_suffix_is_refused(model, tmp_path):
    line = one_line_error(run("sample", model, "--output", tmp_path / "x.mid", "--format", "wav", "--seed", 1))
    assert "x.wav" in line


@pytest.mark.slow
@needs_fluidsynth
def test_wav_into_an_unwritable_place_is_one_line_and_nothing_after_it(model, tmp_path, monkeypatch):
    import gc
    import sys

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)  # "Exception ignored in ...", as Python prints it
    for target in ("/proc/x.wav", tmp_path / "f" / "x.wav"):
        (tmp_path / "f").write_bytes(b"")  # a file where the folder would be
        line = one_line_error(run("sample", model, "--output", target, "--seed", 1, "--bars", 1))
        assert "cannot" in line
        gc.collect()
    assert unraisable == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
