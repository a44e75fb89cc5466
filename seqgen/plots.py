"""Drawing matplotlib figures: one home for the plotting backend (Agg: files, no window) and for the save every
plot in seqgen uses (atomic, through seqgen.files)."""

from __future__ import annotations

from pathlib import Path

from seqgen.files import staged


def pyplot():
    """matplotlib.pyplot on the Agg backend, which draws to files and needs no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Save to a temporary file beside `path`, then rename, so a reader never sees half a PNG and a failure
    leaves nothing behind; the figure is closed either way."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with staged(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png")
    finally:
        plt.close(fig)
    return path
