"""The inspection as a picture for a README: a heat map of a window of units (rows) over the input's steps
(columns, labelled with the text), or under the series for a forecast model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqgen.config import check
from seqgen.errors import SeqgenError
from seqgen.inspect.features import FEATURE_NAMES
from seqgen.plots import pyplot, save_figure

MAX_COLUMNS = 160  # steps drawn: beyond this the text labels stop being readable


def _shown(label: str) -> str:
    return {"\n": "↵", " ": "␣", "\t": "⇥"}.get(label, label)


def plot_heatmap(inspection, path, units=None, start: int = 0, columns: int = MAX_COLUMNS, rows: int = 12) -> Path:
    """Rows: `units`, a list of (layer, unit, quantity), by default the `rows` most telling units; columns:
    steps start … start + columns. Gates are drawn over 0..1, g and h over −1..1, C over ±its row's largest |C|."""
    plt = pyplot()

    from seqgen.inspect.page import start_view

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise SeqgenError(f"--png needs a file name ending in .png (or .svg, .pdf), not {path.name}")
    start = check("--start", start, int, min=0)
    if start >= inspection.steps:
        raise SeqgenError(f"--start {start} is past the input's last step ({inspection.steps - 1})")
    if units is not None:
        if not isinstance(units, (list, tuple)) or not all(isinstance(u, (list, tuple)) and len(u) == 3 for u in units):
            raise SeqgenError("units must be a list of (layer, unit, quantity), e.g. [(0, 5, 'c')]")
        units = [start_view(inspection, *u) for u in units]
    columns, rows = check("columns", columns, int, min=1), check("rows", rows, int, min=1)
    ranking = inspection.ranking(rows)
    if units is None:
        units = [(e["layer"], e["unit"], e["quantity"]) for e in ranking] or [(inspection.layers - 1, u, "c")
                                                                           for u in range(min(rows, inspection.units))]
    notes = {(e["layer"], e["unit"], e["quantity"]): e for e in ranking}
    series = inspection.kind == "series"
    stop = inspection.steps if series else min(inspection.steps, start + columns)
    start = 0 if series else start
    steps = np.arange(start, stop)
    matrix = np.stack([inspection.gates[q][layer, start:stop, unit] for layer, unit, q in units])  # (R, W)
    shown = np.stack([row if q in ("i", "f", "o") else (row / max(np.abs(row).max(), 1e-6) if q == "c" else row)
                      for row, (_, _, q) in zip(matrix, units)])
    signed = np.array([q not in ("i", "f", "o") for _, _, q in units])
    shown = np.where(signed[:, None], shown, shown * 2 - 1)  # every row on −1..1 for one colour scale

    width = max(8.0, min(22.0, 0.11 * len(steps) + 3.5))
    height = 0.32 * len(units) + (2.6 if series else 1.4)
    fig = plt.figure(figsize=(width, height), dpi=100)
    if series:
        top, ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.2, 0.32 * len(units)]})
        top.plot(steps, inspection.values, color="#333", lw=1.3)
        top.set_title(inspection.title, fontsize=10)
        top.grid(alpha=0.3)
    else:
        ax = fig.subplots()
        ax.set_title(inspection.title, fontsize=10)
    ax.imshow(shown, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest",
              extent=(steps[0] - 0.5, steps[-1] + 0.5, len(units) - 0.5, -0.5))
    labels = []
    for layer, unit, q in units:
        entry = notes.get((layer, unit, q))
        why = f"  {FEATURE_NAMES[entry['feature']]} r={entry['r']:+.2f}" if entry else ""
        labels.append(f"L{layer} u{unit} {q}{why}")
    ax.set_yticks(range(len(units)), labels, fontsize=7)
    if series:
        ticks = np.unique(np.linspace(0, len(steps) - 1, 8).astype(int))
        ax.set_xticks(steps[ticks], [str(inspection.labels[t]) for t in steps[ticks]], fontsize=7)
    else:
        ax.set_xticks(steps, [_shown(str(inspection.labels[t])) for t in steps], fontsize=7,
                      rotation=0 if inspection.kind == "text" and all(len(str(inspection.labels[t])) <= 1 for t in steps)
                      else 90)
        ax.tick_params(axis="x", length=0, pad=2)
    fig.tight_layout()
    return save_figure(fig, path)
