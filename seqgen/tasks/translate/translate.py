"""A trained translation model, loaded from its checkpoint alone: translate texts (greedy or beam
search), show the attention of a translation, and evaluate on pairs."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from seqgen.checkpoint import check_weights, load_checkpoint, rebuilding, resolve_checkpoint
from seqgen.config import from_dict
from seqgen.decode.sampling import resolve_sample_precision
from seqgen.decode.search import Seq2SeqStepper, beam_search, greedy_search
from seqgen.device import autocast, resolve_device
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import BOS, EOS, PAD, Seq2Seq, Seq2SeqConfig
from seqgen.tasks.translate.config import TranslateConfig
from seqgen.tasks.translate.data import MAX_OUTPUT_LENGTH, Vocab, clip_chars, make_batch
from seqgen.threads import ThreadPolicy, check_threads
from seqgen.tokenizers import tokenizer_from_state

NAME = "translate"
DEFAULT_MAX_LENGTH = TranslateConfig.max_length  # for checkpoints written before the cap was stored


class Translator:
    """What `seqgen.load` returns for a translate checkpoint: translate texts, score pairs, show attention."""

    task = NAME
    threads: Optional[int] = None  # CPU threads of every verb (None: seqgen.threads.ThreadPolicy decides)
    inherit_threads = False  # True inside training: validation runs with the training loop's thread count

    def __init__(self, model: Seq2Seq, source_vocab: Vocab, target_vocab: Vocab, device,
                 max_length: int = DEFAULT_MAX_LENGTH, payload: Optional[dict] = None):
        self.model, self.source_vocab, self.target_vocab, self.device = model, source_vocab, target_vocab, device
        self.max_length = max_length  # source tokens read at most: longer texts are cut (see `source_length`)
        self.payload = payload or {}

    @classmethod
    def load(cls, path, device: str = "auto", threads: Optional[int] = None) -> "Translator":
        """Rebuild a Translator from a translate checkpoint alone; a damaged file is one line. `threads` fixes
        the CPU threads its verbs compute with (default: see seqgen.threads)."""
        threads = check_threads(threads)
        path = resolve_checkpoint(path)
        payload = load_checkpoint(path, task=NAME)
        device = resolve_device(device) if isinstance(device, str) else device
        with rebuilding(path):
            config = from_dict(TranslateConfig, payload.get("train_config") or {})
            model_config = from_dict(Seq2SeqConfig, payload["model_config"])
            model = Seq2Seq(model_config)
            check_weights(payload["model_state"])
            model.load_state_dict(payload["model_state"])
            source_vocab = Vocab(tokenizer_from_state(payload["source_tokenizer"]))
            target_state = payload["target_tokenizer"]
            target_vocab = source_vocab if target_state is None else Vocab(tokenizer_from_state(target_state))
            if (source_vocab.size, target_vocab.size) != (model_config.source_vocab_size, model_config.target_vocab_size):
                raise SeqgenError("its vocabularies do not match its model's sizes")
        loaded = cls(model.to(device).eval(), source_vocab, target_vocab, device, config.max_length, payload)
        loaded.threads = threads
        return loaded

    def thread_policy(self) -> ThreadPolicy:
        return ThreadPolicy(self.threads, device=self.device, inherit=self.inherit_threads)

    def source_length(self, text: str) -> int:
        """Tokens `text` encodes to; more than `max_length` means `translate` reads only its first max_length."""
        return len(self.source_vocab.encode(clip_chars(text, self.max_length)))

    def translate(self, texts, beam_size: int = 1, max_len: Optional[int] = None,
                  length_penalty: float = 1.0, batch_size: int = 64, precision: str = "fp32") -> list[str]:
        """Translate texts (a list, or one string) in batches of similar length; beam_size 1 is greedy.
        A text longer than `max_length` source tokens is cut to its first max_length tokens, so no input
        makes decoding hang; max_len is capped at MAX_OUTPUT_LENGTH. With `precision` int8 (or auto, on
        the CPU) the decoder steps with int8 weights."""
        if isinstance(texts, str):
            texts = [texts]
        if beam_size < 1 or (max_len is not None and max_len < 1) or length_penalty < 0:
            raise SeqgenError("beam_size and max_len must be at least 1, and length_penalty at least 0")
        self.model.eval()
        encoded = [self.source_vocab.encode(clip_chars(t, self.max_length))[:self.max_length] for t in texts]
        max_len = min(max_len, MAX_OUTPUT_LENGTH) if max_len else None
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out: list[Optional[str]] = [None] * len(texts)
        steppers = {}
        with self.thread_policy() as threads:
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                source, lengths, _, _ = make_batch([encoded[i] for i in rows], None, self.device)
                limit = max_len or min(512, 2 * int(lengths.max()) + 10)
                int8 = resolve_sample_precision(precision, self.device, len(rows) * beam_size) == "int8"
                step = steppers.get(int8) or steppers.setdefault(int8, Seq2SeqStepper(self.model, int8))
                with threads.step(), torch.inference_mode(), autocast(self.device):
                    state = step.start(source, lengths)
                    if beam_size == 1:
                        ids = greedy_search(step, state, len(rows), BOS, EOS, limit, self.device)
                    else:
                        ids = beam_search(step, state, len(rows), BOS, EOS, limit, beam_size, length_penalty,
                                          self.device)
                for i, row in zip(rows, ids):
                    out[i] = self.target_vocab.decode(row)
        return out

    @torch.inference_mode()
    def attention(self, text: str, translation: str):
        """(source pieces, target pieces, weights (T, S)) of the model reading `translation` for `text`."""
        self.model.eval()
        source_ids = self.source_vocab.encode(clip_chars(text, self.max_length))[:self.max_length]
        target_ids = self.target_vocab.encode(clip_chars(translation, MAX_OUTPUT_LENGTH))[:MAX_OUTPUT_LENGTH]
        source, lengths, target_in, _ = make_batch([source_ids], [target_ids], self.device)
        with self.thread_policy():
            _, weights = self.model(source, lengths, target_in)
        return ([self.source_vocab.piece(i) for i in source_ids + [EOS]],
                [self.target_vocab.piece(i) for i in target_ids + [EOS]], weights[0].float().cpu().numpy())

    @torch.inference_mode()
    def inspect(self, text: str, translation: Optional[str] = None, top_k: int = 3) -> dict:
        """Every gate, C and h of the encoder reading `text` and of the decoder writing `translation` (default:
        the greedy translation), with the decoder's top next tokens: {"encoder": Inspection, "decoder":
        Inspection}. The encoder is bidirectional: a layer's forward units, then its backward ones."""
        if not isinstance(text, str) or not text.strip():
            raise SeqgenError("the text is empty; give a sentence to inspect")
        if translation is None:
            translation = self.translate([text])[0]
        with self.thread_policy():
            return self._inspect(text, translation, top_k)

    def _inspect(self, text: str, translation: str, top_k: int) -> dict:
        from seqgen.inspect import Inspection, check_steps, text_features
        from seqgen.models.gates import lstm_gates

        self.model.eval()
        source_ids = self.source_vocab.encode(clip_chars(text, self.max_length))[:self.max_length]
        target_ids = self.target_vocab.encode(clip_chars(translation, MAX_OUTPUT_LENGTH))[:MAX_OUTPUT_LENGTH]
        check_steps(len(source_ids))
        source, lengths, target_in, _ = make_batch([source_ids], [target_ids], self.device)
        encoder, decoder = self.model.encoder, self.model.decoder
        encoded, _ = lstm_gates(encoder.lstm, encoder.embedding(source))
        memory, state = encoder(source, lengths)
        decoded, _ = lstm_gates(decoder.lstm, decoder.embedding(target_in), state)
        logits, _, _ = decoder(target_in, state, memory, source != PAD)
        probs, top = logits[0].float().softmax(-1).topk(min(top_k, logits.size(-1)), dim=-1)  # (T, k)

        def inspection(gates, ids, vocab, **extra):
            labels = [vocab.piece(int(i)) for i in ids]
            return Inspection(kind="text", tokens=np.asarray(ids, dtype=np.int64), labels=labels,
                              gates={q: v[:, 0].float().cpu().numpy() for q, v in gates.items()},
                              features=text_features(labels), **extra)

        top = top.cpu().numpy()
        return {"encoder": inspection(encoded, source[0].tolist(), self.source_vocab, directions=2,
                                      title=f"encoder reading: {text}"),
                "decoder": inspection(decoded, target_in[0].tolist(), self.target_vocab, top_tokens=top,
                                      top_probs=probs.cpu().numpy(),
                                      top_labels=[[self.target_vocab.piece(int(i)) for i in row] for row in top],
                                      title=f"decoder writing: {translation}")}

    def evaluate(self, split: str = "test", pairs: Optional[str] = None, encoding: str = "utf-8",
                 beam_size: int = 5) -> dict:
        """Exact match, BLEU and chrF, greedy and with a beam, on the run's split or a pairs file."""
        from seqgen.tasks.translate.evaluate import evaluate

        return evaluate(self, split, pairs, encoding, beam_size)
