"""Drawing music from a language model: event pieces (bars exact or bounded) and piano-roll pieces under the
frame mask, which is also what the loss of a piano-roll model masks with (next_token_bias)."""

from __future__ import annotations

from typing import Optional

import torch

from seqgen.decode.sampling import Sampling, generate
from seqgen.errors import SeqgenError
from seqgen.threads import ThreadPolicy

# What one call draws: num_samples × length tokens are held until the samples are decoded (20 million: 160 MB).
MAX_TOKENS_AT_ONCE = 20_000_000


def next_token_bias(tokenizer, device) -> Optional[torch.Tensor]:
    """(V, V): 0 where token b may follow token a and -inf where it may not, added to the logits of the
    token after a; None for encodings where any token may follow any (text, music events)."""
    mask = getattr(tokenizer, "next_token_mask", None)
    if mask is None:
        return None
    allowed = torch.from_numpy(mask()).to(device)
    return torch.zeros(allowed.shape, device=device).masked_fill(~allowed, float("-inf"))


def check_budget(num_samples: int, length: int) -> None:
    """One line, before anything is drawn, when the samples would not fit in memory at once."""
    if num_samples * length > MAX_TOKENS_AT_ONCE:
        raise SeqgenError(f"{num_samples:,} samples of {length:,} tokens are {num_samples * length:,} tokens, more than "
                          f"the {MAX_TOKENS_AT_ONCE:,} seqgen draws at once; ask for fewer --num-samples or a smaller "
                          "--length (a single text sample printed, not written, streams at any length)")



def generate_pieces(model, tokenizer, primer: list[int], num_samples: int, length: int, sampling: Sampling, *,
                    seed: int, device, bars: Optional[int] = None, keep_primer: bool = True, exact: bool = True,
                    threads: Optional[ThreadPolicy] = None) -> list[dict]:
    """`num_samples` pieces continuing `primer`, generated as one batch, each token drawn as `sampling` says.

    A sample stops at its `end` token, at a new `piece` token, or after `length` tokens. With `bars` it is
    exactly that many new bars long: `end` and `piece` are never drawn, the sample stops where bar `bars` + 1
    would begin, and a sample that reaches `length` tokens short of its bars is one line. With exact=False
    `bars` is only a bound: a sample also ends where the model ends it (pieces as the model writes them).
    """
    check_budget(num_samples, length)
    from seqgen.music.generate import without_first_notes

    bar, end, start = tokenizer.index["bar"], tokenizer.index["end"], tokenizer.index["piece"]
    prime = torch.tensor(primer, dtype=torch.long, device=device).repeat(num_samples, 1)  # (N, P)
    generator = torch.Generator(device=device).manual_seed(seed)
    bias = None
    if bars is not None and exact:  # the piece may not end before its bars are drawn
        bias = torch.zeros(tokenizer.vocab_size, tokenizer.vocab_size, device=device)
        bias[:, [end, start]] = float("-inf")
    rows: list[list[int]] = [[] for _ in range(num_samples)]
    done = [False] * num_samples
    new_bars = [0] * num_samples
    for token in generate(model, prime, length, sampling, generator, bias, threads):
        for index, value in enumerate(token.tolist()):
            if done[index]:
                continue
            if value in (end, start):
                done[index] = True
                continue
            if value == bar:
                new_bars[index] += 1
                if bars is not None and new_bars[index] > bars:
                    done[index] = True
                    continue
            rows[index].append(value)
        if all(done):
            break
    if bars is not None and exact and min(new_bars) < bars:
        short = min(range(num_samples), key=lambda i: new_bars[i])
        raise SeqgenError(f"sample {short + 1} drew only {new_bars[short]} of its {bars} bars in {length:,} tokens; "
                          f"give a larger --length, or fewer --bars")
    primer_notes = len(tokenizer.decode_piece(primer)["notes"])
    pieces = []
    for index, row in enumerate(rows, 1):
        piece = tokenizer.decode_piece(primer + row)
        piece["bars"] = (primer + row).count(bar)  # silent last bars included
        if not keep_primer:
            piece = without_first_notes(piece, primer_notes)
        piece["name"] = f"sample {index}"
        pieces.append(piece)
    return pieces


def generate_frame_pieces(model, tokenizer, primer: list[int], num_samples: int, length: int, sampling: Sampling, *,
                          seed: int, device, frames: Optional[int] = None, keep_primer: bool = True,
                          threads: Optional[ThreadPolicy] = None) -> list[dict]:
    """`num_samples` piano-roll pieces continuing `primer`, drawn with the frame mask (a pitch only above the
    frame's previous one); each stops after `length` tokens or `frames` new frames. The primer's frames come
    first, unless keep_primer is False."""
    from seqgen.music.frames import frames_to_piece

    check_budget(num_samples, length)

    prime = torch.tensor(primer, dtype=torch.long, device=device).repeat(num_samples, 1)  # (N, P)
    generator = torch.Generator(device=device).manual_seed(seed)
    bias = next_token_bias(tokenizer, device)
    rows: list[list[int]] = [[] for _ in range(num_samples)]
    made = [0] * num_samples
    for token in generate(model, prime, length, sampling, generator, bias, threads):
        for index, value in enumerate(token.tolist()):
            if frames is not None and made[index] >= frames:
                continue
            rows[index].append(value)
            made[index] += value == tokenizer.frame_id
        if frames is not None and min(made) >= frames:
            break
    pieces = []
    for index, row in enumerate(rows, 1):
        decoded = tokenizer.decode_frames(primer + row)
        kept = decoded[-1] if decoded else []
        if not keep_primer:
            kept = kept[primer.count(tokenizer.frame_id):]
        pieces.append(frames_to_piece(kept, f"sample {index}"))
    return pieces
