"""Piano-roll pictures of pieces (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from seqgen.music.events import note_times, piece_end
from seqgen.plots import pyplot, save_figure


def plot_piano_roll(piece: dict, grid: int, path: Path, title: str | None = None) -> Path:
    plt = pyplot()

    times = note_times(piece, grid)
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    colours = plt.get_cmap("tab10")
    for part in sorted({t[2] for t in times}):
        bars = [(o, d) for o, d, v, _ in times if v == part]
        pitches = [p for _, _, v, p in times if v == part]
        for (offset, length), pitch in zip(bars, pitches):
            ax.broken_barh([(offset, length)], (pitch - 0.4, 0.8), color=colours(part % 10))
        ax.plot([], [], color=colours(part % 10), lw=6, label=f"part {part + 1}")
    if times:
        ax.set_xlim(0, piece_end(piece, grid))  # silent last bars included
        ax.set_ylim(min(p for *_, p in times) - 2, max(p for *_, p in times) + 2)
        ax.legend(loc="upper right", fontsize=8, ncol=4)
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or piece.get("name", ""))
    ax.grid(alpha=0.25)
    fig.tight_layout()
    return save_figure(fig, path)
