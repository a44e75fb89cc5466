"""The LSTM cell written out: every gate of a trained nn.LSTM, step by step, from its own weights.

nn.LSTM returns only h. `lstm_gates` runs the same layer stack again with the cell's equations (PyTorch's
gate order input, forget, candidate, output, and both bias vectors) and keeps every quantity, so that a
reader can watch the cell work. Its h and c equal nn.LSTM's output and final state (tested for every
LSTM in seqgen, bidirectional ones and packed batches included).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

QUANTITIES = ("i", "f", "g", "o", "c", "h")
NAMES = {"i": "input gate", "f": "forget gate", "g": "candidate C̃", "o": "output gate", "c": "cell state C",
         "h": "output h"}


def lstm_step(x_part: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w_hh: torch.Tensor):
    """One step of the cell. x_part = W_ih x_t + b_ih + b_hh (B, 4H), computed for a whole window at once;
    h, c (B, H) are h_{t-1} and C_{t-1}. Returns i, f, g, o, C_t, h_t, each (B, H)."""
    z = x_part + h @ w_hh.T  # (B, 4H): W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, gates in PyTorch's order i, f, g, o
    zi, zf, zg, zo = z.chunk(4, dim=1)
    i = torch.sigmoid(zi)  # input gate: how much of the candidate is written into the memory
    f = torch.sigmoid(zf)  # forget gate: 1 lets C_{t-1} through, 0 wipes it
    g = torch.tanh(zg)  # the candidate C̃_t, the new content offered to the memory
    o = torch.sigmoid(zo)  # output gate: how much of the memory is shown as h_t
    c = f * c + i * g  # C_t: the old memory, attenuated, plus the new content
    h = o * torch.tanh(c)  # h_t: the long-term memory seen through the output gate
    return i, f, g, o, c, h


def _direction(x: torch.Tensor, valid: torch.Tensor, w_ih, w_hh, b_ih, b_hh, h: torch.Tensor, c: torch.Tensor):
    """Run one direction forward in time over x (B, T, I); steps where valid (B, T) is False leave the state
    as it was and record zeros (as a packed sequence's padding). Returns {quantity: (B, T, H)}, h, c."""
    x_part = x @ w_ih.T  # (B, T, 4H)
    if b_ih is not None:
        x_part = x_part + b_ih + b_hh
    out = x.new_zeros(len(QUANTITIES), x.size(0), x.size(1), h.size(1))  # (6, B, T, H)
    every_step = bool(valid.all())
    for t in range(x.size(1)):
        values = torch.stack(lstm_step(x_part[:, t], h, c, w_hh))  # (6, B, H)
        if not every_step:  # padding: the state stays as it was, and zeros are recorded
            keep = valid[:, t, None]  # (B, 1)
            values = values * keep
            values[4:] = torch.where(keep, values[4:], torch.stack([c, h]))
        out[:, :, t] = values
        c, h = values[4], values[5]
    if not every_step:
        out[4:] *= valid[None, :, :, None]
    return dict(zip(QUANTITIES, out)), h, c


def _reverse_within(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, T) indices that reverse each row's first `length` steps and leave its padding in place; applying
    them twice gives the identity, so the same indices put the backward direction's steps back in order."""
    t = torch.arange(steps, device=lengths.device)[None, :]  # (1, T)
    return torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)


@torch.no_grad()
def lstm_gates(lstm: nn.LSTM, x: torch.Tensor, state: Optional[tuple] = None,
               lengths: Optional[torch.Tensor] = None):
    """Every gate of `lstm` (in eval mode: no dropout between layers) reading x.

    x (B, T, I), batch first whatever lstm.batch_first says; state (h0, c0) each (L·D, B, H) in nn.LSTM's
    layout, or None for zeros; lengths (B,) for padded rows read as a packed sequence would be.
    Returns ({quantity: (L, B, T, D·H)} for i, f, g, o, c, h, and the final (h_n, c_n) as nn.LSTM gives
    them). With two directions the last dimension holds the forward units first, then the backward ones
    (nn.LSTM's output order); a backward value at step t is the one computed when that direction read t.
    """
    if lstm.proj_size:
        raise ValueError("an LSTM with proj_size is not supported")
    layers, directions, hidden = lstm.num_layers, 2 if lstm.bidirectional else 1, lstm.hidden_size
    batch, steps = x.shape[:2]
    lengths = torch.full((batch,), steps, device=x.device) if lengths is None else lengths.to(x.device)
    valid = torch.arange(steps, device=x.device)[None, :] < lengths[:, None]  # (B, T)
    reverse = _reverse_within(lengths, steps)
    if state is None:
        zeros = x.new_zeros(layers * directions, batch, hidden)
        state = (zeros, zeros)
    h0, c0 = state
    recorded = {name: [] for name in QUANTITIES}
    h_n, c_n = [], []
    layer_input = x
    for layer in range(layers):
        outputs = {name: [] for name in QUANTITIES}
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            weights = [getattr(lstm, f"weight_ih{suffix}"), getattr(lstm, f"weight_hh{suffix}")]
            biases = [getattr(lstm, f"bias_ih{suffix}"), getattr(lstm, f"bias_hh{suffix}")] if lstm.bias else [None, None]
            index = layer * directions + direction
            if direction == 0:
                values, h, c = _direction(layer_input, valid, *weights, *biases, h0[index], c0[index])
            else:  # the backward direction reads each row from its own last step back to its first
                flipped = layer_input.gather(1, reverse[..., None].expand(-1, -1, layer_input.size(2)))
                values, h, c = _direction(flipped, valid, *weights, *biases, h0[index], c0[index])
                values = {name: v.gather(1, reverse[..., None].expand(-1, -1, hidden)) for name, v in values.items()}
            for name in QUANTITIES:
                outputs[name].append(values[name])
            h_n.append(h)
            c_n.append(c)
        for name in QUANTITIES:
            recorded[name].append(torch.cat(outputs[name], dim=-1))  # (B, T, D·H)
        layer_input = recorded["h"][-1]
    gates = {name: torch.stack(recorded[name]) for name in QUANTITIES}  # each (L, B, T, D·H)
    return gates, (torch.stack(h_n), torch.stack(c_n))
