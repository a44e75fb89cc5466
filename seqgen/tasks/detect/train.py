"""The detector is not trained apart from the series it watches: it learns the series as it reads it, or
reads a forecaster trained on normal history (`seqgen train --task forecast`). `train` says so in one line."""

from __future__ import annotations

from seqgen.errors import SeqgenError

NAME = "detect"


def train(*configs, resume=None, overrides=None, should_stop=None, progress=True):
    raise SeqgenError("the detector learns as it reads (seqgen detect SERIES.csv); to detect with a model of "
                      "normal history, train one with --task forecast --corpus normal.csv and run seqgen detect "
                      "CHECKPOINT SERIES.csv")
