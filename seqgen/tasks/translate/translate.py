"""Translation (--task translate): vocabularies, the teacher-forced training loop, checkpoints, decoding."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from tqdm import tqdm

from seqgen.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from seqgen.config import Seq2SeqConfig, TranslateConfig, from_dict, to_dict
from seqgen.data.pairs import load_pairs
from seqgen.device import autocast, resolve_device
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import BOS, EOS, PAD, UNK, Seq2Seq
from seqgen.sample import beam_search, greedy_search
from seqgen.tokenizers import fit_tokenizer, tokenizer_from_state
from seqgen.train import TrainingDiverged, TrainResult, _optimizer, _plot_history, _point_last_at, _run_dir, _write_json, learning_rate

TASK = "translate"
SPECIALS = 4  # PAD, BOS, EOS, UNK come before the tokenizer's own ids


class Vocab:
    """A char or sentencepiece tokenizer with its ids shifted past the special ids; unknown characters → UNK."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._chars = {c: i + SPECIALS for i, c in enumerate(tokenizer.chars)} if tokenizer.kind == "char" else None

    @classmethod
    def fit(cls, texts: list[str], kind: str, vocab_size: int) -> "Vocab":
        return cls(fit_tokenizer(kind, "\n".join(texts), vocab_size))

    @property
    def size(self) -> int:
        return self.tokenizer.vocab_size + SPECIALS

    def encode(self, text: str) -> list[int]:
        if self._chars is not None:
            return [self._chars.get(c, UNK) for c in text]
        return (self.tokenizer.encode(text.replace("\n", " ")).astype(np.int64) + SPECIALS).tolist()

    def unknown(self, text: str) -> list[str]:
        """Characters a char vocabulary never saw (they become UNK); none for sentencepiece's byte fallback."""
        return sorted({c for c in text if c not in self._chars}) if self._chars is not None else []

    def decode(self, ids) -> str:
        return self.tokenizer.decode([i - SPECIALS for i in ids if i >= SPECIALS])

    def piece(self, i: int) -> str:
        return {PAD: "<pad>", BOS: "<s>", EOS: "</s>", UNK: "<unk>"}.get(i) or self.decode([i])


def _fingerprint(pairs) -> str:
    digest = hashlib.sha256()
    for source, target in pairs:
        digest.update(f"{source}\t{target}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def make_batch(sources: list[list[int]], targets: Optional[list[list[int]]], device):
    """Pad a batch: source (B, S) ending in EOS, lengths (B,), target_in (B, T) = BOS + y, target_out (B, T) = y + EOS."""
    sources = [s + [EOS] for s in sources]
    lengths = torch.tensor([len(s) for s in sources])
    source = torch.full((len(sources), int(lengths.max())), PAD, dtype=torch.long)
    for row, ids in enumerate(sources):
        source[row, :len(ids)] = torch.tensor(ids)
    if targets is None:
        return source.to(device), lengths.to(device), None, None
    width = max(len(t) for t in targets) + 1
    target_in = torch.full((len(targets), width), PAD, dtype=torch.long)
    target_out = torch.full((len(targets), width), PAD, dtype=torch.long)
    for row, ids in enumerate(targets):
        target_in[row, :len(ids) + 1] = torch.tensor([BOS] + ids)
        target_out[row, :len(ids) + 1] = torch.tensor(ids + [EOS])
    return source.to(device), lengths.to(device), target_in.to(device), target_out.to(device)


def _batches(count: int, batch_size: int, lengths: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar source length (sorted within chunks of 20 batches), so little is padding."""
    order = rng.permutation(count)
    chunk = batch_size * 20
    batches = []
    for start in range(0, count, chunk):
        part = order[start:start + chunk]
        part = part[np.argsort([lengths[i] for i in part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


DEFAULT_MAX_LENGTH = TranslateConfig.max_length  # for checkpoints written before the cap was stored
MAX_OUTPUT_LENGTH = 1000  # tokens decoded at most per translation, whatever --max-len says
# No tokenizer piece here is longer than this many characters, so clipping a text to max_length × this
# characters before encoding never changes its first max_length tokens but keeps a huge text cheap.
_CHARS_PER_TOKEN = 64


def _clip_chars(text: str, max_length: int) -> str:
    return text[:max_length * _CHARS_PER_TOKEN + 1]


class Translator:
    """A trained model with its vocabularies: translate texts, score pairs, show attention."""

    def __init__(self, model: Seq2Seq, source_vocab: Vocab, target_vocab: Vocab, device,
                 max_length: int = DEFAULT_MAX_LENGTH):
        self.model, self.source_vocab, self.target_vocab, self.device = model, source_vocab, target_vocab, device
        self.max_length = max_length  # source tokens read at most: longer texts are cut (see `source_length`)

    def source_length(self, text: str) -> int:
        """Tokens `text` encodes to; more than `max_length` means `translate` reads only its first max_length."""
        return len(self.source_vocab.encode(_clip_chars(text, self.max_length)))

    def translate(self, texts: list[str], beam_size: int = 1, max_len: Optional[int] = None,
                  length_penalty: float = 1.0, batch_size: int = 64) -> list[str]:
        """Translate texts in batches of similar length; beam_size 1 is greedy decoding. A text longer than
        `max_length` source tokens is cut to its first max_length tokens, so no input makes decoding hang;
        max_len is capped at MAX_OUTPUT_LENGTH."""
        self.model.eval()
        encoded = [self.source_vocab.encode(_clip_chars(t, self.max_length))[:self.max_length] for t in texts]
        max_len = min(max_len, MAX_OUTPUT_LENGTH) if max_len else None
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out: list[Optional[str]] = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            source, lengths, _, _ = make_batch([encoded[i] for i in rows], None, self.device)
            limit = max_len or min(512, 2 * int(lengths.max()) + 10)
            with torch.inference_mode(), autocast(self.device):
                state = self.model.start(source, lengths)
                if beam_size == 1:
                    ids = greedy_search(self.model.step, state, len(rows), BOS, EOS, limit, self.device)
                else:
                    ids = beam_search(self.model.step, state, len(rows), BOS, EOS, limit, beam_size,
                                      length_penalty, self.device)
            for i, row in zip(rows, ids):
                out[i] = self.target_vocab.decode(row)
        return out

    @torch.inference_mode()
    def attention(self, text: str, translation: str):
        """(source pieces, target pieces, weights (T, S)) of the model reading `translation` for `text`."""
        self.model.eval()
        source_ids = self.source_vocab.encode(_clip_chars(text, self.max_length))[:self.max_length]
        target_ids = self.target_vocab.encode(_clip_chars(translation, MAX_OUTPUT_LENGTH))[:MAX_OUTPUT_LENGTH]
        source, lengths, target_in, _ = make_batch([source_ids], [target_ids], self.device)
        _, weights = self.model(source, lengths, target_in)
        return ([self.source_vocab.piece(i) for i in source_ids + [EOS]],
                [self.target_vocab.piece(i) for i in target_ids + [EOS]], weights[0].float().cpu().numpy())


def load_translator(path, device: str = "auto") -> tuple[Translator, dict]:
    """Rebuild a Translator from a translate checkpoint alone; other checkpoints get one clear line."""
    payload = load_checkpoint(path, task=TASK)
    device = resolve_device(device)
    try:
        model = Seq2Seq(from_dict(Seq2SeqConfig, payload["model_config"]))
        model.load_state_dict(payload["model_state"])
        source_vocab = Vocab(tokenizer_from_state(payload["source_tokenizer"]))
        target_state = payload["target_tokenizer"]
        target_vocab = source_vocab if target_state is None else Vocab(tokenizer_from_state(target_state))
        max_length = (payload.get("train_config") or {}).get("max_length", DEFAULT_MAX_LENGTH)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise TypeError("max_length")
    except (KeyError, TypeError, RuntimeError, AttributeError) as error:
        raise SeqgenError(f"{resolve_checkpoint(path)} is damaged: {type(error).__name__} while rebuilding the model") from None
    return Translator(model.to(device).eval(), source_vocab, target_vocab, device, max_length), payload


def checkpoint_splits(payload: dict) -> dict:
    """The train / val / test pairs a checkpoint was trained on, rebuilt from its corpus and checked unchanged."""
    config = from_dict(TranslateConfig, payload["train_config"])
    _, splits, _ = load_pairs(config.corpus, train_size=config.train_pairs, seed=config.seed,
                              val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                              source_column=config.source_column, target_column=config.target_column,
                              encoding=config.encoding)
    if _fingerprint(splits["test"]) != payload["corpus"]["test_fingerprint"]:
        raise SeqgenError(f"the corpus {config.corpus!r} changed since this model was trained, so its split is "
                          "not the one it was trained on; score a pairs file with --pairs instead")
    return splits


@torch.no_grad()
def validation_loss(model: Seq2Seq, encoded: list, batch_size: int, device) -> float:
    """Mean cross-entropy per target token (EOS included), padding left out."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        sources, targets = zip(*encoded[start:start + batch_size])
        source, lengths, target_in, target_out = make_batch(list(sources), list(targets), device)
        with autocast(device):
            logits, _ = model(source, lengths, target_in)
        total += float(torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), target_out.flatten(),
                                                         ignore_index=PAD, reduction="sum"))
        count += int((target_out != PAD).sum())
    return total / max(1, count)


def train_translation(config: TranslateConfig, should_stop: Optional[Callable[[], bool]] = None,
                      progress: bool = True, log: Callable[[str], None] = lambda s: None) -> TrainResult:
    """Train an encoder-decoder on `config.corpus` with teacher forcing; best.pt is the lowest validation loss."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    corpus_name, splits, skipped = load_pairs(
        config.corpus, train_size=config.train_pairs, seed=config.seed, val_fraction=config.val_fraction,
        test_fraction=config.test_fraction, source_column=config.source_column, target_column=config.target_column,
        encoding=config.encoding)
    cap = config.max_length
    # Texts far over the cap (in characters) are left out before the tokenizer is fitted: they would only be
    # dropped after encoding, and a huge one slows sentencepiece's training down for nothing.
    char_cap = cap * _CHARS_PER_TOKEN
    huge = {part: [p for p in pairs if max(len(p[0]), len(p[1])) > char_cap] for part, pairs in splits.items()}
    fit_splits = {part: [p for p in pairs if max(len(p[0]), len(p[1])) <= char_cap] if huge[part] else pairs
                  for part, pairs in splits.items()}
    # Char vocabularies see every split (as for the language model), so no held-out character is unknown;
    # sentencepiece learns from the training split only and falls back to bytes.
    fit_on = fit_splits["train"] if config.tokenizer != "char" else [p for part in fit_splits.values() for p in part]
    if not fit_on:
        raise SeqgenError(f"every training pair is longer than --max-length {cap} tokens; raise --max-length")
    if config.shared_vocab:
        source_vocab = target_vocab = Vocab.fit([t for pair in fit_on for t in pair], config.tokenizer, config.vocab_size)
    else:
        source_vocab = Vocab.fit([s for s, _ in fit_on], config.tokenizer, config.vocab_size)
        target_vocab = Vocab.fit([t for _, t in fit_on], config.tokenizer, config.vocab_size)
    dropped = {"train": len(huge["train"]), "val": 0}

    def encode(pairs, part):
        """(kept pairs, their ids): a pair with a side over `cap` tokens is left out and counted."""
        kept_pairs, ids = [], []
        for s, t in pairs:
            pair_ids = (source_vocab.encode(_clip_chars(s, cap)), target_vocab.encode(_clip_chars(t, cap)))
            if max(len(pair_ids[0]), len(pair_ids[1])) > cap:
                dropped[part] += 1
            else:
                kept_pairs.append((s, t))
                ids.append(pair_ids)
        return kept_pairs, ids

    train_pairs, train_ids = encode(fit_splits["train"], "train")
    val_pairs, val_ids = encode(splits["val"][:1000], "val")
    notes = []
    if skipped:
        from seqgen.data.pairs import describe_skipped

        notes.append(describe_skipped(skipped))
    if dropped["train"] or dropped["val"]:
        notes.append(f"left out {dropped['train'] + dropped['val']:,} pair(s) longer than --max-length {cap} tokens "
                     f"({dropped['train']:,} training, {dropped['val']:,} validation)")
    if not train_pairs:
        raise SeqgenError(f"every training pair is longer than --max-length {cap} tokens; raise --max-length")
    if notes:
        log(f"{config.corpus}: {'; '.join(notes)}")
    if not val_pairs:
        why = "all over --max-length" if splits["val"] else "--val-fraction 0 or too few pairs"
        log(f"no validation pairs ({why}): validating on the training pairs")
        val_pairs, val_ids = train_pairs[:1000], train_ids[:1000]
    log(f"{corpus_name}: {len(train_pairs):,} training, {len(splits['val']):,} validation, {len(splits['test']):,} test pairs")
    model_config = Seq2SeqConfig(source_vocab.size, target_vocab.size, config.embedding_dim, config.hidden_size,
                                 config.num_layers, config.dropout)
    model = Seq2Seq(model_config).to(device)
    optimizer = _optimizer(model, config, device)
    translator = Translator(model, source_vocab, target_vocab, device, cap)
    run_dir = _run_dir(config, corpus_name)
    run_dir.mkdir(parents=True, exist_ok=True)
    _point_last_at(run_dir)

    max_steps, epochs, max_time = config.budget()
    per_epoch = math.ceil(len(train_ids) / config.batch_size)
    step, elapsed, best_val_loss, evals_without_improvement, history = 0, 0.0, math.inf, 0, []
    source_lengths = [len(s) for s, _ in train_ids]

    def fraction_done() -> float:
        done = [step / max_steps if max_steps else 0.0, step / (epochs * per_epoch) if epochs else 0.0,
                elapsed / (max_time * 60) if max_time else 0.0]
        return max(done)

    def payload() -> dict:
        return {
            "task": TASK, "model_config": to_dict(model_config), "train_config": to_dict(config),
            "source_tokenizer": source_vocab.tokenizer.to_state(),
            "target_tokenizer": None if target_vocab is source_vocab else target_vocab.tokenizer.to_state(),
            "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer_state": optimizer.state_dict(), "step": step, "best_val_loss": best_val_loss,
            "history": history,
            "corpus": {"name": corpus_name, "spec": config.corpus, "test_fingerprint": _fingerprint(splits["test"])},
        }

    def evaluate_and_save() -> float:
        nonlocal best_val_loss, evals_without_improvement
        val_loss = validation_loss(model, val_ids, config.batch_size, device)
        if not math.isfinite(val_loss):
            raise TrainingDiverged(f"the validation loss became {val_loss} at step {step}; lower --lr (now {config.lr:g})")
        hypotheses = translator.translate([s for s, _ in val_pairs], batch_size=256)
        exact = float(np.mean([h == t for h, (_, t) in zip(hypotheses, val_pairs)]))
        history.append({"step": step, "val_loss": val_loss, "val_exact_match": exact, "elapsed": round(elapsed, 2)})
        improved = val_loss < best_val_loss
        best_val_loss = min(best_val_loss, val_loss)
        evals_without_improvement = 0 if improved else evals_without_improvement + 1
        data = payload()
        save_checkpoint(data, run_dir / "latest.pt")
        if improved:
            save_checkpoint(data, run_dir / "best.pt")
        _write_json(run_dir / "run.json", {
            "task": TASK, "model_config": to_dict(model_config), "train_config": to_dict(config), "device": str(device),
            "parameters": sum(p.numel() for p in model.parameters()), "train_pairs": len(train_ids), "step": step,
            "elapsed_seconds": round(elapsed, 2), "best_val_loss": best_val_loss, "history": history})
        _plot_history(history, run_dir / "loss.png")
        model.train()
        return exact

    bar = tqdm(total=100, disable=not progress, file=sys.stderr, dynamic_ncols=True,
               bar_format="{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")
    stop_reason, epoch, loss_sum, loss_count, shown = "budget", 0, 0.0, 0, {}
    model.train()
    tick = time.perf_counter()
    while fraction_done() < 1.0:
        for rows in _batches(len(train_ids), config.batch_size, source_lengths, np.random.default_rng(config.seed + epoch)):
            for group in optimizer.param_groups:
                group["lr"] = lr = learning_rate(config, step, fraction_done())
            source, lengths, target_in, target_out = make_batch([train_ids[i][0] for i in rows],
                                                                [train_ids[i][1] for i in rows], device)
            with autocast(device):
                logits, _ = model(source, lengths, target_in)  # (B, T, V)
                loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), target_out.flatten(), ignore_index=PAD)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1
            now = time.perf_counter()
            elapsed, tick = elapsed + now - tick, now
            if step % 20 == 0:
                if not math.isfinite(loss_sum):
                    raise TrainingDiverged(f"the training loss became {loss_sum} at step {step}; lower --lr (now {config.lr:g})")
                history.append({"step": step, "train_loss": loss_sum / loss_count, "lr": lr, "elapsed": round(elapsed, 2)})
                shown.update(step=step, loss=f"{loss_sum / loss_count:.3f}")
                loss_sum, loss_count = 0.0, 0
                bar.set_postfix(shown, refresh=False)
                bar.update(100 * min(1.0, fraction_done()) - bar.n)
            interrupted = should_stop is not None and should_stop()
            if step % config.eval_interval == 0 or fraction_done() >= 1.0 or interrupted:
                exact = evaluate_and_save()
                shown.update(val=f"{history[-1]['val_loss']:.3f}", exact=f"{100 * exact:.1f}%")
                tick = time.perf_counter()  # evaluation time does not count against the budget
                if interrupted:
                    stop_reason = "interrupted"
                elif config.patience is not None and evals_without_improvement >= config.patience:
                    stop_reason = "patience"
            if stop_reason != "budget" or fraction_done() >= 1.0:
                break
        if stop_reason != "budget":
            break
        epoch += 1
    if not history or "val_loss" not in history[-1]:
        evaluate_and_save()
    bar.update(100 * min(1.0, fraction_done()) - bar.n)
    bar.close()
    return TrainResult(run_dir, step, best_val_loss, stop_reason, history)
