"""Simple features of what a model read, and the units whose activation follows one of them best: the
"most telling units" of an inspection (after the interpretable cells of Karpathy, Johnson and Fei-Fei 2015).

Text: inside quotes, inside brackets, position in the line, start of a word, end of a sentence.
Music: position in the bar, part. Series: the value, its change, position in the season.
"""

from __future__ import annotations

import numpy as np

FEATURE_NAMES = {
    "in_quotes": "inside quotes", "in_brackets": "inside brackets", "line_position": "position in the line",
    "word_start": "start of a word", "sentence_end": "end of a sentence",
    "bar_position": "position in the bar", "part": "part (voice)",
    "value": "value", "change": "change from the point before", "season_position": "position in the season",
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


def correlations(activations: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of activations (N, T) with every row of features (K, T) → (N, K);
    a row that never changes correlates 0 with everything."""
    def standardise(rows):
        rows = rows.astype(np.float64) - rows.mean(1, keepdims=True)
        norm = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.divide(rows, norm, out=np.zeros_like(rows), where=norm > 1e-12)

    return standardise(activations) @ standardise(features).T


def rank_units(inspection, top: int = 10, quantities=("c", "h")) -> list:
    """The `top` units whose C or h follows one feature of the input best (largest |r|), each unit listed once,
    with the feature, the quantity and r. Empty when the input has no feature that varies."""
    names = [name for name, values in inspection.features.items() if np.ptp(values) > 0]
    if not names or inspection.steps < 3:
        return []
    features = np.stack([inspection.features[name] for name in names])  # (K, T)
    best = {}
    for quantity in quantities:
        values = inspection.gates[quantity]  # (L, T, U)
        layers, _, units = values.shape
        r = correlations(values.transpose(0, 2, 1).reshape(layers * units, -1), features)  # (L·U, K)
        for row, column in zip(*np.unravel_index(np.argsort(-np.abs(r), axis=None)[:4 * top], r.shape)):
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
