"""Writing matplotlib figures: one home for the atomic save every plot in seqgen uses."""

from __future__ import annotations

import os
from pathlib import Path

from seqgen.errors import SeqgenError


def save_figure(fig, path: Path) -> Path:
    """Save to a temporary file beside `path`, then rename, so a reader never sees half a PNG."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    except OSError as error:
        raise SeqgenError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        plt.close(fig)
    return path
