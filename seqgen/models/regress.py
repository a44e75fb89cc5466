"""The remaining-life network: an LSTM reads a window of measurements and a small two-layer head turns its last
output into one number, the remaining steps as a share of the cap."""

from __future__ import annotations

import torch
from torch import nn


class LSTMRegressor(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        # A hidden layer between the LSTM and the output, as in Zheng et al. (2017): the remaining life is a
        # nonlinear (capped, piece-wise) function of the wear the LSTM tracks.
        width = max(1, hidden_size // 2)
        self.head = nn.Sequential(nn.Linear(hidden_size, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """window (B, T, F) of scaled measurements → (B,) remaining steps / cap."""
        output, _ = self.lstm(window)  # (B, T, H)
        return self.head(self.dropout(output[:, -1]))[:, 0]  # (B,)
