"""Simple features of what a model read, and the units whose activation follows one of them best: the
"most telling units" of an inspection (after the interpretable cells of Karpathy, Johnson and Fei-Fei 2015).

Text: inside quotes, inside brackets, position in the line, start of a word, end of a sentence.
Music: position in the bar, part; a piano roll: position in the bar, the voice in the frame, the pitch.
Series: the value, its change, position in the season.
"""

from __future__ import annotations

import numpy as np

FEATURE_NAMES = {
    "in_quotes": "inside quotes", "in_brackets": "inside brackets", "line_position": "position in the line",
    "word_start": "start of a word", "sentence_end": "end of a sentence",
    "bar_position": "position in the bar", "part": "part (voice)",
    "voice": "voice in the frame, from the lowest", "pitch": "pitch",
    "value": "value", "change": "change from the point before", "season_position": "position in the season",
    "remaining": "estimated remaining steps",
}
QUOTES = {'"': None, "“": True, "”": False, "«": True, "»": False}  # None: a straight quote opens or closes
OPENING, CLOSING = "([{", ")]}"
SENTENCE_END = ".!?"


def text_features(labels: list) -> dict:
    """One value per token, read from its characters: 1/0 flags, and the line position in characters."""
    count = len(labels)
    out = {name: np.zeros(count, dtype=np.float32)
           for name in ("in_quotes", "in_brackets", "line_position", "word_start", "sentence_end")}
    quoted, depth, column, previous = False, 0, 0, "\n"
    for t, piece in enumerate(labels):
        if not piece:
            continue
        first = piece.lstrip(" ") or piece
        out["line_position"][t] = column
        out["word_start"][t] = first[0].isalnum() and (piece[0] == " " or not previous[-1].isalnum())
        out["sentence_end"][t] = any(ch in SENTENCE_END for ch in piece)
        # a token is inside when it is read inside, or is one of the marks: the opening and the closing one count
        out["in_quotes"][t] = quoted or any(ch in QUOTES for ch in piece)
        out["in_brackets"][t] = depth > 0 or any(ch in OPENING or ch in CLOSING for ch in piece)
        for ch in piece:
            if ch in QUOTES:
                quoted = (not quoted) if QUOTES[ch] is None else QUOTES[ch]
            elif ch in OPENING:
                depth += 1
            elif ch in CLOSING:
                depth = max(0, depth - 1)
            column = 0 if ch == "\n" else column + 1
        out["in_quotes"][t] = out["in_quotes"][t] or quoted
        out["in_brackets"][t] = out["in_brackets"][t] or depth > 0
        previous = piece
    return out


def music_features(labels: list) -> dict:
    """Position in the bar (the last pos_ token, in grid steps) and part (the last part_ token) at each token."""
    count = len(labels)
    out = {"bar_position": np.zeros(count, dtype=np.float32), "part": np.zeros(count, dtype=np.float32)}
    position, part = 0, 0
    for t, name in enumerate(labels):
        if name == "bar":
            position = 0
        elif name.startswith("pos_"):
            position = int(name[4:])
        elif name.startswith("part_"):
            part = int(name[5:])
        out["bar_position"][t], out["part"][t] = position, part
    return out


def frame_features(labels: list) -> dict:
    """A piano roll's tokens (pitch_60 … frame): the frame's position in the bar (4/4, a frame a quarter note),
    the voice each pitch is in its frame counted from the lowest (at `frame`: the voices the frame had), and
    the pitch last read."""
    count = len(labels)
    out = {name: np.zeros(count, dtype=np.float32) for name in ("bar_position", "voice", "pitch")}
    frame, voice, pitch = 0, 0, 0
    for t, name in enumerate(labels):
        if name.startswith("pitch_"):
            pitch = int(name[6:])
        out["bar_position"][t], out["voice"][t], out["pitch"][t] = frame % 4, voice, pitch
        if name.startswith("pitch_"):
            voice += 1
        elif name == "frame":
            frame, voice = frame + 1, 0
        elif name == "piece":
            frame, voice, pitch = 0, 0, 0
    return out


def series_features(values: np.ndarray, season: int, positions=None) -> dict:
    """The value, its change from the point before, and (with a season) the position in the season of each
    point; `positions` are the points' indices in the whole series (default 0, 1, …). In 64-bit floats: the change
    between values near the 32-bit limit (±3.4e38) and its range would overflow 32 bits."""
    values = np.asarray(values, dtype=np.float64)
    out = {"value": values, "change": np.r_[0.0, np.diff(values)]}
    if season > 1:
        positions = np.arange(len(values)) if positions is None else np.asarray(positions)
        out["season_position"] = (positions % season).astype(np.float32)
    return out


MIN_STEPS = 8  # fewer steps leave too few points, once the drift is taken out, for an r to mean anything
MIN_RANGE = 1e-3  # a unit whose value moves less than this over the input is flat (float rounding, not a signal)
COLLINEAR = 0.999  # a feature this close to a straight line in time (R²) is the step count, not a feature


def correlations(activations: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of activations (N, T) with every row of features (K, T) → (N, K);
    a row that never changes correlates 0 with everything."""
    def standardise(rows):
        rows = rows.astype(np.float64) - rows.mean(1, keepdims=True)
        norm = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.divide(rows, norm, out=np.zeros_like(rows), where=norm > 1e-12)

    return standardise(activations) @ standardise(features).T


def without_drift(rows: np.ndarray) -> np.ndarray:
    """Rows (N, T) less their mean and their straight-line trend over the steps (least squares on 1, t)."""
    rows = rows.astype(np.float64)
    rows = rows - rows.mean(1, keepdims=True)
    steps = np.arange(rows.shape[1], dtype=np.float64)
    steps -= steps.mean()
    steps /= max(np.linalg.norm(steps), 1e-12)
    return rows - np.outer(rows @ steps, steps)


def telling_features(inspection) -> dict:
    """The features a unit can be ranked by: each changes value at least twice (a single change only splits the
    input in a before and an after, which any unit drifting through it follows), and is no straight line in
    time (the position in a one-line text is the step count itself)."""
    if inspection.steps < MIN_STEPS:
        return {}
    out = {}
    for name, values in inspection.features.items():
        values = np.asarray(values, dtype=np.float64)
        if np.count_nonzero(np.diff(values)) < 2:
            continue
        centred = values - values.mean()
        left = without_drift(values[None])[0]
        if np.dot(left, left) <= (1 - COLLINEAR) * np.dot(centred, centred):
            continue
        out[name] = values
    return out


def unranked_reason(inspection) -> str:
    """Why rank_units found nothing to rank by."""
    if inspection.steps < MIN_STEPS:
        return f"the input has {inspection.steps} steps, too few to rank units by (at least {MIN_STEPS})"
    return "no feature of this input varies apart from the steady progress through it, so no unit is ranked"


def rank_units(inspection, top: int = 10, quantities=("c", "h")) -> list:
    """The `top` units whose C or h follows one feature of the input best (largest |r|), each unit listed once,
    with the feature, the quantity and r. Empty when no feature varies enough (telling_features).

    r is the correlation once the straight-line drift over the steps is taken out of both the unit and the
    feature (a partial correlation, time held fixed): a unit that only drifts through the input follows no
    feature, however a feature happens to rise with the position in it. A unit that hardly moves is skipped."""
    telling = telling_features(inspection)
    if not telling:
        return []
    names = list(telling)
    features = without_drift(np.stack([telling[name] for name in names]))  # (K, T)
    best = {}
    for quantity in quantities:
        values = inspection.gates[quantity]  # (L, T, U)
        layers, _, units = values.shape
        rows = values.transpose(0, 2, 1).reshape(layers * units, -1)  # (L·U, T)
        flat = np.ptp(rows, axis=1) < MIN_RANGE
        rows = without_drift(rows)
        rows[flat] = 0.0
        r = correlations(rows, features)  # (L·U, K)
        for row, column in zip(*np.unravel_index(np.argsort(-np.abs(r), axis=None)[:4 * top], r.shape)):
            if r[row, column] == 0.0:
                continue
            key = divmod(int(row), units)
            if key not in best or abs(r[row, column]) > abs(best[key]["r"]):
                best[key] = {"layer": key[0], "unit": key[1], "quantity": quantity, "feature": names[column],
                             "r": float(r[row, column])}
    return sorted(best.values(), key=lambda entry: -abs(entry["r"]))[:top]


def describe(entry: dict, units_per_direction: int | None = None) -> str:
    """'layer 1, unit 37: C follows start of a word (r = 0.81)'."""
    unit = entry["unit"]
    where = f"unit {unit}"
    if units_per_direction is not None and unit >= units_per_direction:
        where = f"unit {unit} (backward {unit - units_per_direction})"
    return (f"layer {entry['layer']}, {where}: {'C' if entry['quantity'] == 'c' else entry['quantity']} follows "
            f"{FEATURE_NAMES.get(entry['feature'], entry['feature'])} (r = {entry['r']:+.2f})")
