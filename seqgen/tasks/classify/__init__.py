"""Classifying whole sequences: an ensemble of LSTM-plus-convolution networks, each trained with class
weights and stopped early on its own validation fold; class probabilities, the test report and the
confusion plot."""

from seqgen.tasks.classify.config import ClassifyConfig

NAME = "classify"
SUMMARY = "an ensemble of sequence classifiers"
CONFIGS = (ClassifyConfig,)  # the options of `seqgen train --task classify`, in this order under --help

# The rest imports torch, so it loads on first use: the command line lists options without it.
_LAZY = {
    "Classifier": "seqgen.tasks.classify.classify",
    "ClassifyResult": "seqgen.tasks.classify.train",
}


def __getattr__(attribute: str):
    if attribute in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[attribute]), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")



def load(path, device: str = "auto"):
    """This task's model object, from a checkpoint alone."""
    from seqgen.tasks.classify.classify import Classifier

    return Classifier.load(path, device)
