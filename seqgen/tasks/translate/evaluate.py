"""Scoring translations (validation loss; exact match, BLEU, chrF with sacrebleu) and drawing attention matrices."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.device import autocast
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import PAD
from seqgen.plots import pyplot, save_figure
from seqgen.tasks.translate.data import make_batch


def score_translations(hypotheses: list[str], references: list[str]) -> dict:
    """Exact match (share of identical strings), corpus BLEU and chrF (sacrebleu defaults), in percent."""
    import sacrebleu

    return {
        "exact_match": 100.0 * float(np.mean([h.strip() == r.strip() for h, r in zip(hypotheses, references)])),
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }


def evaluate_translator(translator, pairs: list[tuple[str, str]], beam_sizes=(1, 5), length_penalty: float = 1.0,
                        max_len=None, batch_size: int = 64) -> dict:
    """Figures for each beam size (1 is greedy) on `pairs`, with seconds taken and a few examples."""
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    result = {"pairs": len(pairs)}
    for beam_size in beam_sizes:
        start = time.perf_counter()
        hypotheses = translator.translate(sources, beam_size, max_len, length_penalty, batch_size)
        name = "greedy" if beam_size == 1 else f"beam{beam_size}"
        result[name] = {**score_translations(hypotheses, references), "seconds": round(time.perf_counter() - start, 2),
                        "examples": [{"source": s, "reference": r, "hypothesis": h}
                                     for s, r, h in list(zip(sources, references, hypotheses))[:8]]}
    return result


def evaluate(translator, split: str = "test", pairs_file: Optional[str] = None, encoding: str = "utf-8",
             beam_size: int = 5) -> dict:
    """Figures of greedy decoding and of a `beam_size` beam on the run's `split`, or on a pairs file."""
    from seqgen.data.pairs import describe_skipped, read_pairs
    from seqgen.tasks.translate.data import checkpoint_splits

    if split not in ("val", "test"):
        raise SeqgenError(f"--split must be val or test, not {split!r}")
    if beam_size < 2:
        raise SeqgenError("--beam-size must be at least 2 (greedy decoding is always scored beside it)")
    payload = translator.payload
    if pairs_file is not None:
        from seqgen.data.corpora import REGISTRY, check_task, dataset_file

        config = payload.get("train_config") or {}
        if str(pairs_file) in REGISTRY:  # judged before anything is downloaded
            check_task(REGISTRY[str(pairs_file)], "translate")
            if encoding != "utf-8":
                raise SeqgenError(f"--encoding does not apply to the data set {pairs_file!r}, UTF-8 pairs; leave it out")
        named = dataset_file(str(pairs_file), "pairs", "translate")
        read = read_pairs(named or pairs_file, config.get("source_column"), config.get("target_column"), encoding)
        if read.skipped:
            print(f"{pairs_file}: {describe_skipped(read.skipped)}", file=sys.stderr)
        pairs, source = read.pairs, str(pairs_file)
    else:
        pairs, source = checkpoint_splits(payload)[split], f"{payload['corpus']['spec']} ({split} split)"
        if not pairs:
            raise SeqgenError(f"the {split} split of {payload['corpus']['spec']} is empty "
                              f"(--{split}-fraction was 0 or the file is small); score a file with --pairs FILE")
    print(f"Scoring {len(pairs):,} pairs of {source}, greedy and beam {beam_size} …", file=sys.stderr)
    return {"source": source, **evaluate_translator(translator, pairs, (1, beam_size))}


@torch.no_grad()
def validation_loss(model, encoded: list, batch_size: int, device,
                    should_stop: Optional[Callable[[], bool]] = None) -> Optional[float]:
    """Mean cross-entropy per target token (EOS included), padding left out; None when stopped part-way."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        if should_stop is not None and should_stop():
            return None
        sources, targets = zip(*encoded[start:start + batch_size])
        source, lengths, target_in, target_out = make_batch(list(sources), list(targets), device)
        with autocast(device):
            logits, _ = model(source, lengths, target_in)
        total += float(torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), target_out.flatten(),
                                                         ignore_index=PAD, reduction="sum"))
        count += int((target_out != PAD).sum())
    return total / max(1, count)


def plot_attention(source_pieces: list[str], target_pieces: list[str], weights: np.ndarray, path: str | Path) -> Path:
    """Attention weights (T, S) as a heat map: target pieces down, source pieces across."""
    plt = pyplot()

    path = Path(path)
    show = lambda p: repr(p)[1:-1] if p.isspace() or not p else p  # noqa: E731  (make spaces visible)
    width = max(4.0, 0.28 * len(source_pieces) + 1.5)
    height = max(3.0, 0.28 * len(target_pieces) + 1.2)
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source_pieces)), [show(p.replace(" ", "␣")) for p in source_pieces], rotation=90, fontsize=8)
    ax.set_yticks(range(len(target_pieces)), [show(p.replace(" ", "␣")) for p in target_pieces], fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    return save_figure(fig, path)
