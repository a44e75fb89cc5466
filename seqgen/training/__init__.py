"""Training shared by the tasks: `common` (optimizer groups, schedule, random states, signals, progress
bar, resume checks), `steps` (`fit`, the loop of the tasks that train by optimizer steps) and `ensemble`
(`train_members`, the loop of the tasks that train small networks one after another)."""

from seqgen.training.common import (
    NO_DECAY_MODULES,
    StopRequest,
    TrainingDiverged,
    arm,
    check_finite,
    learning_rate,
    load_finished,
    load_to_use,
    make_optimizer,
    open_run_folder,
    parameter_groups,
    progress_bar,
    refuse_finished,
    report_progress,
    resume_point,
    rng_state,
    set_rng_state,
    small_network_precision,
    stop_on_signals,
)
from seqgen.training.steps import FitResult, StepTask, TrainState, fit, fit_run

__all__ = [
    "NO_DECAY_MODULES", "FitResult", "StepTask", "StopRequest", "TrainState", "TrainingDiverged", "arm",
    "check_finite", "fit", "fit_run", "learning_rate", "load_finished", "load_to_use", "make_optimizer", "open_run_folder", "parameter_groups",
    "progress_bar", "refuse_finished", "report_progress", "resume_point", "rng_state", "set_rng_state", "small_network_precision",
    "stop_on_signals",
]
