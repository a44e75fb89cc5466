"""The forecasting network: an LSTM reads a window of the series and a linear head writes every
step of the horizon at once (a direct multi-step forecast, so errors do not feed on themselves)."""

from __future__ import annotations

import torch
from torch import nn


class LSTMForecaster(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int, horizon: int, dropout: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """window (B, T, F): scaled values and season features → (B, horizon) scaled corrections."""
        output, _ = self.lstm(window)  # (B, T, H)
        return self.head(self.dropout(output[:, -1]))  # (B, horizon)
