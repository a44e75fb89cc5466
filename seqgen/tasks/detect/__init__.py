"""Streaming anomaly detection: each record of a series scored in [0, 1] and flagged, in time order and never
looking ahead, from the errors of an LSTM that learns the series as it reads it (or of a forecaster trained on
normal history) turned into an anomaly likelihood; NAB's scoring to measure it."""

from seqgen.tasks import lazy_parts
from seqgen.tasks.detect.config import DetectConfig, EvaluateConfig  # noqa: F401  (part of the API)

NAME = "detect"
SUMMARY = "streaming anomaly detection by an LSTM learning as it reads"
CONFIGS = ()  # nothing to train: the detector learns as it reads (`seqgen detect`), or uses a forecast checkpoint

# The rest imports torch, so it loads on first use: the command line lists options without it.
__getattr__, _load = lazy_parts(__name__, {
    "detect": "seqgen.tasks.detect.detect",
    "Detection": "seqgen.tasks.detect.detect",
    "nab_score": "seqgen.tasks.detect.evaluate",
}, "Detection")


def load(path, device: str = "auto", threads=None):
    """The detector keeps no checkpoint of its own: it learns as it reads, or reads a forecast checkpoint."""
    from seqgen.errors import SeqgenError

    raise SeqgenError(f"{path}: the detector keeps no checkpoint of its own; load a forecast checkpoint with "
                      "seqgen.load and pass it to seqgen.detect(..., forecaster=...)")
