"""What the command line shows of forecasting: after training, in `seqgen evaluate` and `seqgen inspect`, and
the command it adds (`seqgen forecast`)."""

from __future__ import annotations

import click

from seqgen.options import member_option
from seqgen.tasks.forecast.commands import COMMANDS  # noqa: F401  (seqgen forecast)

TASK_HELP = "forecast (a series)"  # in --task's help
EVALUATE_HELP = "Forecast: RMSE, MAE, MAPE, MASE beside baselines."
INSPECT_READS = "a forecast model reads its own series"
INSPECT_TEXT = None  # reads no --text
INSPECT_INPUT_OPTIONS: list = []
INSPECT_MODEL_OPTIONS = [member_option()]


def inspect_input(model, text, options: dict, save_path):
    """The inspection of the series by one network of the ensemble (--member); nothing written yet."""
    return model.inspect(member=options["member"]), None


def report_training(result) -> None:
    if result.stop_reason == "interrupted":
        from seqgen.training.ensemble import interrupted_line

        click.echo(interrupted_line(result), err=True)
        return
    click.echo(f"Trained on {result.train_points} points; final training loss {result.train_loss:.4f}.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  (forecast: seqgen forecast {result.best_path} --plot forecast.png)",
               err=True)


def print_evaluation(result: dict) -> None:
    from seqgen.tasks.forecast.evaluate import format_table

    where = ", ".join(result["first_forecast"])
    how = "retrained on the points before each origin" if result["retrained"] else "the checkpoint's own networks"
    click.echo(f"{result['series']}: {result['holdout']} held-out points forecast in one go from {result['origins']} "
               f"origin(s) (first forecast step {where}); LSTM: {how}")
    click.echo(format_table(result))


# seqgen serve: the options its train form shows first, and what its page offers for a loaded model
STUDIO_TRAIN = ("corpus", "column", "season", "horizon", "window", "holdout", "ensemble", "epochs", "hidden_size")


def studio_form(model) -> dict:
    """A forecast of the series, drawn with its band."""
    from seqgen.options import form_fields
    from seqgen.tasks.forecast.config import PredictConfig

    return {"view": "band", "title": "Forecast", "fields": form_fields(PredictConfig, ("horizon", "from_end"))}


def studio_try(model, values: dict, folder) -> dict:
    """The series it forecasts from, the forecast (each step's label, value and 90 % band) and the points that
    followed."""
    rows = model.forecast(values.get("horizon"), values.get("from_end", True))
    values_, dates = model.values, model.dates
    n = len(values_) if values.get("from_end", True) else model.train_points
    labels = dates or [str(i + 1) for i in range(len(values_))]
    return {"history": [[labels[i], float(values_[i])] for i in range(n)], "band": "90 % band",
            "rows": [{"step": r["step"], "label": r["date"], "value": r["forecast"], "lower": r["lower"],
                      "upper": r["upper"]} for r in rows],
            "actual": [float(v) for v in values_[n:n + len(rows)]]}
