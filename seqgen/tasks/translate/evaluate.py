"""Scoring translations (exact match, BLEU, chrF with sacrebleu) and drawing attention matrices."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from seqgen.plots import save_figure


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


def plot_attention(source_pieces: list[str], target_pieces: list[str], weights: np.ndarray, path: str | Path) -> Path:
    """Attention weights (T, S) as a heat map: target pieces down, source pieces across."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
