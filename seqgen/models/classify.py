"""The sequence classifier, two readers side by side (as in LSTM-FCN): a (bidirectional) LSTM over the
valid steps, pooled by mean and max over time, and a convolutional branch averaged over time; a linear
layer over both gives the class scores."""

from __future__ import annotations

import torch
from torch import nn


class LSTMClassifier(nn.Module):
    def __init__(self, num_classes: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = True,
                 conv_channels: int = 64, dropout: float = 0.2, input_size: int = 1):
        super().__init__()
        # input_size: channels per step (1 in checkpoints written before multichannel input, which lack it).
        # Local shape detectors (slopes, peaks, notches) whose presence anywhere in the sequence counts.
        sizes = [(input_size, conv_channels, 7), (conv_channels, 2 * conv_channels, 5), (2 * conv_channels, conv_channels, 3)]
        self.conv = nn.ModuleList(
            nn.Sequential(nn.Conv1d(size_in, size_out, kernel, padding=kernel // 2), nn.BatchNorm1d(size_out), nn.ReLU())
            for size_in, size_out, kernel in sizes
        ) if conv_channels else nn.ModuleList()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
                            dropout=dropout if num_layers > 1 else 0.0)
        width = hidden_size * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width + conv_channels, num_classes)

    def forward(self, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """values (B, T, C) (or (B, T) for one channel) padded with zeros after each sequence's length
        → logits (B, classes)."""
        if values.dim() == 2:
            values = values.unsqueeze(-1)  # (B, T, 1)
        mask = torch.arange(values.size(1), device=values.device)[None, :] < lengths[:, None]  # (B, T)
        count = lengths[:, None].to(values.dtype)  # (B, 1)
        # Packing makes the backward direction start at each sequence's own last step, not the padding.
        packed = nn.utils.rnn.pack_padded_sequence(values, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=values.size(1))  # (B, T, W)
        features = [(output * mask[..., None]).sum(1) / count, output.masked_fill(~mask[..., None], float("-inf")).amax(1)]
        if len(self.conv):
            x = values.transpose(1, 2)  # (B, C, T)
            for block in self.conv:
                # Zero the padding after each block, so a sequence's result does not depend on its batch-mates.
                x = block(x) * mask[:, None, :]  # (B, channels, T)
            features.append(x.sum(2) / count)  # (B, channels)
        return self.head(self.dropout(torch.cat(features, dim=-1)))  # (B, C)
