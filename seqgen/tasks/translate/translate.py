"""A trained translation model, loaded from its checkpoint alone: translate texts (greedy or beam
search), show the attention of a translation, and evaluate on pairs."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from seqgen.checkpoint import check_weights, rebuilding
from seqgen.config import check, check_values, from_dict
from seqgen.data.pairs import OUTPUT_CHECKS
from seqgen.decode.sampling import resolve_sample_precision
from seqgen.decode.search import Seq2SeqStepper, beam_search, greedy_search
from seqgen.device import autocast
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import BOS, EOS, PAD, Seq2Seq, Seq2SeqConfig
from seqgen.tasks.translate.config import DecodeConfig, EvaluateConfig, TranslateConfig
from seqgen.tasks.translate.data import MAX_OUTPUT_LENGTH, Vocab, checkpoint_splits, clip_chars, make_batch
from seqgen.threads import ThreadPolicy
from seqgen.tokenizers import tokenizer_from_state
from seqgen.training import load_to_use

SEARCH = DecodeConfig()  # the search of `seqgen translate` and of Translator.translate: one home for its defaults

NAME = "translate"
DEFAULT_MAX_LENGTH = TranslateConfig.max_length  # for checkpoints written before the cap was stored


class Translation(str):
    """One translation: the text itself (a str), and `problem`: why it cannot be an answer of the built-in task
    the model was trained on (a dates model's "2024-02-30": "not a calendar date"), or None."""

    problem: Optional[str] = None

    def __new__(cls, text: str, problem: Optional[str] = None):
        translation = super().__new__(cls, text)
        translation.problem = problem
        return translation

    def marked(self) -> str:
        """The text as `seqgen translate` prints it: with its problem after a tab, when it has one."""
        return str(self) if self.problem is None else f"{self}\t({self.problem})"


def check_texts(texts, what: str = "text") -> list[str]:
    """`texts` (one string, or a list of them) as a list of strings that can be translated; anything else is
    one line naming the first that cannot."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, (bytes, dict)) or not hasattr(texts, "__iter__"):
        raise SeqgenError(f"give the {what}s to translate as a string or a list of strings, not "
                          f"{type(texts).__name__}")
    texts = list(texts)
    for number, text in enumerate(texts, start=1):
        where = what if len(texts) == 1 else f"{what} {number}"
        if not isinstance(text, str):
            raise SeqgenError(f"{where} is {type(text).__name__} {text!r}"[:160] + "; give strings")
        if "\x00" in text:
            raise SeqgenError(f"{where} holds a NUL byte, so it is binary data, not text; give plain UTF-8 text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise SeqgenError(f"{where} is not valid UTF-8 text (it holds a lone surrogate); give plain UTF-8 "
                              "text") from None
    return texts


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
        corpus = self.payload.get("corpus") or {}
        self.check = OUTPUT_CHECKS.get(corpus.get("spec")) if isinstance(corpus, dict) else None

    @classmethod
    def load(cls, path, device: str = "auto", threads: Optional[int] = None) -> "Translator":
        """Rebuild a Translator from a translate checkpoint alone; a damaged file is one line. `threads` fixes
        the CPU threads its verbs compute with (default: see seqgen.threads)."""
        path, payload, device, threads = load_to_use(path, NAME, device, threads)
        with rebuilding(path):
            config = from_dict(TranslateConfig, payload["train_config"])
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
        text, = check_texts([text])
        return len(self.source_vocab.encode(clip_chars(text, self.max_length)))

    def translate(self, texts, beam_size: int = SEARCH.beam_size, max_len: Optional[int] = SEARCH.max_len,
                  length_penalty: float = SEARCH.length_penalty, batch_size: int = SEARCH.batch_size,
                  precision: str = SEARCH.precision) -> list[Translation]:
        """Translate texts (a list, or one string) in batches of similar length, with the defaults of `seqgen
        translate` (DecodeConfig: beam search of 5; int8 decoder weights on the CPU); beam_size 1 is greedy.
        A text longer than `max_length` source tokens is cut to its first max_length tokens, so no input
        makes decoding hang; max_len is capped at MAX_OUTPUT_LENGTH. With `precision` int8 (or auto, on
        the CPU) the decoder steps with int8 weights. Each translation is a str; its `problem` says when it
        cannot be an answer of the built-in task the model learned (dates: not a calendar date)."""
        texts = check_texts(texts)
        search = check_values(DecodeConfig, beam_size=beam_size, max_len=max_len, length_penalty=length_penalty,
                              batch_size=batch_size, precision=precision)
        beam_size, max_len, length_penalty, batch_size, precision = search.values()
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
                int8 = resolve_sample_precision(precision, self.device) == "int8"
                step = steppers.get(int8) or steppers.setdefault(int8, Seq2SeqStepper(self.model, int8))
                with threads.step(), torch.inference_mode(), autocast(self.device):
                    state = step.start(source, lengths)
                    if beam_size == 1:
                        ids = greedy_search(step, state, len(rows), BOS, EOS, limit, self.device)
                    else:
                        ids = beam_search(step, state, len(rows), BOS, EOS, limit, beam_size, length_penalty,
                                          self.device)
                for i, row in zip(rows, ids):
                    text = self.target_vocab.decode(row)
                    out[i] = Translation(text, self.check(text) if self.check is not None else None)
        return out

    @torch.inference_mode()
    def attention(self, text: str, translation: str):
        """(source pieces, target pieces, weights (T, S)) of the model reading `translation` for `text`."""
        text, translation = check_texts([text, translation])
        self.model.eval()
        source_ids = self.source_vocab.encode(clip_chars(text, self.max_length))[:self.max_length]
        target_ids = self.target_vocab.encode(clip_chars(translation, MAX_OUTPUT_LENGTH))[:MAX_OUTPUT_LENGTH]
        source, lengths, target_in, _ = make_batch([source_ids], [target_ids], self.device)
        with self.thread_policy():
            _, weights = self.model(source, lengths, target_in)
        return ([self.source_vocab.label(i) for i in source_ids + [EOS]],
                [self.target_vocab.label(i) for i in target_ids + [EOS]], weights[0].float().cpu().numpy())

    @torch.inference_mode()
    def inspect(self, text: str, translation: Optional[str] = None, top_k: int = 3) -> dict:
        """Every gate, C and h of the encoder reading `text` and of the decoder writing `translation` (default:
        the greedy translation), with the decoder's top next tokens: {"encoder": Inspection, "decoder":
        Inspection}. The encoder is bidirectional: a layer's forward units, then its backward ones."""
        text, = check_texts([text])
        if not text.strip():
            raise SeqgenError("the text is empty; give a sentence to inspect")
        top_k = check("top_k", top_k, int, min=1)
        if translation is None:
            translation = self.translate([text], beam_size=1, precision="fp32")[0]
        translation, = check_texts([translation], "the translation")
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
            labels = [vocab.label(int(i)) for i in ids]
            return Inspection(kind="text", tokens=np.asarray(ids, dtype=np.int64), labels=labels,
                              gates={q: v[:, 0].float().cpu().numpy() for q, v in gates.items()},
                              features=text_features(labels), **extra)

        top = top.cpu().numpy()
        return {"encoder": inspection(encoded, source[0].tolist(), self.source_vocab, directions=2,
                                      title=f"encoder reading: {text}"),
                "decoder": inspection(decoded, target_in[0].tolist(), self.target_vocab, top_tokens=top,
                                      top_probs=probs.cpu().numpy(),
                                      top_labels=[[self.target_vocab.label(int(i)) for i in row] for row in top],
                                      title=f"decoder writing: {translation}")}

    def evaluate(self, split: str = EvaluateConfig.split, pairs=None, encoding: str = EvaluateConfig.encoding,
                 beam_size: int = EvaluateConfig.beam_size) -> dict:
        """Exact match, BLEU and chrF, greedy and with a beam, on the run's split or a pairs file."""
        from seqgen.tasks.translate.evaluate import evaluate

        c = EvaluateConfig(split=split, pairs=pairs, encoding=encoding, beam_size=beam_size)
        if c.pairs is None and c.encoding != EvaluateConfig.encoding:
            raise SeqgenError("--encoding is the encoding of the file given with --pairs; without one, leave it out")
        return evaluate(self, c.split, c.pairs, c.encoding, c.beam_size)


def training_sample(best_path, count: int) -> list[dict]:
    """What `seqgen train --task translate --sample-length N` shows of a finished run: the first N (at most 5)
    test pairs translated greedily by its best model, each as source, output and expected."""
    translator = Translator.load(best_path, "cpu")
    examples = checkpoint_splits(translator.payload)["test"][:min(count, 5)]
    outputs = translator.translate([source for source, _ in examples], beam_size=1, precision="fp32") if examples else []
    return [{"source": source, "output": output, "expected": target}
            for (source, target), output in zip(examples, outputs)]
