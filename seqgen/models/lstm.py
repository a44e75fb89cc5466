"""The LSTM language model: embedding → stacked nn.LSTM → dropout → linear over the vocabulary."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from seqgen.models.configs import ModelConfig

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, B, hidden_size)


class LSTMLanguageModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.num_tokens, config.embedding_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        # Tying needs the output layer's input to match the embedding size.
        needs_projection = config.tie_weights and config.hidden_size != config.embedding_dim
        self.projection = nn.Linear(config.hidden_size, config.embedding_dim) if needs_projection else None
        self.decoder = nn.Linear(config.embedding_dim if config.tie_weights else config.hidden_size, config.num_tokens)
        self.reset_parameters()
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    def reset_parameters(self) -> None:
        # Untied, the embedding keeps PyTorch's N(0, 1): inputs that small LSTM weights can see from
        # the first step (a ±0.1 embedding left character models on a unigram plateau for ~100
        # steps). Tied, it is also the output matrix, where N(0, 1) would give huge first logits.
        if self.config.tie_weights:
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        hidden = self.config.hidden_size
        with torch.no_grad():
            for name, param in self.lstm.named_parameters():
                if name.startswith("bias_ih"):
                    # Gates are ordered input, forget, cell, output; a larger forget bias keeps the
                    # cell's memory longer at the start of training.
                    param[hidden:2 * hidden] += self.config.forget_bias

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        p = self.config.embedding_dropout
        if not self.training or p == 0:
            return self.embedding(tokens)
        weight = self.embedding.weight
        keep = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p) / (1 - p)  # (V, 1): a dropped type is dropped everywhere
        return nn.functional.embedding(tokens, weight * keep)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout on (B, T, D); with locked_dropout one mask serves every time step of the window."""
        p = self.config.dropout
        if not self.config.locked_dropout or not self.training or p == 0:
            return self.dropout(x)
        return x * x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - p) / (1 - p)

    def _recur(self, x: torch.Tensor, state: Optional[State]):
        p = self.config.weight_drop
        if not self.training or p == 0:
            return self.lstm(x, state)
        # DropConnect on the recurrent matrices, applied to the weights themselves: nn.LSTM still
        # runs its fused cuDNN / oneDNN kernel over the whole window, no Python loop over time.
        dropped = {name: nn.functional.dropout(getattr(self.lstm, name), p)
                   for name in self.lstm._flat_weights_names if name.startswith("weight_hh")}
        return torch.func.functional_call(self.lstm, dropped, (x, state))

    def forward(self, tokens: torch.Tensor, state: Optional[State] = None) -> tuple[torch.Tensor, State]:
        """tokens (B, T) → logits (B, T, V) and the state after the last token."""
        x = self._drop(self._embed(tokens))  # (B, T, E)
        x, state = self._recur(x, state)  # (B, T, H)
        x = self._drop(x)
        if self.projection is not None:
            x = self.projection(x)  # (B, T, E)
        return self.decoder(x), state  # (B, T, V)
