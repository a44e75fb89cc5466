"""Scoring remaining-life estimates at each test unit's last step: RMSE and the PHM08 score, for the ensemble and
for baselines fitted in the same call on the training units (their mean; a linear and, with scikit-learn, a
gradient-boosted model on features of the last window), with the published figures on C-MAPSS FD001."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from seqgen.plots import pyplot, save_figure
from seqgen.tasks.remaining_life.data import Logs, remaining, scaled, windows
from seqgen.tasks.remaining_life.estimate import band, estimates

# Published test figures on C-MAPSS FD001 (RMSE, PHM08 score), shown beside a test file of that subset.
REFERENCES = {"LSTM (Zheng et al. 2017)": (16.14, 338.0), "deep CNN (Li, Ding & Sun 2018)": (12.61, 274.0)}
MODEL = "lstm ensemble"


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate - truth) ** 2)))


def phm08_score(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Σ exp(−d/13) − 1 for early estimates (d < 0), exp(d/10) − 1 for late ones, d = estimate − truth: a late
    estimate, which lets a machine run past its failure, costs more."""
    d = np.asarray(estimate, dtype=np.float64) - truth
    return float(np.sum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))


def window_features(window_values: np.ndarray) -> np.ndarray:
    """What the baselines see of each window (N, W, F): every column's last value, mean and least-squares slope,
    (N, 3F)."""
    t = np.arange(window_values.shape[1]) - (window_values.shape[1] - 1) / 2
    slope = np.einsum("nwf,w->nf", window_values, t) / np.sum(t ** 2)
    return np.concatenate([window_values[:, -1], window_values.mean(1), slope], axis=1)


def baselines(train_units: list, test_units: list, scaling: dict, window: int, cap: int,
              seed: int = 0) -> dict:
    """The baselines' estimates at the last step of each test unit, fitted on every window of the training units
    with the capped targets the networks learn: the training mean, least squares on the window features, and
    (with scikit-learn installed) gradient-boosted trees on them."""
    inputs = np.concatenate([windows(scaled(u, scaling), window) for u in train_units])
    targets = np.concatenate([remaining(len(u), cap)[window - 1:] for u in train_units])
    features = window_features(inputs.astype(np.float64))
    last = window_features(np.concatenate([windows(scaled(u, scaling), window, last_only=True)
                                           for u in test_units]).astype(np.float64))
    out = {"training mean": np.full(len(test_units), targets.mean())}
    design = np.c_[features, np.ones(len(features))]
    coefficients, *_ = np.linalg.lstsq(design, targets, rcond=None)
    out["linear (last window)"] = np.clip(np.c_[last, np.ones(len(last))] @ coefficients, 0.0, None)
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
    except ImportError:
        return out
    boosted = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=seed)
    out["gradient boosting (last window)"] = np.clip(boosted.fit(features, targets).predict(last), 0.0, None)
    return out


def test_report(networks: list, train_units: list, test_logs: Logs, truth: np.ndarray, features: list, scaling: dict,
                config, device="cpu", targets: Optional[str] = None) -> dict:
    """RMSE and PHM08 score of the ensemble and the baselines at each test unit's last step; `train_units` are the
    training units' measurements of `features` (a list of (T, F) arrays)."""
    test_units = test_logs.select(features)
    per_network = estimates(networks, test_units, scaling, config.window, config.cap, device)
    center = band(per_network, 0.0, 0.9)[0]
    methods = {MODEL: center, **baselines(train_units, test_units, scaling, config.window, config.cap, config.seed)}
    references = {name: {"rmse": r, "score": s} for name, (r, s) in REFERENCES.items()} \
        if "fd001" in Path(test_logs.path).name.lower() else {}
    return {"source": test_logs.path, "targets": targets or config.test_targets, "units": len(truth),
            "scores": {name: {"rmse": rmse(e, truth), "score": phm08_score(e, truth)} for name, e in methods.items()},
            "references": references, "unit_ids": list(test_logs.units), "truth": [float(x) for x in truth],
            "estimates": {name: [float(x) for x in e] for name, e in methods.items()}}


def format_report(report: dict) -> str:
    """The scores as a table: the ensemble, the baselines of the same run, then the published figures."""
    rows = [(name, s["rmse"], s["score"]) for name, s in report["scores"].items()]
    rows += [(f"{name} [published]", s["rmse"], s["score"]) for name, s in report["references"].items()]
    width = max(16, *(len(name) + 2 for name, _, _ in rows))
    lines = [f"{report['units']} test units, at each one's last step:", f"{'method':<{width}}{'RMSE':>9}{'score':>12}"]
    lines += [f"{name:<{width}}{r:>9.2f}{s:>12,.0f}" for name, r, s in rows]
    return "\n".join(lines)


def plot_test(report: dict, path, title: str) -> Path:
    """The true remaining steps of each test unit (sorted) and the ensemble's estimates."""
    plt = pyplot()

    truth = np.asarray(report["truth"])
    order = np.argsort(truth, kind="stable")
    estimate = np.asarray(report["estimates"][MODEL])[order]
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    ax.plot(truth[order], color="black", lw=1.4, label="true remaining steps")
    ax.scatter(np.arange(len(order)), estimate, s=12, color="tab:orange", label="estimate (ensemble mean)")
    ax.set_xlabel("test unit, by true remaining steps")
    ax.set_ylabel("remaining steps")
    scores = report["scores"][MODEL]
    ax.set_title(f"{title}: RMSE {scores['rmse']:.2f}, PHM08 score {scores['score']:,.0f}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, Path(path))
