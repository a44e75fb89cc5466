"""The `seqgen` command line: each command builds a config, calls one library function, reports."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import typing

import click

from seqgen import __version__
from seqgen.config import ModelConfig, SampleConfig, TrainConfig, TranslateConfig
from seqgen.config import ClassifyConfig, ForecastConfig
from seqgen.errors import SeqgenError

# Each task's training and evaluation is dispatched on this name; checkpoints record it as "task".
TASKS = ("language-model", "translate", "forecast", "classify")


class SeqgenGroup(click.Group):
    """Every error is one line on stderr and a non-zero exit; never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            hint = f" (see: {error.ctx.command_path} --help)" if error.ctx is not None else ""
            click.echo(f"Error: {error.format_message()}{hint}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except SeqgenError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except (click.Abort, KeyboardInterrupt):
            click.echo("Aborted.", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def _click_type(field: dataclasses.Field):
    meta = field.metadata
    base = typing.get_type_hints(_owner[field.name])[field.name]
    base = next((a for a in typing.get_args(base) if a is not type(None)), base)
    if "choices" in meta:
        return click.Choice(meta["choices"])
    if base is int and ("min" in meta or "max" in meta):
        return click.IntRange(min=meta.get("min"), max=meta.get("max"))
    if base is float and ("min" in meta or "max" in meta):
        return click.FloatRange(min=meta.get("min"), max=meta.get("max"), min_open=meta.get("min_open", False))
    return base


_owner: dict[str, type] = {}


def config_options(cls):
    """Click options for every field of a config dataclass: flag, type, range, default and help in one place."""

    def decorate(function):
        # A field whose flag another config already declared shares that flag (e.g. --hidden-size,
        # --lr, --corpus); put task configs above the language-model ones so theirs come second.
        existing = {param.name for param in getattr(function, "__click_params__", [])}
        for field in reversed(dataclasses.fields(cls)):
            if not field.metadata.get("cli", True) or field.name in existing:
                continue
            _owner.setdefault(field.name, cls)
            flag = "--" + field.name.replace("_", "-")
            if field.type in ("bool", bool):
                flag = f"{flag}/--no-{flag[2:]}"
            function = click.option(
                flag, field.name, type=None if field.type in ("bool", bool) else _click_type(field),
                default=field.default, show_default=field.default is not None and field.default != "",
                help=field.metadata["help"],
            )(function)
        return function

    return decorate


def explicit_options(ctx: click.Context, options: dict) -> dict:
    """The options the user set, on the command line or in --config, as opposed to defaults.

    Tasks other than the language model have defaults of their own for shared flags such as
    --hidden-size or --corpus: they take only what the user set and fill the rest themselves.
    """
    sources = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.DEFAULT_MAP)
    return {name: value for name, value in options.items() if ctx.get_parameter_source(name) in sources}


def _fields(cls, values: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _load_config_file(ctx: click.Context, param, path):
    """--config run.toml: its keys become the defaults, so flags typed on the command line win."""
    if path is None:
        return
    import tomllib

    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise click.BadParameter(f"cannot read {path}: {error}", ctx=ctx, param=param)
    flat = {}
    for key, value in values.items():
        # Sections such as [model] and [train] are only for the reader's eyes.
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, item in items:
            flat[name.replace("-", "_")] = item
    known = {p.name for p in ctx.command.params}
    unknown = sorted(set(flat) - known)
    if unknown:
        raise click.BadParameter(f"{path} sets unknown option(s): {', '.join(unknown)}", ctx=ctx, param=param)
    ctx.default_map = {**(ctx.default_map or {}), **flat}


@click.group(cls=SeqgenGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seqgen")
def cli():
    """Train LSTM networks on sequences and generate from them."""


@cli.command("train")
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=_load_config_file, help="TOML file that sets any option below; flags override it.")
@click.option("--task", type=click.Choice(TASKS), default="language-model", show_default=True,
              help="What to learn: a language model (text or music), translate (pairs), forecast (a series) or classify (sequences).")
@click.option("--resume", type=click.Path(), default=None, help="Continue the run saved in this latest.pt exactly.")
@config_options(TranslateConfig)
@config_options(ClassifyConfig)
@config_options(ForecastConfig)
@config_options(ModelConfig)
@config_options(TrainConfig)
@click.option("--sample-length", type=click.IntRange(min=0), default=300, show_default=True,
              help="Characters or tokens sampled from the best model at the end (0: none).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train_command(ctx: click.Context, task, resume, sample_length, quiet, **options):
    """Train an LSTM on a corpus: a language model by default, or the model of another --task."""
    if task in ("forecast", "classify"):
        return _train_series_task(ctx, task, resume, quiet, options)
    if task == "translate":
        return _train_translation(ctx, resume, sample_length, quiet, options)
    foreign = sorted(set(explicit_options(ctx, options)) - {f.name for f in dataclasses.fields(ModelConfig)}
                     - {f.name for f in dataclasses.fields(TrainConfig)})
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        raise click.UsageError(f"{flags} belong(s) to another task (--task translate, forecast or classify), "
                               "not to the language model")
    from seqgen.train import RESUMABLE_OVERRIDES, train

    overrides = None
    if resume is not None:
        given = list(explicit_options(ctx, options))
        fixed = [name for name in given if name not in RESUMABLE_OVERRIDES]
        if fixed:
            flags = ", ".join("--" + name.replace("_", "-") for name in fixed)
            raise click.UsageError(f"{flags} cannot change when resuming; only "
                                   + ", ".join("--" + n.replace("_", "-") for n in RESUMABLE_OVERRIDES) + " can")
        overrides = {name: options[name] for name in given}
    model_config = ModelConfig(**_fields(ModelConfig, options))
    train_config = TrainConfig(**_fields(TrainConfig, options))

    stop = {"requested": False}

    def request_stop(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        click.echo("\nStopping after this step and saving latest.pt (press Ctrl-C again to abort at once).", err=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = train(model_config, train_config, resume=resume, overrides=overrides,
                       should_stop=lambda: stop["requested"], progress=not quiet)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

    if math.isfinite(result.best_val_loss):
        click.echo(f"Best validation loss {result.best_val_loss:.4f} nats/token "
                   f"({result.best_val_loss / math.log(2):.3f} bits) after {result.step} steps.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)
    if result.stop_reason == "interrupted":
        click.echo(f"Interrupted; continue with: seqgen train --resume {result.latest_path}", err=True)
        ctx.exit(130)
    if result.stop_reason == "patience":
        click.echo("Stopped early: the validation loss stopped improving (--patience).", err=True)
    if sample_length:
        click.echo(f"Sample (temperature 0.8), from: seqgen sample {result.best_path}", err=True)
        # A music model writes its sample beside the checkpoints instead of printing it.
        _print_samples(str(result.best_path), SampleConfig(length=sample_length, seed=0, device="cpu"),
                       music_output=str(result.run_dir / "sample.mid"))


def _train_translation(ctx: click.Context, resume, sample_length, quiet, options) -> None:
    """--task translate: an encoder-decoder on pairs; shared flags take TranslateConfig's defaults unless typed."""
    from seqgen.translate import load_translator, train_translation

    if resume is not None:
        raise click.UsageError("--resume is not supported for --task translate yet; start a new run")
    given = explicit_options(ctx, options)
    unused = sorted(set(given) - {f.name for f in dataclasses.fields(TranslateConfig)})
    if unused:
        flags = ", ".join("--" + n.replace("_", "-") for n in unused)
        raise click.UsageError(f"{flags} {'does' if len(unused) == 1 else 'do'} not apply to --task translate")
    config = TranslateConfig(**given)
    stop = {"requested": False}

    def request_stop(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        click.echo("\nStopping after this step and saving latest.pt (press Ctrl-C again to abort at once).", err=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = train_translation(config, should_stop=lambda: stop["requested"], progress=not quiet,
                                   log=lambda line: click.echo(line, err=True))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    last = next(h for h in reversed(result.history) if "val_loss" in h)
    click.echo(f"Best validation loss {result.best_val_loss:.4f} nats/token after {result.step} steps; "
               f"validation exact match (greedy) {100 * last['val_exact_match']:.2f}% at the end.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)
    if result.stop_reason == "interrupted":
        ctx.exit(130)
    if result.stop_reason == "patience":
        click.echo("Stopped early: the validation loss stopped improving (--patience).", err=True)
    if sample_length:
        from seqgen.translate import checkpoint_splits

        translator, payload = load_translator(result.best_path, "cpu")
        examples = checkpoint_splits(payload)["test"][:5]
        if not examples:
            return
        click.echo(f"Test examples (greedy), from: seqgen translate {result.best_path} TEXT", err=True)
        for (source, target), output in zip(examples, translator.translate([s for s, _ in examples])):
            click.echo(f"{source}\t{output}" + ("" if output == target else f"\t(expected {target})"))


@cli.command("translate")
@click.argument("checkpoint", type=click.Path())
@click.argument("texts", nargs=-1, required=True)
@click.option("--beam-size", type=click.IntRange(min=1), default=5, show_default=True, help="Hypotheses kept per step (1: greedy).")
@click.option("--length-penalty", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
              help="Rank hypotheses by log-probability / length^this (0 favours short outputs).")
@click.option("--max-len", type=click.IntRange(min=1), default=None, help="Most tokens per translation [default: 2 × source + 10].")
@click.option("--plot-attention", type=click.Path(dir_okay=False), default=None, help="Draw the attention of the translation into this PNG.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
def translate_command(checkpoint, texts, beam_size, length_penalty, max_len, plot_attention, device):
    """Translate TEXTS with a translate checkpoint, one line out per text; `-` reads stdin line by line."""
    from seqgen.translate import load_translator

    if plot_attention is not None and (len(texts) != 1 or texts == ("-",)):
        raise click.UsageError("--plot-attention draws one translation: give exactly one text")
    if plot_attention is not None and not plot_attention.lower().endswith((".png", ".svg", ".pdf")):
        raise click.UsageError("--plot-attention needs a file name ending in .png, .svg or .pdf")
    translator, _ = load_translator(checkpoint, device)

    def run(batch):
        unknown = translator.source_vocab.unknown(batch[0])
        if unknown:
            click.echo(f"note: the model never saw {', '.join(map(repr, unknown))}; read as unknown", err=True)
        return translator.translate(batch, beam_size, max_len, length_penalty)

    translation = None
    for text in texts:
        if text != "-":
            translation = run([text])[0]
            click.echo(translation)
            continue
        for line in sys.stdin:
            line = line.rstrip("\r\n")
            click.echo(run([line])[0] if line.strip() else "")
            sys.stdout.flush()
    if plot_attention is not None:
        from seqgen.evaluate_translation import plot_attention as draw

        path = draw(*translator.attention(texts[0], translation), plot_attention)
        click.echo(f"Attention plot: {path}", err=True)


def _train_series_task(ctx: click.Context, task: str, resume, quiet, options) -> None:
    """--task forecast / classify: shared flags take the task's own defaults unless typed."""
    cls = ForecastConfig if task == "forecast" else ClassifyConfig
    if resume is not None:
        raise click.UsageError(f"--resume does not apply to --task {task}: its runs take seconds, start a new one")
    given = explicit_options(ctx, options)
    unused = sorted(set(given) - {f.name for f in dataclasses.fields(cls)})
    if unused:
        raise click.UsageError(", ".join("--" + n.replace("_", "-") for n in unused) + f" do(es) not apply to --task {task}")
    config = cls(**given)
    if task == "forecast":
        from seqgen.forecast import train_forecaster

        run = train_forecaster(config, progress=not quiet)
        click.echo(f"Trained on {run.train_points} points; final training loss {run.train_loss:.4f}.", err=True)
        click.echo(f"Checkpoints: {run.best_path}  (forecast: seqgen forecast {run.best_path} --plot forecast.png)", err=True)
        return
    from seqgen.classify import format_report, train_classifier

    run = train_classifier(config, progress=not quiet)
    how = "stopped early (--patience)" if run.stopped_early else "all epochs"
    val = f"; best validation loss {run.best_val_loss:.4f}" if run.best_val_loss is not None else ""
    click.echo(f"Trained {run.epochs} epochs, {how}{val}.", err=True)
    click.echo(f"Checkpoints: {run.best_path}", err=True)
    if run.report is not None:
        click.echo(f"Test set {config.test}:", err=True)
        click.echo(format_report(run.report))
        click.echo(f"Confusion plot: {run.run_dir / 'confusion.png'}", err=True)


@cli.command("forecast")
@click.argument("checkpoint", type=click.Path())
@click.option("--horizon", type=click.IntRange(min=1), default=None, help="Steps to forecast [default: the model's horizon].")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw history, forecast, band and a zoom into this PNG.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the forecast to this CSV file.")
@click.option("--from-end/--from-training-end", default=True, show_default=True,
              help="Forecast after the whole series, or after the points the model was trained on (to compare with --holdout).")
def forecast_command(checkpoint, horizon, plot, csv_path, from_end):
    """Forecast the series a forecast checkpoint was trained on, with a 90 % band; a table on stdout."""
    import numpy as np

    from seqgen.evaluate_forecast import plot_forecast
    from seqgen.forecast import future_dates, load_forecaster, predict

    if plot is not None and not plot.lower().endswith((".png", ".svg", ".pdf")):
        raise click.UsageError("--plot needs a file name ending in .png, .svg or .pdf")
    payload = load_forecaster(checkpoint)
    values = np.asarray(payload["series"]["values"], dtype=np.float64)
    n = len(values) if from_end else payload["train_points"]
    steps = horizon or payload["preprocessing"]["horizon"]
    result = predict(payload, values[:n], steps)
    dates = payload["series"]["dates"]
    labels = future_dates(dates[:n] if dates else None, steps)
    rows = ["step,date,forecast,lower,upper"] + [
        f"{k + 1},{labels[k]},{result['forecast'][k]:.4f},{result['lower'][k]:.4f},{result['upper'][k]:.4f}" for k in range(steps)]
    if csv_path is not None:
        _write_rows(csv_path, rows)
        click.echo(f"Forecast CSV: {csv_path}", err=True)
    if plot is not None:
        actual = values[n:n + steps] if n < len(values) else None
        click.echo(f"Forecast plot: {plot_forecast(payload, values[:n], result, plot, actual)}", err=True)
    click.echo("\n".join(rows))


@cli.command("classify")
@click.argument("checkpoint", type=click.Path())
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the predictions CSV here instead of stdout.")
@click.option("--no-labels", is_flag=True, help="DATA has no label column: every value on a line belongs to the sequence.")
def classify_command(checkpoint, data, output, no_labels):
    """Predict the class of every sequence in DATA, laid out as the training file (a label, if any, is
    copied to the output): a CSV of row, label, predicted class and one probability per class."""
    from seqgen.classify import load_classifier, predict_proba
    from seqgen.data.series import read_labeled_sequences

    model, payload = load_classifier(checkpoint)
    labels, sequences = read_labeled_sequences(data, payload["train_config"].get("label_column"), labeled=not no_labels)
    probabilities = predict_proba(model, payload["scaling"], sequences)
    classes = payload["classes"]
    rows = ["row,label,predicted," + ",".join(f"p_{c}" for c in classes)]
    for index, (label, p) in enumerate(zip(labels, probabilities), start=1):
        rows.append(f"{index},{label},{classes[int(p.argmax())]}," + ",".join(f"{x:.4f}" for x in p))
    if output is None:
        click.echo("\n".join(rows))
        return
    _write_rows(output, rows)
    click.echo(f"{len(sequences)} predictions: {output}", err=True)


def _write_rows(path: str, rows: list) -> None:
    from pathlib import Path

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("\n".join(rows) + "\n")
    except OSError as error:
        raise SeqgenError(f"cannot write {path}: {error.strerror or error}") from None


def _evaluate_series_task(checkpoint, task, holdout, backtest, origins, test_file, device, as_json) -> None:
    if task == "forecast":
        from seqgen.evaluate_forecast import evaluate_forecaster, format_table
        from seqgen.forecast import load_forecaster

        result = evaluate_forecaster(load_forecaster(checkpoint), holdout, backtest, origins,
                                     "cpu" if device == "auto" else device)
        if as_json:
            click.echo(json.dumps(result, indent=2))
            return
        where = ", ".join(result["first_forecast"])
        how = "retrained on the points before each origin" if result["retrained"] else "the checkpoint's own networks"
        click.echo(f"{result['series']}: {result['holdout']} held-out points forecast in one go from {result['origins']} "
                   f"origin(s) (first forecast step {where}); LSTM: {how}")
        click.echo(format_table(result))
        return
    from seqgen.classify import classification_report, format_report, load_classifier, predict_proba
    from seqgen.data.series import check_known_labels, read_labeled_sequences

    model, payload = load_classifier(checkpoint)
    test_file = test_file or payload["train_config"].get("test")
    if not test_file:
        raise SeqgenError("this classifier was trained without --test; give a labelled file with --test FILE")
    labels, sequences = read_labeled_sequences(test_file, payload["train_config"].get("label_column"))
    check_known_labels(labels, payload["classes"], test_file)
    report = classification_report(labels, predict_proba(model, payload["scaling"], sequences), payload["classes"])
    click.echo(json.dumps(report, indent=2) if as_json else f"{test_file}: " + format_report(report))


@cli.command("sample")
@click.argument("checkpoint", type=click.Path())
@config_options(SampleConfig)
@click.option("--prime-file", type=click.Path(dir_okay=False), default=None, help="Read the prime text from this UTF-8 file.")
def sample_command(checkpoint, prime_file, **options):
    """Generate text from a trained checkpoint."""
    config = SampleConfig(**options)
    if prime_file is not None:
        from pathlib import Path

        from seqgen.data.corpora import read_text_file

        config = dataclasses.replace(config, prime=read_text_file(Path(prime_file)))
    _print_samples(checkpoint, config)


def _print_samples(checkpoint: str, config: SampleConfig, music_output: str | None = None) -> None:
    """Stream one sample to stdout as it is generated, or print a batch of samples one after another."""
    import secrets

    import torch

    from seqgen.checkpoint import load_language_model
    from seqgen.device import resolve_device
    from seqgen.sample import generate, stream_text
    from seqgen.tokenizers.char import UnknownCharacterError

    device = resolve_device(config.device)
    model, tokenizer, _ = load_language_model(checkpoint, device)
    if tokenizer.kind == "music":
        if music_output and not config.output:
            config = dataclasses.replace(config, output=music_output, plot=True)
        return _write_music(model, tokenizer, config, device)
    if config.prime_midi or config.bars:
        raise SeqgenError("--prime-midi and --bars are for music models; this checkpoint is a text model")
    if config.prime:
        try:
            prime_ids = tokenizer.encode(config.prime).astype("int64")
        except UnknownCharacterError as error:
            raise SeqgenError(f"the prime text cannot be encoded: {error}") from None
    else:
        start = tokenizer.newline_id()
        prime_ids = [start if start is not None else 0]  # a neutral start token, not shown
    prime = torch.as_tensor(prime_ids, dtype=torch.long, device=device).repeat(config.num_samples, 1)  # (N, P)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    if config.seed is None:
        click.echo(f"(seed {seed})", err=True)
    generator = torch.Generator(device=device).manual_seed(seed)
    tokens = generate(model, prime, config.length, config.temperature, config.top_k, config.top_p, generator)
    if config.num_samples == 1:
        click.echo(config.prime, nl=False)
        for piece in stream_text(tokenizer, tokens):
            click.echo(piece, nl=False)
        click.echo()
        return
    rows = torch.stack(list(tokens), dim=1).cpu()  # (N, length)
    texts = [config.prime + tokenizer.decode(row.tolist()) for row in rows]
    if config.output:
        for path, text in zip(_output_paths(config.output, len(texts), ".txt"), texts):
            path.write_text(text + "\n", encoding="utf-8")
            click.echo(f"wrote {path}", err=True)
        return
    for index, text in enumerate(texts, 1):
        click.echo(f"--- sample {index} ---", err=True)
        click.echo(text)


def _output_paths(output: str, count: int, suffix: str):
    """x.mid for one sample; x-1.mid, x-2.mid, … for several."""
    from pathlib import Path

    path = Path(output).expanduser()
    if not path.suffix:
        path = path.with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{index}{path.suffix}") for index in range(1, count + 1)]


def _write_music(model, tokenizer, config: SampleConfig, device) -> None:
    """Generate pieces as one batch and write each as a MIDI or MusicXML file (and a piano roll)."""
    import secrets

    from seqgen.music.generate import generate_pieces, primer_tokens
    from seqgen.music.plot import plot_piano_roll
    from seqgen.music.scores import WRITERS, write_piece

    if config.format not in WRITERS:
        raise SeqgenError(f"music21 cannot write {config.format!r} files; use --format midi or musicxml")
    if not config.output:
        raise SeqgenError("a music model writes files: pass --output, e.g. --output samples/piece.mid")
    primer = primer_tokens(tokenizer, config.prime_midi, config.prime)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    if config.seed is None:
        click.echo(f"(seed {seed})", err=True)
    length = max(config.length, 300 * config.bars) if config.bars else config.length
    pieces = generate_pieces(model, tokenizer, primer, config.num_samples, length, config.bars, config.temperature,
                             config.top_k, config.top_p, seed, device, config.keep_primer)
    for path, piece in zip(_output_paths(config.output, len(pieces), WRITERS[config.format][1]), pieces):
        if not piece["notes"]:
            click.echo(f"{path.name}: the sample has no notes; nothing written", err=True)
            continue
        write_piece(piece, path, config.format, tokenizer.grid)
        click.echo(str(path))
        if config.plot:
            click.echo(str(plot_piano_roll(piece, tokenizer.grid, path.with_suffix(".png"))))


@cli.command("evaluate")
@click.argument("checkpoint", type=click.Path())
@click.option("--holdout", type=click.IntRange(min=1), default=None,
              help="Forecast checkpoints: score the forecast of the last N points [default: those the run kept out, else its horizon].")
@click.option("--backtest", is_flag=True, help="Forecast checkpoints: repeat from several origins a season apart, retraining at each.")
@click.option("--origins", type=click.IntRange(min=1), default=3, show_default=True, help="Forecast checkpoints: origins of --backtest.")
@click.option("--test", "test_file", type=click.Path(dir_okay=False), default=None,
              help="Classify checkpoints: labelled file to score [default: the run's --test file].")
@click.option("--split", type=click.Choice(["val", "test"]), default="test", show_default=True,
              help="Which held-out part of the training corpus to score.")
@click.option("--text", "text_file", type=click.Path(dir_okay=False), default=None, help="Score this text file instead.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of --text.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Streams the text is scored in.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
@click.option("--num-generated", type=click.IntRange(min=0), default=8, show_default=True,
              help="Music: pieces generated to compare their statistics with the corpus's.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False), default=None,
              help="Translate checkpoints: score this TSV of source<TAB>target pairs instead of --split.")
@click.option("--beam-size", type=click.IntRange(min=2), default=5, show_default=True,
              help="Translate checkpoints: the beam scored beside greedy decoding.")
def evaluate_command(checkpoint, holdout, backtest, origins, test_file, split, text_file, encoding, batch_size, device,
                     num_generated, as_json, pairs_file, beam_size):
    """Loss, perplexity and bits per token / character of a checkpoint on held-out text.

    For a translate checkpoint: exact match, BLEU and chrF of greedy and beam-search translations.
    """
    from seqgen.checkpoint import load_checkpoint
    from seqgen.evaluate import evaluate_checkpoint

    task = load_checkpoint(checkpoint)["task"]
    if task in ("forecast", "classify"):
        return _evaluate_series_task(checkpoint, task, holdout, backtest, origins, test_file, device, as_json)
    if task == "translate":
        return _evaluate_translation(checkpoint, split, text_file, pairs_file, encoding, beam_size, device, as_json)
    if pairs_file is not None:
        raise click.UsageError("--pairs scores translate checkpoints; for a language model use --text")
    if task != "language-model":
        raise SeqgenError(f"evaluating a {task} checkpoint is not supported yet")
    result = evaluate_checkpoint(checkpoint, split, text_file, encoding, batch_size, device, num_generated)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    line = f"loss {result['loss']:.4f} nats/token   perplexity {result['perplexity']:.3f}   {result['bits_per_token']:.4f} bits/token"
    if "bits_per_character" in result:
        click.echo(f"{result['source']}: {result['tokens']:,} tokens, {result['characters']:,} characters")
        click.echo(f"{line}   {result['bits_per_character']:.4f} bits/character")
    else:
        click.echo(f"{result['source']}: {result['tokens']:,} tokens, {result['quarter_notes']:,.0f} quarter notes")
        click.echo(f"{line}   {result['loss_per_quarter']:.4f} nats/quarter note")
        if "generated_vs_corpus" in result:
            stats = result["generated_vs_corpus"]
            click.echo(f"{stats['settings']['pieces']} generated pieces against the split: pitch-class histogram "
                       f"distance {stats['pitch_class_distance']:.3f}")
            for name in ("in_key_share", "note_density", "pitch_range", "lowest_pitch", "highest_pitch", "parts"):
                click.echo(f"  {name:<14} generated {stats['generated'][name]:7.2f}   corpus {stats['corpus'][name]:7.2f}")


def _evaluate_translation(checkpoint, split, text_file, pairs_file, encoding, beam_size, device, as_json) -> None:
    from seqgen.evaluate_translation import evaluate_translator
    from seqgen.translate import checkpoint_splits, load_translator

    if text_file is not None:
        raise click.UsageError("a translate checkpoint is scored on pairs: use --pairs FILE instead of --text")
    translator, payload = load_translator(checkpoint, device)
    if pairs_file is not None:
        from seqgen.data.pairs import describe_skipped, read_pairs

        config = payload["train_config"]
        read = read_pairs(pairs_file, config.get("source_column"), config.get("target_column"), encoding)
        if read.skipped:
            click.echo(f"{pairs_file}: {describe_skipped(read.skipped)}", err=True)
        pairs, source = read.pairs, pairs_file
    else:
        pairs, source = checkpoint_splits(payload)[split], f"{payload['corpus']['spec']} ({split} split)"
        if not pairs:
            raise SeqgenError(f"the {split} split of {payload['corpus']['spec']} is empty "
                              f"(--{split}-fraction was 0 or the file is small); score a file with --pairs FILE")
    click.echo(f"Scoring {len(pairs):,} pairs of {source}, greedy and beam {beam_size} …", err=True)
    result = {"source": source, **evaluate_translator(translator, pairs, (1, beam_size))}
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(f"{source}: {len(pairs):,} pairs")
    for name in ("greedy", f"beam{beam_size}"):
        r = result[name]
        click.echo(f"{name:<8} exact match {r['exact_match']:6.2f}%   BLEU {r['bleu']:6.2f}   chrF {r['chrf']:6.2f}"
                   f"   ({r['seconds']:.1f} s)")


@cli.command("corpora")
def corpora_command():
    """List the built-in corpora: name, kind, size and where each comes from."""
    from seqgen.data.corpora import describe_corpora

    rows = describe_corpora()
    width = max(len(r["name"]) for r in rows)
    click.echo(f"{'name':<{width}}  {'kind':<5}  {'size':>13}  description / source")
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['kind']:<5}  {r['size']:>13}  {r['description']}")
        click.echo(f"{'':<{width}}  {'':<5}  {'':>13}  {r['source']}")


main = cli
