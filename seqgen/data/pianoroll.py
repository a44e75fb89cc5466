"""Piano-roll JSON corpora: {"train": [...], "valid": [...], "test": [...]}, each piece a list of frames,
each frame the sorted MIDI pitches sounding (the layout of the JSB chorales of Boulanger-Lewandowski et al., 2012)."""

from __future__ import annotations

import json
from pathlib import Path

from seqgen.errors import SeqgenError

SPLIT_NAMES = {"train": "train", "valid": "val", "val": "val", "test": "test"}  # the file's names → seqgen's
LOWEST, HIGHEST = 21, 108  # the 88 keys of the piano, A0 to C8


def is_pianoroll_corpus(spec: str) -> bool:
    """A piano-roll data set's name, or a .json file given as the corpus, is read as a piano roll."""
    from seqgen.data.corpora import REGISTRY

    if spec in REGISTRY:
        return REGISTRY[spec].kind == "piano-roll"
    return spec.lower().endswith(".json") and Path(spec).expanduser().is_file()


def read_pianoroll(spec: str) -> tuple[str, dict[str, list[list[list[int]]]]]:
    """(name, {"train", "val", "test": pieces}) from a piano-roll JSON file; a file of another shape is one line.

    Each frame comes back as its distinct pitches in ascending order. A split the file lacks is empty,
    but the training split must hold at least one frame.
    """
    from seqgen.data.corpora import cannot_read, dataset_file

    named = dataset_file(spec, "piano-roll", "language-model")
    path = named or Path(spec).expanduser()
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise cannot_read(path, error) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SeqgenError(f"{path} is not valid JSON; a piano-roll corpus is "
                          '{"train": [[[60, 64, 67], …], …], "valid": […], "test": […]}') from None
    if not isinstance(data, dict) or not any(key in data for key in SPLIT_NAMES):
        raise SeqgenError(f"{path} is not a piano-roll corpus: it needs a mapping with the keys train, valid and test, "
                          "each a list of pieces, each piece a list of frames of MIDI pitches")
    splits: dict[str, list] = {"train": [], "val": [], "test": []}
    for key, value in data.items():
        if key not in SPLIT_NAMES:
            continue
        if not isinstance(value, list):
            raise SeqgenError(f"{path}: {key!r} is not a list of pieces")
        for number, piece in enumerate(value, 1):
            splits[SPLIT_NAMES[key]].append(_frames(piece, f"{path.name}: {key} piece {number}"))
    if not any(splits["train"]):
        raise SeqgenError(f"{path}: the training split holds no frames")
    return spec if named else path.stem, splits


def _frames(piece, where: str) -> list[list[int]]:
    if not isinstance(piece, list):
        raise SeqgenError(f"{where} is not a list of frames")
    frames = []
    for index, frame in enumerate(piece, 1):
        if not isinstance(frame, list):
            raise SeqgenError(f"{where}, frame {index} is not a list of MIDI pitches")
        for pitch in frame:
            if isinstance(pitch, float) and pitch.is_integer():
                pitch = int(pitch)
            if type(pitch) is not int or not LOWEST <= pitch <= HIGHEST:
                raise SeqgenError(f"{where}, frame {index}: {json.dumps(pitch)[:20]} is not a piano key's MIDI pitch "
                                  f"({LOWEST}-{HIGHEST})")
        frames.append(sorted({int(p) for p in frame}))
    return frames
