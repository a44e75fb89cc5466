"""What `inspect` records: every gate, C and h of every layer at every step of one input, read in windows
with the state carried, the model's prediction at each step, and the .npz file they are saved as."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.config import check
from seqgen.errors import SeqgenError
from seqgen.files import reason, write_atomically
from seqgen.models.gates import QUANTITIES, lstm_gates

WINDOW = 512  # steps read at once; the state is carried from one window to the next
# Every unit's six values at every step are kept (24 bytes per unit and step: 2×256 units read 50,000
# characters in 1.2 GB), so an input longer than this is refused rather than left to exhaust memory, unless
# it is saved as it is read (NpzStream), one part of PART steps at a time (2×256 units: 100 MB).
MAX_STEPS = 50_000
PART = 8192


@dataclass
class Inspection:
    """Everything one reading recorded. `gates[q]` is (layers, T, units) for q in i, f, g, o, c, h; with two
    directions a layer's units are the forward ones, then the backward ones (nn.LSTM's output order)."""

    kind: str  # "text", "music" or "series"
    tokens: np.ndarray  # (T,) token ids as the model read them; a series: the index of each point
    labels: list  # (T,) how each step is shown: its characters, event name or date
    gates: dict
    directions: int = 1
    top_tokens: Optional[np.ndarray] = None  # (T, k): the model's most likely next tokens after each step
    top_probs: Optional[np.ndarray] = None  # (T, k): their probabilities
    top_labels: Optional[list] = None  # (T, k) their labels
    forecast: Optional[np.ndarray] = None  # (T,) a series: the one-step forecast made after each point
    values: Optional[np.ndarray] = None  # (T,) a series: the value at each point
    title: str = ""
    features: dict = field(default_factory=dict)  # name → (T,) simple features of the input, to rank units by

    def __getitem__(self, quantity: str) -> np.ndarray:
        return self.gates[quantity]

    @property
    def layers(self) -> int:
        return self.gates["h"].shape[0]

    @property
    def steps(self) -> int:
        return self.gates["h"].shape[1]

    @property
    def units(self) -> int:
        return self.gates["h"].shape[2]

    def arrays(self) -> dict:
        """The .npz contents: tokens, i, f, g, o, c, h, and the predictions (or forecast and values)."""
        out = {"tokens": np.asarray(self.tokens, dtype=np.int64), **{q: self.gates[q] for q in QUANTITIES}}
        for name in ("top_tokens", "top_probs", "forecast", "values"):
            if getattr(self, name) is not None:
                out[name] = np.asarray(getattr(self, name))
        return out

    def save(self, path) -> Path:
        """Write the arrays as .npz (to a temporary file first, then renamed)."""
        path = Path(check("--save", path, str, path=True))
        if path.suffix != ".npz":
            raise SeqgenError(f"--save writes a .npz file; give a name ending in .npz, not {path.name}")
        return write_atomically(path, lambda f: np.savez(f, **self.arrays()))

    def ranking(self, top: int = 10) -> list:
        """The most telling units: see seqgen.inspect.features.rank_units."""
        from seqgen.inspect.features import rank_units

        return rank_units(self, check("--top", top, int, min=1))

    def saturation(self) -> dict:
        """For each gate i, f, o: (layers, units, 2), the share of steps each unit spends below 0.1 and above 0.9."""
        return {q: np.stack([(self.gates[q] < 0.1).mean(1), (self.gates[q] > 0.9).mean(1)], axis=-1)
                for q in ("i", "f", "o")}

    def html(self, path, **view) -> Path:
        """The self-contained page (see seqgen.inspect.page)."""
        from seqgen.inspect.page import write_page

        return write_page(self, check("--html", path, str, path=True), **view)

    def png(self, path, **view) -> Path:
        """The heat map of units over the input (see seqgen.inspect.heatmap)."""
        from seqgen.inspect.heatmap import plot_heatmap

        return plot_heatmap(self, check("--png", path, str, path=True), **view)


class NpzStream:
    """An .npz written part by part, for inputs too long to hold: each array is an .npy file in a temporary
    folder beside the target, each part written at its place in the file, and the files are zipped (stored,
    as np.savez does) once every part is in. Memory holds one part, whatever the input's length."""

    def __init__(self, path, shapes: dict):
        """shapes: name → (dtype, shape); the steps are axis 1 of the gates and axis 0 of everything else."""
        from numpy.lib import format as npy

        self.path, self.files, self.layout = Path(path), {}, {}
        if self.path.suffix != ".npz":
            raise SeqgenError(f"--save writes a .npz file; give a name ending in .npz, not {self.path.name}")
        self.folder = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=f".{self.path.name[:100]}.", suffix=".tmp", dir=self.path.parent))
            for name, (dtype, shape) in shapes.items():
                f = open(self.folder / f"{name}.npy", "wb")  # closed in close() or discard()
                self.files[name] = f
                npy.write_array_header_1_0(f, {"descr": npy.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                                               "shape": tuple(shape)})
                self.layout[name] = (f.tell(), np.dtype(dtype), tuple(shape))
        except OSError as error:
            self.discard()
            raise SeqgenError(f"cannot write {self.path}: {reason(error)}") from None

    def write(self, start: int, arrays: dict) -> None:
        """Put one part, whose first step is `start`, at its place in every file."""
        try:
            for name, values in arrays.items():
                header, dtype, shape = self.layout[name]
                f, values = self.files[name], np.ascontiguousarray(values, dtype=dtype)
                if name in QUANTITIES:  # (L, T, U): each layer's rows for these steps are one block of the file
                    layers, steps, units = shape
                    for layer in range(layers):
                        f.seek(header + (layer * steps + start) * units * dtype.itemsize)
                        f.write(values[layer].tobytes())
                else:
                    f.seek(header + start * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)
                    f.write(values.tobytes())
        except OSError as error:
            self.discard()
            raise SeqgenError(f"cannot write {self.path}: {reason(error)}") from None

    def close(self) -> Path:
        """Zip the parts into the .npz (atomically); the temporary folder is removed whatever happens."""
        import zipfile

        try:
            for f in self.files.values():
                f.close()  # a full disk may show only now, when the last buffered bytes go out

            def write(out):
                with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                    for name in self.layout:
                        archive.write(self.folder / f"{name}.npy", f"{name}.npy")

            return write_atomically(self.path, write)
        except OSError as error:
            raise SeqgenError(f"cannot write {self.path}: {reason(error)}") from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Close and remove every part: called on failure, so it never raises (a file that cannot flush its
        last bytes is being thrown away anyway)."""
        import shutil

        for f in self.files.values():
            with contextlib.suppress(OSError):
                f.close()
        self.files = {}
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def check_steps(steps: int, what: str = "the text", saved: bool = False) -> None:
    if steps == 0:
        raise SeqgenError(f"{what} is empty; give some text to inspect")
    if steps > MAX_STEPS and not saved:
        raise SeqgenError(f"{what} has {steps:,} tokens; inspect holds at most {MAX_STEPS:,} in memory (every unit's "
                          "six values at every step); give a shorter text, or save it as it is read (--save x.npz)")


@torch.no_grad()
def read_in_windows(lstm: torch.nn.LSTM, inputs: Callable[[int, int], torch.Tensor], steps: int,
                    readout: Optional[Callable[[torch.Tensor], object]] = None, window: int = WINDOW,
                    state: Optional[tuple] = None, threads=None):
    """Run `lstm` over `steps` steps, `window` at a time with the state carried, so memory for the network
    stays bounded; `inputs(start, stop)` gives (1, stop − start, I). Returns the gates as float32 arrays
    (layers, T, units), the readouts of each window's last-layer h (1, w, units), and the final state.
    `threads` (a seqgen.threads.ThreadPolicy, entered by the caller) times each window."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise SeqgenError(f"window must be a whole number >= 1, not {window!r}")
    directions = 2 if lstm.bidirectional else 1
    if directions == 2:
        window = steps  # the backward direction reads from the end: a bidirectional layer needs the whole input
    shape = (lstm.num_layers, steps, directions * lstm.hidden_size)
    out = {q: np.empty(shape, dtype=np.float32) for q in QUANTITIES}
    readouts = []
    for start in range(0, steps, window):
        stop = min(steps, start + window)
        with threads.step() if threads is not None else contextlib.nullcontext():
            gates, state = lstm_gates(lstm, inputs(start, stop), state)
            for q in QUANTITIES:
                out[q][:, start:stop] = gates[q][:, 0].float().cpu().numpy()
            if readout is not None:
                readouts.append(readout(gates["h"][-1]))
    return out, readouts, state
