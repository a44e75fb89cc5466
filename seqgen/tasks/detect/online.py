"""The forecaster a detector learns as it reads: the forecast task's LSTM (seqgen.models.forecast) reading the
last `window` values and predicting the next one's change, fitted on the probation prefix, then updated by one
optimizer step every UPDATE_EVERY records on the newest windows and a few remembered ones. It predicts each
record before it sees it, so every error is an honest one-step-ahead error."""

from __future__ import annotations

import numpy as np
import torch

from seqgen.models.forecast import LSTMForecaster

UPDATE_EVERY = 2  # records between optimizer steps: half the cost of updating on every record, as well scored
REPLAY = 8  # remembered windows beside the newest in each step, so one odd stretch does not overwrite the rest
MEMORY = 3000  # records the remembered windows are drawn from
PROBATION_EPOCHS = 4  # passes over the probation prefix before the first scored record
CLIP = 20.0  # inputs beyond this many probation deviations are clipped: a wild value must not blow up the state


def probation_scale(values: np.ndarray) -> tuple[float, float]:
    """(centre, scale) from the probation prefix alone; a constant prefix gets scale 1."""
    centre = float(np.median(values))
    scale = float(np.std(values))
    return centre, scale if scale > 1e-12 * max(1.0, abs(centre)) else 1.0


class OnlineForecaster:
    """One-step forecasts of a stream, learning from it as it goes (see the module's docstring)."""

    def __init__(self, window: int, hidden_size: int, lr: float, seed: int):
        self.window = window
        with torch.random.fork_rng(devices=[]):  # the seed fixes this network alone, not the caller's generator
            torch.manual_seed(seed)
            self.model = LSTMForecaster(1, hidden_size, 1, 1)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.random = np.random.default_rng(seed)

    def fit_probation(self, z: np.ndarray) -> None:
        """Learn from every window of the (scaled) probation prefix, a few passes of small batches."""
        ends = np.arange(self.window, len(z))
        for _ in range(PROBATION_EPOCHS):
            for batch in np.array_split(self.random.permutation(ends), max(1, len(ends) // 16)):
                if len(batch):
                    self._step(z, batch)

    def forecast(self, z: np.ndarray, end: int) -> float:
        """The forecast of z[end] from z[end - window:end]."""
        with torch.no_grad():
            x = torch.from_numpy(z[end - self.window:end].astype(np.float32)).view(1, -1, 1)  # (1, W, 1)
            return float(z[end - 1] + self.model(x)[0, 0])

    def learn(self, z: np.ndarray, end: int) -> None:
        """After z[end - 1] is known: every UPDATE_EVERY records, one step on the newest windows and REPLAY
        remembered ones (windows ending before `end`)."""
        if end % UPDATE_EVERY:
            return
        newest = np.arange(max(self.window + 1, end - UPDATE_EVERY + 1), end + 1) - 1
        first = max(self.window, end - MEMORY)
        remembered = self.random.integers(first, end, size=REPLAY) if end - 1 > first else np.array([], dtype=int)
        self._step(z, np.concatenate([newest, remembered]).astype(int))

    def _step(self, z: np.ndarray, ends: np.ndarray) -> None:
        """One Adam step on the windows z[e - window:e] → z[e] − z[e − 1] for each e in `ends`."""
        ends = ends[ends >= self.window]
        if not len(ends):
            return
        index = ends[:, None] + np.arange(-self.window, 0)[None, :]  # (B, W)
        x = torch.from_numpy(z[index].astype(np.float32)).unsqueeze(-1)  # (B, W, 1)
        y = torch.from_numpy((z[ends] - z[ends - 1]).astype(np.float32)).unsqueeze(-1)  # (B, 1)
        loss = torch.nn.functional.mse_loss(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
