"""What the command line shows of anomaly detection: the command it adds (`seqgen detect`), and the words it
puts in the shared commands' help. It keeps no checkpoint, so training, evaluating and inspecting say so."""

from __future__ import annotations

from seqgen.tasks.detect.commands import COMMANDS  # noqa: F401  (seqgen detect)

TASK_HELP = "detect (nothing to train: seqgen detect learns as it reads)"  # in --task's help
EVALUATE_HELP = "Detect keeps no checkpoint: give seqgen detect a series, or a forecast checkpoint and a series."
INSPECT_READS = "the detector keeps no checkpoint (inspect the forecaster it reads)"
INSPECT_TEXT = None
INSPECT_INPUT_OPTIONS: list = []
INSPECT_MODEL_OPTIONS: list = []


def inspect_input(model, text, options: dict, save_path):  # never reached: no checkpoint loads as a detector
    raise NotImplementedError


def report_training(result) -> None:  # never reached: train refuses
    raise NotImplementedError


def print_evaluation(result: dict) -> None:  # never reached: no checkpoint loads as a detector
    raise NotImplementedError
