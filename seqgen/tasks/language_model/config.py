"""The language model's options: how it is trained (TrainConfig), how it is sampled (SampleConfig) and what
evaluating it scores (EvaluateConfig).
The network's own options are ModelConfig, beside the network in seqgen/models/lstm.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Optional

from seqgen.config import THREADS_HELP, Checked, CorpusOptions, StepOptions, default, option

if TYPE_CHECKING:  # the options load without torch, for --help
    from seqgen.decode.sampling import Sampling


@dataclass(frozen=True)
class TrainConfig(StepOptions, CorpusOptions):
    """How a language model is trained: data, optimisation, budget and output."""

    DEFAULT_MINUTES: ClassVar[float] = 3.0

    corpus: str = option("lady-susan", "Built-in corpus or data set (see `seqgen corpora`; e.g. "
                         "jsb-chorales, fetched on first use), a text file, a folder of .txt files, music files or a "
                         "piano-roll .json file.", path=True)
    val_fraction: float = default(0.05, help="Share of the corpus, taken from its end before the test part, used "
                                             "for validation.")
    test_fraction: float = default(0.05, help="Share of the corpus, taken from its very end, held out for testing.")
    grid: int = option(4, "Music: time steps per quarter note (4 = sixteenths, 12 also fits triplets).", min=1, max=24)
    transpose: str = option("none", "Music: transpose every piece to C major / A minor by its key signature.",
                            choices=("none", "common"))
    augment: int = option(0, "Music: also train on copies transposed by up to this many semitones each way.",
                          min=0, max=11)
    batch_size: int = default(16, help="Parallel streams the training text is laid out in (small steps learn "
                                       "fastest on a CPU; use 64-256 on a GPU).")
    bptt: int = option(32, "Tokens per truncated-backpropagation window.", min=1)
    eval_batch_size: int = option(16, "Contiguous streams the validation text is scored in (state carried through "
                                  "each).", min=1)


@dataclass(frozen=True)
class SampleConfig(Checked):
    """How text or music is drawn from a trained model."""

    temperature: float = option(0.8, "Sharpen (<1) or flatten (>1) the distribution; 0 always takes the most likely "
                                "token.", min=0.0)
    top_k: Optional[int] = option(None, "Sample only among the k most likely tokens.", min=1)
    top_p: Optional[float] = option(None, "Sample only among the most likely tokens whose probabilities sum to p.",
                                    min=0.0, max=1.0, min_open=True)
    length: int = option(500, "Tokens to generate (characters for a char model).", min=1, max=10_000_000)
    num_samples: int = option(1, "Samples to generate, as one batch.", min=1, max=100_000)
    prime: str = option("", "Text the samples continue.")
    seed: Optional[int] = option(None, "Random seed; the same seed gives the same text [default: random, printed].",
                                 min=0, max=2**63 - 1)
    device: str = option("auto", "Where to run: cuda when available (auto), or forced.", choices=("auto", "cpu", "cuda"))
    threads: Optional[int] = option(None, THREADS_HELP, min=1, max=1024)
    precision: str = option("auto", "Weights of the CPU step: int8 (per-channel scales; 4x less to read per token) or "
                            "fp32; auto is int8 on the CPU where PyTorch has the kernels.",
                            choices=("auto", "fp32", "int8"))
    output: Optional[str] = option(None, "Write the samples to this file (x-1.txt, x-2.txt, … with several); music "
                                   "needs it.", path=True)
    format: str = option("midi", "Music: file format written (wav: rendered to audio with FluidSynth; an --output "
                         "ending in .wav chooses it too).", choices=("midi", "musicxml", "abc", "wav"))
    prime_midi: Optional[str] = option(None, "Music: continue this MIDI, MusicXML or ABC file.", path=True)
    bars: Optional[int] = option(None, "Music: each sample is this many new bars long.", min=1, max=1000)
    keep_primer: bool = option(True, "Music: the written file starts with the primer's notes.")
    plot: bool = option(False, "Music: also write a piano-roll PNG beside each file.")

    @property
    def sampling(self) -> Sampling:
        """How each token is drawn (the knobs seqgen.decode.sampling.generate takes)."""
        from seqgen.decode.sampling import Sampling

        return Sampling(self.temperature, self.top_k, self.top_p, self.precision)


@dataclass(frozen=True)
class EvaluateConfig(Checked):
    """What `seqgen evaluate` scores of a language model (LanguageModel.evaluate's keywords)."""

    split: str = option("test", "Which held-out part of the training corpus to score.", choices=("val", "test"))
    text: Optional[str] = option(None, "Score this text file instead of --split.", path=True)
    encoding: str = option("utf-8", "Text encoding of the file scored, e.g. latin-1.")
    batch_size: int = option(16, "Streams the text is scored in (fewer when the text is short).", min=1)
    num_generated: int = option(8, "Pieces a music model generates to compare their statistics with the corpus's.",
                                min=0)
    seed: int = option(0, "Random seed of the pieces a music model generates.", min=0, max=2**63 - 1)
