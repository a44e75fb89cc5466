"""Classifying whole sequences: an ensemble of LSTM-plus-convolution networks, each trained with class
weights and stopped early on its own validation fold; class probabilities, the test report and the
confusion plot."""

from seqgen.tasks import lazy_parts
from seqgen.tasks.classify.config import ClassifyConfig, EvaluateConfig  # noqa: F401  (part of the API)

NAME = "classify"
SUMMARY = "an ensemble of sequence classifiers"
CONFIGS = (ClassifyConfig,)  # the options of `seqgen train --task classify`, in this order under --help

# The rest imports torch, so it loads on first use: the command line lists options without it.
__getattr__, load = lazy_parts(__name__, {
    "Classifier": "seqgen.tasks.classify.classify",
    "ClassifyResult": "seqgen.tasks.classify.train",
}, "Classifier")
