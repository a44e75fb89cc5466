"""Numbers for "does it sound like the corpus": pitch classes, key, density and range of pieces."""

from __future__ import annotations

import numpy as np

from seqgen.music.events import piece_quarters

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])


def _histogram(pieces: list[dict]) -> np.ndarray:
    counts = np.zeros(12)
    for piece in pieces:
        for note in piece["notes"]:
            counts[note[3] % 12] += 1
    return counts / max(1.0, counts.sum())


def in_key_share(piece: dict) -> float:
    """Share of notes inside the major scale of the key signature (which also holds its relative
    minor's natural scale); without a key signature, the best-fitting of the twelve."""
    classes = np.array([n[3] % 12 for n in piece["notes"]])
    if len(classes) == 0:
        return 0.0
    if piece.get("key_sharps") is not None:
        tonics = [(7 * piece["key_sharps"]) % 12]
    else:
        tonics = range(12)
    return max(float(np.isin(classes, (MAJOR + t) % 12).mean()) for t in tonics)


def piece_stats(piece: dict, grid: int) -> dict:
    pitches = [n[3] for n in piece["notes"]]
    quarters = piece_quarters(piece, grid)
    return {
        "notes": len(pitches),
        "parts": len({n[2] for n in piece["notes"]}),
        "quarter_notes": quarters,
        "in_key_share": in_key_share(piece),
        "note_density": len(pitches) / quarters if quarters else 0.0,
        "lowest_pitch": min(pitches, default=0),
        "highest_pitch": max(pitches, default=0),
        "pitch_range": (max(pitches) - min(pitches)) if pitches else 0,
    }


def summarise(pieces: list[dict], grid: int) -> dict:
    """Means over pieces, and the pitch-class histogram over all their notes."""
    rows = [piece_stats(p, grid) for p in pieces if p["notes"]]
    keys = ["notes", "parts", "quarter_notes", "in_key_share", "note_density", "pitch_range", "lowest_pitch", "highest_pitch"]
    out = {k: float(np.mean([r[k] for r in rows])) if rows else 0.0 for k in keys}
    out["pieces"] = len(rows)
    out["pitch_class_histogram"] = [round(float(x), 4) for x in _histogram(pieces)]
    return out


def compare(generated: list[dict], reference: list[dict], grid: int) -> dict:
    """Statistics of generated pieces beside the corpus's, and the distance between pitch-class histograms
    (total variation: 0 identical, 1 disjoint)."""
    gen, ref = summarise(generated, grid), summarise(reference, grid)
    distance = 0.5 * float(np.abs(np.array(gen["pitch_class_histogram"]) - np.array(ref["pitch_class_histogram"])).sum())
    return {"generated": gen, "corpus": ref, "pitch_class_distance": distance}
