"""Translation: an LSTM encoder-decoder with attention on sentence pairs, greedy and beam search, BLEU."""

from seqgen.tasks import lazy_parts
from seqgen.tasks.translate.config import DecodeConfig, EvaluateConfig, TranslateConfig  # noqa: F401  (part of the API)

NAME = "translate"
SUMMARY = "an encoder-decoder with attention on sentence pairs"
CONFIGS = (TranslateConfig,)  # the options of `seqgen train --task translate`, in this order under --help
DATA_PARALLEL = True  # trains under torchrun, one share of each batch per process
SHOWS_SAMPLES = True  # `seqgen train --sample-length N` translates N test pairs (training_sample)

# The rest imports torch, so it loads on first use: the command line lists options without it.
__getattr__, load = lazy_parts(__name__, {
    "Translator": "seqgen.tasks.translate.translate",
    "training_sample": "seqgen.tasks.translate.translate",
}, "Translator")
