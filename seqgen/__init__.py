"""seqgen: train LSTM networks on sequences and generate from them.

    import seqgen
    run = seqgen.train("language-model", corpus="lady-susan", max_steps=500)
    model = seqgen.load(run.best_path)
    print(model.generate(prime="LADY SUSAN", length=200, temperature=0.8, seed=1))
"""

from seqgen.version import __version__


def train(task: str | None = None, **options):
    """Train a model (a language model unless `task` says otherwise, or the task of the run `resume` names);
    see seqgen.api.train."""
    from seqgen.api import train as train_

    return train_(task, **options)


def load(path, device: str = "auto", threads=None):
    """Load any task's checkpoint as its model object; see seqgen.api.load."""
    from seqgen.api import load as load_

    return load_(path, device, threads)


def detect(series, forecaster=None, **options):
    """Score every record of a series (a CSV file or values) for anomalies in time order, with an LSTM learning
    as it reads or a loaded forecast checkpoint; see seqgen.tasks.detect.detect."""
    from seqgen.tasks.detect.detect import detect as detect_

    return detect_(series, forecaster, **options)


__all__ = ["__version__", "detect", "load", "train"]
