"""Sampling from a language model: temperature, top-k, top-p, carried state, streamed text."""

from __future__ import annotations

from typing import Iterator, Optional

import torch


def filter_logits(logits: torch.Tensor, top_k: Optional[int], top_p: Optional[float]) -> torch.Tensor:
    """Keep the k most likely tokens and/or the smallest set whose probability reaches p. (N, V) → (N, V)"""
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token once the tokens before it already reach p; the most likely always stays.
        drop = cumulative - sorted_logits.softmax(-1) >= top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, temperature: float, top_k: Optional[int] = None,
                top_p: Optional[float] = None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One token per row of logits (N, V) → (N,). Temperature 0 is greedy (argmax)."""
    logits = logits.float()
    if temperature == 0:
        return logits.argmax(-1)
    logits = filter_logits(logits / temperature, top_k, top_p)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)


@torch.inference_mode()
def generate(model, prime: torch.Tensor, length: int, temperature: float = 1.0, top_k: Optional[int] = None,
             top_p: Optional[float] = None, generator: Optional[torch.Generator] = None) -> Iterator[torch.Tensor]:
    """Yield `length` tokens (N,) continuing `prime` (N, P), one step at a time.

    The primer runs through the LSTM once; after that each step feeds only the newest token and
    the carried (h, c) state, so the cost per token does not grow with the text.
    """
    model.eval()
    logits, state = model(prime)  # (N, P, V)
    logits = logits[:, -1]
    for _ in range(length):
        token = sample_next(logits, temperature, top_k, top_p, generator)  # (N,)
        yield token
        logits, state = model(token[:, None], state)
        logits = logits[:, -1]


def stream_text(tokenizer, tokens: Iterator[torch.Tensor]) -> Iterator[str]:
    """Turn a single sample's tokens into text pieces as soon as they decode to whole characters."""
    pending: list[int] = []
    for token in tokens:
        pending.append(int(token[0]))
        text = tokenizer.decode(pending)
        if not text.endswith("\ufffd"):  # a byte-fallback character may still be incomplete
            pending.clear()
            yield text
    if pending:
        yield tokenizer.decode(pending)
