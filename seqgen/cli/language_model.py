"""`train` and `evaluate` (dispatching on the task), `sample` and `corpora`: the language-model commands."""

from __future__ import annotations

import dataclasses
import json
import math

import click

from seqgen.cli.base import TASKS, cli, config_fields, config_options, explicit_options, load_config_file, stop_on_signals
from seqgen.cli.series import evaluate_series_task, train_series_task
from seqgen.cli.translate import evaluate_translation, train_translation
from seqgen.config import ClassifyConfig, ForecastConfig, ModelConfig, SampleConfig, TrainConfig, TranslateConfig
from seqgen.errors import SeqgenError


@cli.command("train")
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=load_config_file, help="TOML file that sets any option below; flags override it.")
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
        return train_series_task(ctx, task, resume, quiet, options)
    if task == "translate":
        return train_translation(ctx, resume, sample_length, quiet, options)
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
    model_config = ModelConfig(**config_fields(ModelConfig, options))
    train_config = TrainConfig(**config_fields(TrainConfig, options))

    with stop_on_signals() as stop_requested:
        result = train(model_config, train_config, resume=resume, overrides=overrides,
                       should_stop=stop_requested, progress=not quiet)

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


@cli.command("sample")
@click.argument("checkpoint", type=click.Path())
@config_options(SampleConfig)
@click.option("--prime-file", type=click.Path(dir_okay=False), default=None, help="Read the prime text from this UTF-8 file.")
def sample_command(checkpoint, prime_file, **options):
    """Generate text, or music files, from a language-model checkpoint."""
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
    """Score a checkpoint on held-out data, whatever its task.

    Language models: loss, perplexity, bits per token and character (text) or per quarter note and
    statistics of generated pieces (music). Translate: exact match, BLEU and chrF, greedy and beam.
    Forecast: RMSE, MAE, MAPE, MASE beside baselines. Classify: accuracy, macro-F1, confusion matrix.
    """
    from seqgen.checkpoint import load_checkpoint
    from seqgen.evaluate import evaluate_checkpoint

    task = load_checkpoint(checkpoint)["task"]
    if task in ("forecast", "classify"):
        return evaluate_series_task(checkpoint, task, holdout, backtest, origins, test_file, device, as_json)
    if task == "translate":
        return evaluate_translation(checkpoint, split, text_file, pairs_file, encoding, beam_size, device, as_json)
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
