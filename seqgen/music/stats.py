"""Numbers for "does it sound like the corpus": pitch classes, key, density and range of pieces."""

from __future__ import annotations

import numpy as np

from seqgen.music.events import note_times, piece_quarters

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


def parallels(piece: dict, grid: int) -> tuple[int, int]:
    """(parallel fifths, parallel octaves or unisons) between every pair of parts.

    The piece is read at each onset of any part; a part sounds its highest pitch there (a chorale's
    voices are single lines). Two parts move in parallel when both move, in the same direction, from
    one onset to the next and stand a perfect fifth (or an octave) apart, modulo octaves, before and after.
    """
    times = note_times(piece, grid)
    onsets = sorted({o for o, _, _, _ in times})
    parts = sorted({v for _, _, v, _ in times})
    sounding = {v: [None] * len(onsets) for v in parts}  # part → its pitch at each onset
    index = {o: i for i, o in enumerate(onsets)}
    for offset, length, part, pitch in times:
        first = index[offset]
        for i in range(first, len(onsets)):
            if onsets[i] >= offset + length - 1e-9:
                break
            if sounding[part][i] is None or pitch > sounding[part][i]:
                sounding[part][i] = pitch
    fifths = octaves = 0
    for a_index, a in enumerate(parts):
        for b in parts[a_index + 1:]:
            for i in range(len(onsets) - 1):
                a1, a2, b1, b2 = sounding[a][i], sounding[a][i + 1], sounding[b][i], sounding[b][i + 1]
                if None in (a1, a2, b1, b2) or a1 == a2 or b1 == b2 or (a2 > a1) != (b2 > b1):
                    continue
                before, after = abs(a1 - b1) % 12, abs(a2 - b2) % 12
                if before == after == 7:
                    fifths += 1
                elif before == after == 0:
                    octaves += 1
    return fifths, octaves


def piece_stats(piece: dict, grid: int) -> dict:
    pitches = [n[3] for n in piece["notes"]]
    quarters = piece_quarters(piece, grid)
    fifths, octaves = parallels(piece, grid)
    return {
        "parallel_fifths_per_100_beats": 100 * fifths / quarters if quarters else 0.0,
        "parallel_octaves_per_100_beats": 100 * octaves / quarters if quarters else 0.0,
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
    keys = ["notes", "parts", "quarter_notes", "in_key_share", "note_density", "pitch_range", "lowest_pitch", "highest_pitch",
            "parallel_fifths_per_100_beats", "parallel_octaves_per_100_beats"]
    out = {k: float(np.mean([r[k] for r in rows])) if rows else 0.0 for k in keys}
    out["pieces"] = len(rows)
    out["range_per_part"] = part_ranges(pieces)
    out["pitch_class_histogram"] = [round(float(x), 4) for x in _histogram(pieces)]
    return out


def part_ranges(pieces: list[dict]) -> list[dict]:
    """Per part (0 is the first: a chorale's soprano): the mean lowest and highest pitch over the pieces that have it."""
    lows: dict[int, list[int]] = {}
    highs: dict[int, list[int]] = {}
    for piece in pieces:
        by_part: dict[int, list[int]] = {}
        for note in piece["notes"]:
            by_part.setdefault(note[2], []).append(note[3])
        for part, pitches in by_part.items():
            lows.setdefault(part, []).append(min(pitches))
            highs.setdefault(part, []).append(max(pitches))
    return [{"part": part, "pieces": len(lows[part]), "lowest": round(float(np.mean(lows[part])), 2),
             "highest": round(float(np.mean(highs[part])), 2)} for part in sorted(lows)]


def compare(generated: list[dict], reference: list[dict], grid: int) -> dict:
    """Statistics of generated pieces beside the corpus's, and the distance between pitch-class histograms
    (total variation: 0 identical, 1 disjoint)."""
    gen, ref = summarise(generated, grid), summarise(reference, grid)
    distance = 0.5 * float(np.abs(np.array(gen["pitch_class_histogram"]) - np.array(ref["pitch_class_histogram"])).sum())
    return {"generated": gen, "corpus": ref, "pitch_class_distance": distance}
