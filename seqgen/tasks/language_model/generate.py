"""A trained language model, loaded from its checkpoint alone: generate text (streamed or as a batch),
generate music pieces and write them as MIDI / MusicXML, and evaluate."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from seqgen.checkpoint import check_weights, rebuilding
from seqgen.config import build, check, from_dict
from seqgen.decode.sampling import generate, stream_text
from seqgen.errors import SeqgenError
from seqgen.files import together, write_atomically
from seqgen.models import LSTMLanguageModel, ModelConfig
from seqgen.music.frames import HIGHEST, LOWEST
from seqgen.tasks.language_model.config import EvaluateConfig, SampleConfig, TrainConfig
from seqgen.tasks.language_model.music import (
    check_budget,
    generate_frame_pieces,
    generate_pieces,
)
from seqgen.threads import ThreadPolicy
from seqgen.tokenizers import tokenizer_from_state
from seqgen.tokenizers.char import UnknownCharacterError
from seqgen.training import load_to_use

NAME = "language-model"
# A music sample is written through music21, which takes minutes past some 30,000 notes (MAX_NOTES; three event
# tokens or more make a note, so 100,000 tokens stay below it).
MAX_MUSIC_LENGTH = 100_000
MUSIC_ONLY = {"format": "midi", "prime_midi": None, "bars": None, "keep_primer": True, "plot": False}


class LanguageModel:
    """What `seqgen.load` returns for a language-model checkpoint."""

    task = NAME
    threads: Optional[int] = None  # CPU threads of every verb (None: seqgen.threads.ThreadPolicy decides)

    def __init__(self, model: LSTMLanguageModel, tokenizer, payload: dict, device: torch.device, path: Path):
        self.model, self.tokenizer, self.payload, self.device, self.path = model, tokenizer, payload, device, path

    @classmethod
    def load(cls, path, device: str = "auto", threads: Optional[int] = None) -> "LanguageModel":
        """Rebuild the model and its tokenizer from a checkpoint alone; a damaged file is one line. `threads`
        fixes the CPU threads its verbs compute with (default: see seqgen.threads)."""
        path, payload, device, threads = load_to_use(path, NAME, device, threads)
        with rebuilding(path):
            config = from_dict(ModelConfig, payload["model_config"])
            from_dict(TrainConfig, payload["train_config"])
            tokenizer = tokenizer_from_state(payload["tokenizer"])
            if tokenizer.vocab_size != config.num_tokens:
                raise SeqgenError(f"its tokenizer has {tokenizer.vocab_size} tokens but its model {config.num_tokens}")
            model = LSTMLanguageModel(config)
            check_weights(payload["model_state"])
            model.load_state_dict(payload["model_state"])
        loaded = cls(model.to(device).eval(), tokenizer, payload, device, path)
        loaded.threads = threads
        return loaded

    def thread_policy(self, requested: Optional[int] = None) -> ThreadPolicy:
        """The thread policy of one verb: `requested` (a verb's own threads option), else the loaded count."""
        return ThreadPolicy(requested if requested is not None else self.threads, device=self.device)

    @property
    def train_config(self) -> TrainConfig:
        return from_dict(TrainConfig, self.payload["train_config"])

    @property
    def is_music(self) -> bool:
        return self.tokenizer.kind in ("music", "frames")

    def encode(self, text: str):
        text = check("the text to encode", text, str)
        try:
            return self.tokenizer.encode(text).astype("int64")
        except UnknownCharacterError as error:
            raise SeqgenError(f"the text cannot be encoded: {error}") from None

    def _options(self, options: dict) -> SampleConfig:
        config = options if isinstance(options, SampleConfig) else build(SampleConfig, options)
        if not self.is_music:
            music = [name for name, value in MUSIC_ONLY.items() if getattr(config, name) != value]
            if music:
                flags = ", ".join("--" + ("no-keep-primer" if n == "keep_primer" else n.replace("_", "-"))
                                  for n in music)
                raise SeqgenError(f"{flags} {'is' if len(music) == 1 else 'are'} for music models; this checkpoint "
                                  "is a text model")
        return config

    def _tokens(self, config: SampleConfig, threads: Optional[ThreadPolicy] = None) -> Iterator[torch.Tensor]:
        if config.prime:
            prime_ids = self.encode(config.prime)
        else:
            start = self.tokenizer.start_id()
            prime_ids = [start if start is not None else 0]  # a neutral start token, not shown
        prime = torch.as_tensor(prime_ids, dtype=torch.long, device=self.device).repeat(config.num_samples, 1)  # (N, P)
        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        return generate(self.model, prime, config.length, config.sampling, generator, threads=threads)

    def stream(self, **options) -> Iterator[str]:
        """One text sample, in parts as they are generated (the prime first)."""
        config = self._options(options)
        if self.is_music:
            raise SeqgenError("a music model writes files: use write(output=...) or `seqgen sample --output`")
        if config.num_samples != 1:
            raise SeqgenError("streaming gives one sample; use generate(num_samples=N) for several")
        yield config.prime
        with self.thread_policy(config.threads) as threads:
            yield from stream_text(self.tokenizer, self._tokens(config, threads))

    def generate(self, **options):
        """Text: the sample (prime included) as a string, or a list of `num_samples` strings.
        Music: a list of pieces (plain data; see seqgen.music.events)."""
        config = self._options(options)
        if self.is_music:
            return self._pieces(config)
        texts = self._texts(config)
        return texts[0] if config.num_samples == 1 else texts

    def _texts(self, config: SampleConfig) -> list[str]:
        check_budget(config.num_samples, config.length)
        rows = torch.empty(config.num_samples, config.length, dtype=torch.long, device=self.device)  # (N, length)
        with self.thread_policy(config.threads) as threads:
            for step, token in enumerate(self._tokens(config, threads)):
                rows[:, step] = token
        return [config.prime + self.tokenizer.decode(row.tolist()) for row in rows.cpu()]

    def _pieces(self, config: SampleConfig) -> list[dict]:
        from seqgen.music.generate import frame_primer_tokens, primer_tokens

        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        if config.length > MAX_MUSIC_LENGTH:
            raise SeqgenError(f"--length {config.length:,} is more than a music sample holds ({MAX_MUSIC_LENGTH:,} "
                              "tokens, some 30,000 notes: the most seqgen writes to one file); ask for fewer tokens, or "
                              "give --bars")
        if self.tokenizer.kind == "frames":
            primer = frame_primer_tokens(self.tokenizer, config.prime_midi, config.prime)
            frames = 4 * config.bars if config.bars else None
            # a frame is at most its 88 keys and `frame`: this many tokens always hold the frames asked for
            length = max(config.length, (HIGHEST - LOWEST + 2) * frames) if frames else config.length
            with self.thread_policy(config.threads) as threads:
                return generate_frame_pieces(self.model, self.tokenizer, primer, config.num_samples, length,
                                             config.sampling, seed=seed, device=self.device, frames=frames,
                                             keep_primer=config.keep_primer, threads=threads)
        primer = primer_tokens(self.tokenizer, config.prime_midi, config.prime)
        length = max(config.length, 300 * config.bars) if config.bars else config.length
        with self.thread_policy(config.threads) as threads:
            return generate_pieces(self.model, self.tokenizer, primer, config.num_samples, length, config.sampling,
                                   seed=seed, device=self.device, bars=config.bars, keep_primer=config.keep_primer,
                                   threads=threads)

    def write(self, **options) -> list[Path]:
        """Generate and write every sample to `output` (x.txt / x.mid, or x-1, x-2, … with several);
        music pieces get a piano roll beside them with plot=True. Returns the files written. The files are put
        in place together, once all are written (a failure leaves the files of those names as they were). A
        music sample without notes has no file: NoNotesError (a SeqgenError) names it, after the others."""
        config = self._options(options)
        if not config.output:
            raise SeqgenError("give an output file, e.g. --output samples/piece.mid")
        if not self.is_music:
            texts = self._texts(config)
            paths = output_paths(config.output, len(texts), ".txt")
            with together():  # every sample is written, or none is
                for path, text in zip(paths, texts):
                    write_atomically(path, lambda f, text=text: f.write(text + "\n"), "w")
            return paths
        from seqgen.music.plot import plot_piano_roll
        from seqgen.music.scores import WRITERS, write_piece

        fmt = "wav" if Path(config.output).suffix.lower() == ".wav" else config.format
        if fmt == "wav":
            from seqgen.music.audio import synthesizer, write_wav

            if Path(config.output).suffix.lower() not in ("", ".wav"):
                raise SeqgenError(f"--format wav writes .wav files; name the output {Path(config.output).stem}.wav")
            synthesizer()  # without FluidSynth, one line before the samples are drawn
        elif fmt not in WRITERS:
            raise SeqgenError(f"music21 cannot write {fmt!r} files; use --format midi, musicxml or wav")
        written, silent = [], []
        paths = output_paths(config.output, config.num_samples, ".wav" if fmt == "wav" else WRITERS[fmt][1])
        with together():  # the files of the samples with notes (and their plots) are written together, or none
            for path, piece in zip(paths, self._pieces(config)):
                if not piece["notes"]:
                    silent.append(path)
                    continue
                _check_size(piece, self.tokenizer.grid, path)
                if fmt == "wav":
                    written.append(write_wav(piece, path, self.tokenizer.grid))
                else:
                    written.append(write_piece(piece, path, fmt, self.tokenizer.grid))
                if config.plot:
                    written.append(plot_piano_roll(piece, self.tokenizer.grid, path.with_suffix(".png")))
        if silent:
            raise NoNotesError(_no_notes(silent, config.num_samples))
        return written

    def inspect(self, text: Optional[str] = None, prime_midi: Optional[str] = None, top_k: int = 3,
                window: Optional[int] = None, save=None):
        """Every gate, C and h of every layer at every token of `text` (a music model: event tokens, or the piece
        in the file `prime_midi`), read `window` tokens at a time with the state carried, with the model's
        `top_k` most likely next tokens after each: a seqgen.inspect.Inspection (arrays (layers, T, hidden)).

        With `save` (an .npz path) every value is written there as it is read, part by part, so an input of any
        length fits in memory; the Inspection returned then holds the first part (seqgen.inspect.record.PART
        steps) for the page, the heat map and the ranking."""
        from seqgen.inspect import record

        text = check("the input of inspect", text, str, optional=True)
        prime_midi = check("--prime-midi", prime_midi, str, optional=True, path=True)
        window = check("window", window, int, optional=True, min=1)
        save = check("--save", save, str, optional=True, path=True)
        if self.is_music:
            from seqgen.music.generate import frame_primer_tokens, primer_tokens

            frames = self.tokenizer.kind == "frames"
            if not prime_midi and not (text or "").strip():
                raise SeqgenError(f"give a piece to inspect: --prime-midi FILE, or {'frame' if frames else 'event'} "
                                  "tokens with --text")
            if prime_midi and text:
                raise SeqgenError("give either --prime-midi or --text, not both")
            if frames:
                ids = frame_primer_tokens(self.tokenizer, prime_midi, text or "", flag="--text")
            else:
                ids = primer_tokens(self.tokenizer, prime_midi, text or "")
            ids = np.asarray(ids, dtype=np.int64)
        else:
            if prime_midi:
                raise SeqgenError("--prime-midi is for music models; this checkpoint is a text model")
            ids = self.encode(text or "")
        record.check_steps(len(ids), saved=save is not None)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= self.tokenizer.vocab_size:
            raise SeqgenError(f"top_k must be a whole number from 1 to {self.tokenizer.vocab_size}, not {top_k!r}")
        with self.thread_policy() as threads:
            if save is None:
                return self._read(ids, top_k, window or record.WINDOW, threads=threads)[0]
            return self._read_saved(ids, top_k, window or record.WINDOW, save, threads)

    def _read_saved(self, ids: np.ndarray, top_k: int, window: int, save, threads: ThreadPolicy):
        """The inspection of `ids` written to the .npz `save` part by part as it is read; returns the first part."""
        from seqgen.inspect import record

        lstm, steps = self.model.lstm, len(ids)
        stream = record.NpzStream(save, {
            "tokens": (np.int64, (steps,)),
            **dict.fromkeys("ifgoch", (np.float32, (lstm.num_layers, steps, lstm.hidden_size))),
            "top_tokens": (np.int64, (steps, top_k)), "top_probs": (np.float32, (steps, top_k))})
        try:
            first, state = None, None
            for start in range(0, steps, record.PART):
                part, state = self._read(ids[start:start + record.PART], top_k, window, state, threads)
                stream.write(start, part.arrays())
                first = part if first is None else first
        except BaseException:
            stream.discard()
            raise
        stream.close()
        if first.steps < steps:
            first.title += f" (the first of {steps:,}; all are in {save})"
        return first

    def _read(self, ids: np.ndarray, top_k: int, window: int, state=None, threads: Optional[ThreadPolicy] = None):
        """(Inspection of `ids`, the LSTM state after them), starting from `state`."""
        from seqgen.inspect import Inspection, frame_features, music_features, read_in_windows, text_features

        model = self.model.eval()
        tokens = torch.as_tensor(ids, dtype=torch.long, device=self.device)[None]  # (1, T)

        def readout(h: torch.Tensor):  # (1, w, H) → the top next tokens and their probabilities, each (w, k)
            x = model.projection(h) if model.projection is not None else h
            probs, top = model.decoder(x)[0].float().softmax(-1).topk(top_k, dim=-1)
            return probs.cpu().numpy(), top.cpu().numpy()

        gates, readouts, state = read_in_windows(model.lstm, lambda a, b: model.embedding(tokens[:, a:b]), len(ids),
                                                 readout, window, state, threads)
        top = np.concatenate([t for _, t in readouts])
        label = self.tokenizer.label
        labels = [label(i) for i in ids]
        inspection = Inspection(kind="music" if self.is_music else "text", tokens=np.asarray(ids, dtype=np.int64),
                                labels=labels, gates=gates, top_tokens=top,
                                top_probs=np.concatenate([p for p, _ in readouts]),
                                top_labels=[[label(i) for i in row] for row in top],
                                title=f"{self.path.parent.name}/{self.path.name}: {len(ids):,} tokens",
                                features=(frame_features if self.tokenizer.kind == "frames" else music_features
                                          if self.is_music else text_features)(labels))
        return inspection, state

    def evaluate(self, split: str = EvaluateConfig.split, text=None, encoding: str = EvaluateConfig.encoding,
                 batch_size: int = EvaluateConfig.batch_size, num_generated: int = EvaluateConfig.num_generated,
                 seed: int = EvaluateConfig.seed) -> dict:
        """The figures `seqgen evaluate` prints, as a dict (`text` is a file to score instead of a split)."""
        from seqgen.tasks.language_model.evaluate import evaluate

        c = EvaluateConfig(split=split, text=text, encoding=encoding, batch_size=batch_size,
                           num_generated=num_generated, seed=seed)
        if c.text is None and c.encoding != EvaluateConfig.encoding:
            raise SeqgenError("--encoding is the encoding of the file given with --text; without one, leave it out")
        with self.thread_policy() as threads:
            return evaluate(self, c.split, c.text, c.encoding, c.batch_size, c.num_generated, c.seed, threads)


def training_sample(best_path, length: int):
    """What `seqgen train --sample-length N` shows of a finished run: N tokens sampled from its best model (seed 0,
    temperature 0.8) as text; a music model writes them to sample.mid (and its piano roll) beside the checkpoints
    and gives the files written (none when the sample has no notes)."""
    model = LanguageModel.load(best_path, "cpu")
    if model.is_music:
        cut = length > MAX_MUSIC_LENGTH  # the most a music sample holds: the preview is cut to it
        length = min(length, MAX_MUSIC_LENGTH)
        try:
            written = model.write(length=length, seed=0, output=str(Path(best_path).parent / "sample.mid"), plot=True)
        except NoNotesError:
            written = []
        return WrittenSample(written, length, cut)
    return "".join(model.stream(length=length, seed=0))


class WrittenSample(list):
    """The files a music model's sample after training went to (none when it drew no note), the tokens it was
    drawn with, and whether the asked length was cut to what a music sample holds."""

    def __init__(self, paths, tokens: int, cut: bool):
        super().__init__(paths)
        self.tokens, self.cut = tokens, cut


def _check_size(piece: dict, grid: int, path: Path) -> None:
    """One line, before music21 spends minutes on it, for a piece beyond what seqgen reads or writes in one file."""
    from seqgen.music.events import piece_end
    from seqgen.music.scores import MAX_NOTES, MAX_QUARTERS

    if len(piece["notes"]) > MAX_NOTES or piece_end(piece, grid) > MAX_QUARTERS:
        raise SeqgenError(f"{path.name} would hold {len(piece['notes']):,} notes over {piece_end(piece, grid):,.0f} "
                          f"quarter notes, more than the {MAX_NOTES:,} notes or {MAX_QUARTERS:,} quarter notes seqgen "
                          "writes to one file; ask for fewer --bars, a smaller --length or a shorter primer")


class NoNotesError(SeqgenError):
    """A music sample the model drew no note in: there is nothing to write for it."""


def _no_notes(silent: list, count: int) -> str:
    """The line for samples the model drew no note in (nothing to write for them)."""
    advice = "try another --seed, a higher --temperature, or a larger --length or --bars"
    if count == 1:
        return f"the sample has no notes (the model drew none), so {silent[0]} was not written; {advice}"
    names = ", ".join(str(p) for p in silent[:3]) + (", …" if len(silent) > 3 else "")
    return (f"{len(silent)} of {count} samples have no notes (the model drew none), so {names} "
            f"{'was' if len(silent) == 1 else 'were'} not written (the other {count - len(silent)} were); {advice}")


def output_paths(output: str, count: int, suffix: str) -> list[Path]:
    """x.mid for one sample; x-1.mid, x-2.mid, … for several. The folder is made (one line if it cannot be)."""
    path = Path(output).expanduser()
    if path.is_dir():
        raise SeqgenError(f"--output {path} is a folder; give a file name, e.g. {path / ('sample' + suffix)}")
    if not path.suffix:
        path = path.with_suffix(suffix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SeqgenError(f"cannot create the folder {path.parent}: {error.strerror or error}") from None
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{index}{path.suffix}") for index in range(1, count + 1)]
