"""Pieces you can hear: the MIDI file rendered to a WAV file by FluidSynth with a General MIDI soundfont
(the small TimGM6mb that ships with pretty_midi), as Magenta's notebooks do."""

from __future__ import annotations

import os
import tempfile
import wave
from pathlib import Path

from seqgen.errors import SeqgenError

SAMPLE_RATE = 44_100
INSTALL = ("WAV output needs FluidSynth: install the library (`apt install libfluidsynth3`, or "
           "`brew install fluid-synth` on macOS) and seqgen's audio extra (`pip install -e \".[audio]\"`)")


def synthesizer():
    """pretty_midi with a working pyfluidsynth, or one line saying what to install."""
    try:
        import pretty_midi
        import pretty_midi.fluidsynth as bridge
    except (ImportError, OSError):  # pyfluidsynth raises either when it cannot load libfluidsynth
        raise SeqgenError(INSTALL) from None
    if not bridge._HAS_FLUIDSYNTH:  # pyfluidsynth absent, or present without the libfluidsynth it loads
        raise SeqgenError(INSTALL) from None
    return pretty_midi


def render_midi(midi_path: Path, sample_rate: int = SAMPLE_RATE):
    """The MIDI file as mono float samples in -1..1 (the notes, then FluidSynth's one-second release)."""
    pretty_midi = synthesizer()
    try:
        return pretty_midi.PrettyMIDI(str(midi_path)).fluidsynth(fs=sample_rate)
    except (OSError, ValueError) as error:
        raise SeqgenError(f"FluidSynth could not render {midi_path}: {error}") from None


def write_wav(piece: dict, path: Path, grid: int, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write the piece as MIDI (a temporary file), render it, and write 16-bit mono PCM: whole or not at all."""
    import numpy as np

    from seqgen.music.scores import write_piece

    synthesizer()  # the missing library is one line before anything is written
    path = Path(path)
    with tempfile.TemporaryDirectory() as folder:
        midi = write_piece(piece, Path(folder) / "piece.mid", "midi", grid)
        samples = render_midi(midi, sample_rate)
    if len(samples) == 0:
        raise SeqgenError(f"FluidSynth rendered no sound for {path} (the piece has no notes)")
    pcm = (np.clip(samples, -1.0, 1.0) * 0.9 * 32767).astype("<i2")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise SeqgenError(f"cannot write {path}: {error.strerror or error}; choose a writable --output") from None
    return path
