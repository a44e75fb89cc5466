"""The sequence classifier: an optional convolutional front-end, a (bidirectional) LSTM over the
valid steps only, mean and max pooling over time, and a linear layer over the classes."""

from __future__ import annotations

import torch
from torch import nn


class LSTMClassifier(nn.Module):
    def __init__(self, num_classes: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = True,
                 conv_channels: int = 32, dropout: float = 0.2):
        super().__init__()
        # Local shape detectors (slopes, peaks) that the LSTM then reads in order.
        self.front = nn.ModuleList(
            nn.Sequential(nn.Conv1d(size_in, conv_channels, kernel, padding=kernel // 2),
                          nn.BatchNorm1d(conv_channels), nn.ReLU())
            for size_in, kernel in ((1, 7), (conv_channels, 5))
        ) if conv_channels else nn.ModuleList()
        self.lstm = nn.LSTM(conv_channels or 1, hidden_size, num_layers, batch_first=True,
                            bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        width = hidden_size * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """values (B, T) padded with zeros after each sequence's length → logits (B, C)."""
        mask = (torch.arange(values.size(1), device=values.device)[None, :] < lengths[:, None]).unsqueeze(1)  # (B, 1, T)
        x = values.unsqueeze(1)  # (B, 1, T)
        for block in self.front:
            # Zero the padding after each block, so a sequence's result does not depend on its batch-mates.
            x = block(x) * mask  # (B, channels, T)
        x = x.transpose(1, 2)  # (B, T, channels)
        # Packing makes the backward direction start at each sequence's own last step, not the padding.
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=values.size(1))  # (B, T, W)
        mask = mask.transpose(1, 2)  # (B, T, 1)
        mean = (output * mask).sum(1) / lengths[:, None].to(output.dtype)
        largest = output.masked_fill(~mask, float("-inf")).amax(1)
        return self.head(self.dropout(torch.cat([mean, largest], dim=-1)))  # (B, C)
