"""Search for the most likely output of a step function: greedy and beam search, for any task that
decodes token by token (translation today)."""

from __future__ import annotations

import torch


def _select(state, index: torch.Tensor):
    """Pick rows (dim 0) of every tensor in a nested tuple: how beams follow their chosen parents."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index)
    return type(state)(_select(s, index) for s in state)


@torch.inference_mode()
def greedy_search(step, state, batch_size: int, bos: int, eos: int, max_len: int, device=None) -> list[list[int]]:
    """Most likely token at each step. `step(tokens (N,), state) → (log-probs (N, V), state)`."""
    tokens = torch.full((batch_size,), bos, dtype=torch.long, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    out = []
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        tokens = log_probs.argmax(-1).masked_fill(done, eos)  # (N,)
        out.append(tokens)
        done |= tokens == eos
        if bool(done.all()):
            break
    rows = torch.stack(out, 1).tolist() if out else [[] for _ in range(batch_size)]
    return [row[:row.index(eos)] if eos in row else row for row in rows]


@torch.inference_mode()
def beam_search(step, state, batch_size: int, bos: int, eos: int, max_len: int, beam_size: int = 5,
                length_penalty: float = 1.0, device=None) -> list[list[int]]:
    """The best of `beam_size` hypotheses per input, for a whole batch at once.

    `state` holds one row per input (dim 0); it is repeated for the beams, and `step` sees
    N = batch_size × beam_size rows. A finished hypothesis keeps its score and only extends
    with EOS at no cost. Hypotheses are ranked by sum of log-probabilities / length^length_penalty
    (0: raw sum, which favours short outputs; 1: mean per token).
    """
    k = beam_size
    state = _select(state, torch.arange(batch_size, device=device).repeat_interleave(k))
    scores = torch.full((batch_size, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive so the first step gives k distinct tokens
    tokens = torch.full((batch_size * k,), bos, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, k, dtype=torch.bool, device=device)
    lengths = torch.zeros(batch_size, k, device=device)
    history = torch.zeros(batch_size, k, 0, dtype=torch.long, device=device)
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        log_probs = log_probs.float().view(batch_size, k, -1)  # (B, K, V)
        # A finished beam may only add EOS, for free, so it competes with its final score.
        frozen = torch.full_like(log_probs[0, 0], float("-inf"))
        frozen[eos] = 0.0
        log_probs = torch.where(finished[..., None], frozen, log_probs)
        vocab = log_probs.size(-1)
        candidates = (scores[..., None] + log_probs).view(batch_size, -1)  # (B, K × V)
        new_lengths = (lengths + (~finished).float())[..., None].expand(-1, -1, vocab).reshape(batch_size, -1)
        ranked = candidates / new_lengths.clamp(min=1) ** length_penalty
        ranked = ranked.masked_fill(torch.isinf(candidates), float("-inf"))
        _, chosen = ranked.topk(k, dim=-1)  # (B, K)
        parent, token = chosen // vocab, chosen % vocab
        scores = candidates.gather(1, chosen)
        lengths = new_lengths.gather(1, chosen)
        finished = finished.gather(1, parent) | (token == eos)
        history = torch.cat([history.gather(1, parent[..., None].expand_as(history)), token[..., None]], -1)
        rows = (parent + torch.arange(batch_size, device=device)[:, None] * k).flatten()
        state = _select(state, rows)
        tokens = token.flatten()
        if bool(finished.all()):
            break
    final = (scores / lengths.clamp(min=1) ** length_penalty).masked_fill(torch.isinf(scores), float("-inf"))
    best = final.argmax(-1)  # (B,)
    out = history[torch.arange(batch_size, device=device), best].tolist()
    return [row[:row.index(eos)] if eos in row else row for row in out]


class Seq2SeqStepper:
    """The encoder-decoder's decoding step for greedy and beam search, fused: the decoder LSTM as one
    FusedLSTM step (int8 weights with int8=True), and the attention keys W·memory computed once per
    input instead of at every step. Gives the log-probabilities of `Seq2Seq.step` (to float tolerance)."""

    def __init__(self, model, int8: bool = False):
        from seqgen.decode.sampling import FusedLSTM, int8_or_float

        decoder = model.decoder
        self.model, self.decoder = model, decoder
        self.cell = FusedLSTM(decoder.lstm, int8)
        self.combine = int8_or_float(decoder.combine, int8)
        self.output = int8_or_float(decoder.output, int8)

    def start(self, source: torch.Tensor, lengths: torch.Tensor):
        """Encode a padded batch → state (memory, keys, mask, h, c), batch first so beams reorder it on dim 0."""
        memory, mask, h, c = self.model.start(source, lengths)  # h, c: (B, L, H)
        keys = self.decoder.score(memory)  # (B, S, H): the "general" score's W·s_j, fixed for the whole output
        return memory, keys, mask, h, c

    def __call__(self, tokens: torch.Tensor, state):
        """tokens (N,) → log-probabilities (N, V) and the next state."""
        memory, keys, mask, h, c = state
        hs, cs = list(h.unbind(1)), list(c.unbind(1))  # per layer (N, H)
        out = self.cell.step(self.decoder.embedding(tokens), hs, cs)  # (N, H)
        scores = torch.bmm(keys, out[:, :, None])[:, :, 0].masked_fill(~mask, float("-inf"))  # (N, S)
        context = torch.bmm(scores.softmax(-1)[:, None, :], memory)[:, 0]  # (N, 2H)
        attended = torch.tanh(self.combine(torch.cat([context, out], -1)))  # (N, H)
        log_probs = self.output(attended).float().log_softmax(-1)  # (N, V)
        return log_probs, (memory, keys, mask, torch.stack(hs, 1), torch.stack(cs, 1))
