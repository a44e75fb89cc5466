"""Classifying whole sequences: an ensemble of LSTM-plus-convolution networks, each trained with class
weights and stopped early on its own validation fold; class probabilities, the test report and the
confusion plot."""

from seqgen.tasks.classify.classify import Classifier
from seqgen.tasks.classify.config import ClassifyConfig
from seqgen.tasks.classify.train import ClassifyResult, train

NAME = "classify"
SUMMARY = "an ensemble of sequence classifiers"
CONFIGS = (ClassifyConfig,)  # the options of `seqgen train --task classify`
load = Classifier.load

__all__ = ["CONFIGS", "NAME", "SUMMARY", "ClassifyConfig", "ClassifyResult", "Classifier", "load", "train"]
