"""The encoder-decoder: a bidirectional LSTM encoder, an LSTM decoder with Luong "general" attention.

Attention follows Luong et al. (2015), global attention with the "general" score
score(h_t, s_j) = h_t · W s_j, computed from the decoder's output at step t (no input feeding),
so the whole target runs through the decoder LSTM in one call during training.
Padding (id 0) is packed away in the encoder and masked in attention, so a padded sentence
gets exactly the outputs it gets alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqgen.models.configs import Seq2SeqConfig

PAD, BOS, EOS, UNK = 0, 1, 2, 3  # special ids; every tokenizer's own ids start at 4

# The decoder's running state, batch first so that beam search can reorder it along dim 0:
# memory (B, S, 2H), mask (B, S), h (B, L, H), c (B, L, H).
DecoderState = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _init_lstm(lstm: nn.LSTM) -> None:
    hidden = lstm.hidden_size
    for name, param in lstm.named_parameters():
        if name.startswith("bias"):
            nn.init.zeros_(param)
            if name.startswith("bias_ih"):
                nn.init.ones_(param[hidden:2 * hidden])  # forget gate bias 1


class Encoder(nn.Module):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.embedding = nn.Embedding(config.source_vocab_size, config.embedding_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(config.embedding_dim, config.hidden_size, config.num_layers, batch_first=True,
                            bidirectional=True, dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        # The decoder starts from both directions' final states, mixed down to its own size.
        self.bridge_h = nn.Linear(2 * config.hidden_size, config.hidden_size)
        self.bridge_c = nn.Linear(2 * config.hidden_size, config.hidden_size)
        _init_lstm(self.lstm)

    def forward(self, source: torch.Tensor, lengths: torch.Tensor):
        """source (B, S) padded with PAD, lengths (B,) → memory (B, S, 2H), (h, c) each (L, B, H)."""
        x = self.dropout(self.embedding(source))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, c) = self.lstm(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=source.size(1))  # (B, S, 2H)
        layers = h.size(0) // 2

        def merge(state, bridge):  # (2L, B, H) → (L, B, 2H) → (L, B, H)
            state = state.view(layers, 2, *state.shape[1:]).transpose(1, 2).flatten(2)
            return torch.tanh(bridge(state))

        return self.dropout(memory), (merge(h, self.bridge_h), merge(c, self.bridge_c))


class Decoder(nn.Module):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        hidden = config.hidden_size
        self.embedding = nn.Embedding(config.target_vocab_size, config.embedding_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(config.embedding_dim, hidden, config.num_layers, batch_first=True,
                            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.score = nn.Linear(2 * hidden, hidden, bias=False)  # W of the "general" score
        self.combine = nn.Linear(3 * hidden, hidden)  # [context; h_t] → attentional state
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(hidden, config.target_vocab_size)
        _init_lstm(self.lstm)

    def forward(self, tokens: torch.Tensor, state, memory: torch.Tensor, mask: torch.Tensor):
        """tokens (B, T), state (h, c) each (L, B, H), memory (B, S, 2H), mask (B, S) True at real tokens
        → logits (B, T, V), new state, attention weights (B, T, S)."""
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        out, state = self.lstm(x, state)  # (B, T, H)
        scores = torch.bmm(out, self.score(memory).transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        weights = scores.softmax(-1)  # (B, T, S)
        context = torch.bmm(weights, memory)  # (B, T, 2H)
        attended = torch.tanh(self.combine(torch.cat([context, out], -1)))  # (B, T, H)
        return self.output(self.dropout(attended)), state, weights


class Seq2Seq(nn.Module):
    """Encoder → decoder glue: `forward` for teacher forcing, `start` and `step` for decoding."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def forward(self, source, lengths, target_in):
        """source (B, S), lengths (B,), target_in (B, T) starting with BOS → logits (B, T, V), attention (B, T, S)."""
        memory, state = self.encoder(source, lengths)
        logits, _, weights = self.decoder(target_in, state, memory, source != PAD)
        return logits, weights

    def start(self, source: torch.Tensor, lengths: torch.Tensor) -> DecoderState:
        memory, (h, c) = self.encoder(source, lengths)
        return memory, source != PAD, h.transpose(0, 1), c.transpose(0, 1)

    def step(self, tokens: torch.Tensor, state: DecoderState):
        """tokens (N,) → log-probabilities (N, V) and the next state; N = B, or B × beam size."""
        memory, mask, h, c = state
        lstm_state = (h.transpose(0, 1).contiguous(), c.transpose(0, 1).contiguous())
        logits, (h, c), weights = self.decoder(tokens[:, None], lstm_state, memory, mask)
        return logits[:, 0].float().log_softmax(-1), (memory, mask, h.transpose(0, 1), c.transpose(0, 1))
