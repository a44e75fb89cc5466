"""Streaming anomaly detection: every record of a series gets a score in [0, 1] and a flag, computed from the
records before it and itself only. The one-step forecasts come from an LSTM learning as it reads
(seqgen.tasks.detect.online) or from a trained forecaster's `one_step`; their errors become scores through
seqgen.tasks.detect.likelihood."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from seqgen.errors import SeqgenError
from seqgen.options import check_plot_path
from seqgen.tasks.detect.config import ONLINE_OPTIONS, DetectConfig
from seqgen.tasks.detect.data import read_stream
from seqgen.tasks.detect.likelihood import ErrorLikelihood
from seqgen.tasks.detect.online import CLIP, OnlineForecaster, probation_scale
from seqgen.threads import ThreadPolicy


@dataclass
class Detection:
    """What `detect` returns: per record its score in [0, 1] and flag (score ≥ threshold), beside the series."""

    timestamps: Optional[list]
    values: np.ndarray  # (N,)
    scores: np.ndarray  # (N,) in [0, 1]; 0 in the probation prefix
    anomaly: np.ndarray  # (N,) bool
    threshold: float
    probation: int
    forecasts: np.ndarray  # (N,) the one-step forecast of each record (NaN where none was made)
    errors: np.ndarray  # (N,) its absolute error in probation deviations, the input of the score

    def plot(self, path, title: str = "anomaly detection", windows: Optional[list] = None) -> Path:
        """Draw it into a PNG, SVG or PDF (see plot_detection); `windows`: labelled (first, last) record indices."""
        return plot_detection(self, path, title, windows)

    def rows(self) -> list[str]:
        """The CSV lines `timestamp,value,anomaly_score,anomaly`, header first."""
        stamps = self.timestamps or [str(i + 1) for i in range(len(self.values))]
        return ["timestamp,value,anomaly_score,anomaly"] + [
            f"{t},{v:.10g},{s:.6f},{int(a)}" for t, v, s, a in zip(stamps, self.values, self.scores, self.anomaly)]


def online_errors(values: np.ndarray, config: DetectConfig) -> tuple[np.ndarray, np.ndarray]:
    """(errors, forecasts) of a stream with the forecaster learning online after the probation prefix; errors
    in probation deviations (inside the probation, the step from the record before: the forecaster is fitted on
    those very records, so its own errors there would not be honest)."""
    values = np.asarray(values, dtype=np.float64)
    probation = config.probation
    centre, scale = probation_scale(values[:probation])
    z = np.clip((values - centre) / scale, -CLIP, CLIP)
    forecaster = OnlineForecaster(config.window, config.hidden_size, config.lr, config.seed)
    forecaster.fit_probation(z[:probation])
    errors, forecasts = np.zeros(len(values)), np.full(len(values), np.nan)
    errors[1:probation] = np.abs(np.diff(z[:probation]))
    for t in range(probation, len(values)):
        forecast = forecaster.forecast(z, t)
        errors[t] = abs(z[t] - forecast)
        forecasts[t] = forecast * scale + centre
        forecaster.learn(z, t + 1)
    return errors, forecasts


def forecaster_errors(values: np.ndarray, forecaster, config: DetectConfig) -> tuple[np.ndarray, np.ndarray]:
    """(errors, forecasts) from a trained forecaster's one-step forecasts (it does not learn further); errors
    in probation deviations, 0 before its first full window."""
    values = np.asarray(values, dtype=np.float64)
    forecasts = np.asarray(forecaster.one_step(values), dtype=np.float64)  # (N,), NaN before its first window
    _, scale = probation_scale(values[:config.probation])
    errors = np.where(np.isfinite(forecasts), np.abs(values - np.nan_to_num(forecasts)) / scale, 0.0)
    return errors, forecasts


def anomaly_scores(errors: np.ndarray, values: np.ndarray, probation: int) -> np.ndarray:
    """Each record's score from its error and value and those before it (seqgen.tasks.detect.likelihood); 0
    inside the probation."""
    likelihood = ErrorLikelihood()
    return np.array([likelihood.observe(float(e), float(v), scored=t >= probation)
                     for t, (e, v) in enumerate(zip(errors, values))])


def detect(series, forecaster=None, timestamps: Optional[list] = None, threads: Optional[int] = 1,
           config: Optional[DetectConfig] = None, **options) -> Detection:
    """Score every record of `series` in time order (see the module's docstring): a CSV file (read like
    `seqgen detect` reads it) or the values themselves, with `timestamps` beside them if any. `forecaster` (a
    forecast checkpoint from seqgen.load) replaces the online LSTM. `options` are those of `seqgen detect`
    (probation, threshold, ...), or give them as a DetectConfig. One thread by default: the networks are tiny
    and a record's step costs less than waking a second thread."""
    if config is None:
        config = DetectConfig(**options)
    elif options:
        raise SeqgenError("give the options as keywords or as config, not both")
    if forecaster is not None:
        changed = [f"--{name.replace('_', '-')}" for name in ONLINE_OPTIONS
                   if getattr(config, name) != getattr(DetectConfig, name)]
        if changed:
            raise SeqgenError(f"{', '.join(changed)} {'does' if len(changed) == 1 else 'do'} not apply with a "
                              "forecaster: they shape the LSTM that learns as it reads")
        if not callable(getattr(forecaster, "one_step", None)):
            raise SeqgenError(f"forecaster must be a loaded forecast checkpoint (seqgen.load), not a "
                              f"{type(forecaster).__name__}")
    if isinstance(series, (str, os.PathLike)):
        if timestamps is not None:
            raise SeqgenError("timestamps come from the file; give them only beside values")
        timestamps, series = read_stream(series, config.column, config.allow_gaps)
    values = np.asarray(series, dtype=np.float64) if _numeric(series) else None
    if values is None or values.ndim != 1 or not np.all(np.isfinite(values)):
        raise SeqgenError("the series must be a CSV file or one sequence of finite numbers")
    if timestamps is not None and len(timestamps) != len(values):
        raise SeqgenError(f"{len(timestamps)} timestamps for {len(values)} values; give one per value")
    needed = max(config.probation, config.window + 2)
    if len(values) < needed:
        raise SeqgenError(f"the series has {len(values)} records, fewer than the probation prefix of {needed} the "
                          "detector learns the normal behaviour from; lower --probation or give a longer series")
    if forecaster is not None and forecaster.window >= config.probation:
        raise SeqgenError(f"--probation {config.probation} is not longer than the forecaster's window of "
                          f"{forecaster.window} records; raise --probation")
    with ThreadPolicy(threads, device=torch.device("cpu")):
        if forecaster is None:
            errors, forecasts = online_errors(values, config)
        else:
            errors, forecasts = forecaster_errors(values, forecaster, config)
    scores = anomaly_scores(errors, values, config.probation)
    stamps = list(timestamps) if timestamps is not None else None
    return Detection(stamps, values, scores, scores >= config.threshold, config.threshold, config.probation, forecasts,
                     errors)


def _numeric(series) -> bool:
    try:
        return np.asarray(series).dtype.kind in "iuf" and not isinstance(series, (str, bytes))
    except (TypeError, ValueError):
        return False


def plot_detection(detection: Detection, path, title: str, windows: Optional[list] = None) -> Path:
    """The series with flagged records in red and labelled windows shaded, and the score beneath with the
    threshold: one glance says where and how sure."""
    from seqgen.plots import pyplot, save_figure

    plt = pyplot()
    x = np.arange(len(detection.values))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), dpi=100, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.4]})
    for first, last in windows or []:
        for ax in (top, bottom):
            ax.axvspan(first, last, color="tab:green", alpha=0.15, lw=0)
    top.axvspan(0, detection.probation - 1, color="grey", alpha=0.12, lw=0)
    top.plot(x, detection.values, color="tab:blue", lw=0.8, label="series")
    flagged = np.flatnonzero(detection.anomaly)
    top.scatter(flagged, detection.values[flagged], color="tab:red", s=18, zorder=3,
                label=f"flagged ({len(flagged)})")
    bottom.plot(x, detection.scores, color="tab:purple", lw=0.8, label="anomaly score")
    bottom.axhline(detection.threshold, color="tab:red", ls="--", lw=0.9, label=f"threshold {detection.threshold:g}")
    bottom.set_ylim(-0.02, 1.02)
    if detection.timestamps:
        ticks = np.unique(np.linspace(0, len(x) - 1, 7).astype(int))
        bottom.set_xticks(ticks, [str(detection.timestamps[t])[:16] for t in ticks], fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.3)]
    labels = ["probation (learning)"]
    if windows:
        handles.append(plt.Rectangle((0, 0), 1, 1, color="tab:green", alpha=0.3))
        labels.append("labelled anomaly windows")
    lines, names = top.get_legend_handles_labels()
    top.legend(lines + handles, names + labels, loc="upper left", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)
    top.set_title(title)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, Path(check_plot_path(path)))
