"""Pieces you can hear: the MIDI file rendered to a WAV file by FluidSynth with a General MIDI soundfont
(the small TimGM6mb that ships with pretty_midi), as Magenta's notebooks do."""

from __future__ import annotations

import contextlib
import tempfile
import wave
from pathlib import Path

from seqgen.errors import SeqgenError
from seqgen.files import reason, write_atomically

SAMPLE_RATE = 44_100
DEFAULT_TEMPO = 120.0  # quarter notes a minute of a MIDI file without a tempo (music21 writes none then)
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

    from seqgen.music.events import piece_end
    from seqgen.music.scores import write_piece

    synthesizer()  # the missing library is one line before anything is written
    path = Path(path)
    try:
        with tempfile.TemporaryDirectory() as folder:
            midi = write_piece(piece, Path(folder) / "piece.mid", "midi", grid, atomic=False)
            samples = render_midi(midi, sample_rate)
    except OSError as error:  # the MIDI file FluidSynth reads, in the system's temporary folder
        raise SeqgenError(f"cannot write {path}: {reason(error)} (its MIDI, rendered from the temporary folder "
                          f"{tempfile.gettempdir()})") from None
    if len(samples) == 0:
        raise SeqgenError(f"FluidSynth rendered no sound for {path} (the piece has no notes)")
    # FluidSynth stops at the last note's release; the piece's silent last bars are silence to its end
    seconds = piece_end(piece, grid) * 60.0 / (piece.get("tempo") or DEFAULT_TEMPO)
    samples = np.pad(samples, (0, max(0, int(round(seconds * sample_rate)) - len(samples))))
    pcm = (np.clip(samples, -1.0, 1.0) * 0.9 * 32767).astype("<i2")

    def write(f):
        out = wave.open(f, "wb")  # on a file object: a failed open leaves no half-made writer to complain later
        try:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm.tobytes())
        except BaseException:
            with contextlib.suppress(Exception):
                out.close()  # so that its __del__ has nothing left to write
            raise
        out.close()

    return write_atomically(path, write, hint="; choose a writable --output")
