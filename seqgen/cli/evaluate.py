"""`seqgen evaluate`: score any task's checkpoint; each option belongs to the tasks it names."""

from __future__ import annotations

import json

import click

from seqgen.cli.base import cli, refuse_foreign_options, threads_option

# Which checkpoints each option of `seqgen evaluate` applies to (the rest apply to all).
APPLIES_TO = {
    "split": ("language-model", "translate"), "text_file": ("language-model",), "batch_size": ("language-model",),
    "num_generated": ("language-model",), "encoding": ("language-model", "translate"),
    "holdout": ("forecast",), "backtest": ("forecast",), "origins": ("forecast",),
    "test_file": ("classify",), "pairs_file": ("translate",), "beam_size": ("translate",),
}


@cli.command("evaluate")
@click.argument("checkpoint", type=click.Path())
@click.option("--split", type=click.Choice(["val", "test"]), default="test", show_default=True,
              help="Language model, translate: which held-out part of the training corpus to score.")
@click.option("--text", "text_file", type=click.Path(dir_okay=False), default=None,
              help="Language model: score this text file instead of --split.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of --text or --pairs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Language model: streams the text is scored in (fewer when the text is short).")
@click.option("--num-generated", type=click.IntRange(min=0), default=8, show_default=True,
              help="Music: pieces generated to compare their statistics with the corpus's.")
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False), default=None,
              help="Translate: score this TSV of source<TAB>target pairs instead of --split.")
@click.option("--beam-size", type=click.IntRange(min=2, max=64), default=5, show_default=True,
              help="Translate: the beam scored beside greedy decoding.")
@click.option("--holdout", type=click.IntRange(min=1), default=None,
              help="Forecast: score the forecast of the last N points [default: those the run kept out, else its "
                   "horizon].")
@click.option("--backtest", is_flag=True, help="Forecast: repeat from several origins a season apart, retraining at each.")
@click.option("--origins", type=click.IntRange(min=1), default=3, show_default=True, help="Forecast: origins of --backtest.")
@click.option("--test", "test_file", type=click.Path(dir_okay=False), default=None,
              help="Classify: labelled file to score [default: the run's --test file].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
@threads_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def evaluate_command(ctx, checkpoint, device, threads, as_json, **options):
    """Score a checkpoint on held-out data, whatever its task.

    Language models: loss, perplexity, bits per token and character (text) or per quarter note and
    statistics of generated pieces (music). Translate: exact match, BLEU and chrF, greedy and beam.
    Forecast: RMSE, MAE, MAPE, MASE beside baselines. Classify: accuracy, macro-F1, confusion matrix.
    """
    import seqgen.api

    model = seqgen.api.load(checkpoint, device, threads)
    refuse_foreign_options(ctx, options, model.task, APPLIES_TO)
    wanted = {name: value for name, value in options.items() if model.task in APPLIES_TO[name]}
    result = model.evaluate(**{KEYWORDS.get(name, name): value for name, value in wanted.items()})
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    PRINTERS[model.task](result)


# The evaluate() keyword of each option whose flag reads better under another name.
KEYWORDS = {"text_file": "text", "pairs_file": "pairs", "test_file": "test"}


def print_language_model(result: dict) -> None:
    if "note" in result:
        click.echo(f"note: {result['note']}", err=True)
    line = (f"loss {result['loss']:.4f} nats/token   perplexity {result['perplexity']:.3f}   "
            f"{result['bits_per_token']:.4f} bits/token")
    if "bits_per_character" in result:
        click.echo(f"{result['source']}: {result['tokens']:,} tokens, {result['characters']:,} characters")
        click.echo(f"{line}   {result['bits_per_character']:.4f} bits/character")
        return
    if "loss_per_frame" in result:
        click.echo(f"{result['source']}: {result['pieces']:,} pieces, {result['frames']:,} frames, {result['tokens']:,} tokens")
        click.echo(f"{line}   {result['loss_per_frame']:.4f} nats/frame (negative log-likelihood of the frames)")
    else:
        click.echo(f"{result['source']}: {result['tokens']:,} tokens, {result.get('quarter_notes', 0):,.0f} quarter notes")
        click.echo(f"{line}   {result.get('loss_per_quarter', float('nan')):.4f} nats/quarter note")
    if "generated_vs_corpus" in result:
        stats = result["generated_vs_corpus"]
        click.echo(f"{stats['settings']['pieces']} generated pieces against the split: pitch-class histogram "
                   f"distance {stats['pitch_class_distance']:.3f}")
        for name in ("in_key_share", "note_density", "pitch_range", "lowest_pitch", "highest_pitch", "parts",
                     "parallel_fifths_per_100_beats", "parallel_octaves_per_100_beats"):
            click.echo(f"  {name:<30} generated {stats['generated'][name]:7.2f}   corpus {stats['corpus'][name]:7.2f}")
        corpus_ranges = {r["part"]: r for r in stats["corpus"]["range_per_part"]}
        for generated in stats["generated"]["range_per_part"]:
            theirs = corpus_ranges.get(generated["part"])
            shown = f"{theirs['lowest']:5.1f}-{theirs['highest']:5.1f}" if theirs else "  (no such part)"
            click.echo(f"  {'range of part ' + str(generated['part'] + 1):<30} generated "
                       f"{generated['lowest']:5.1f}-{generated['highest']:5.1f}   corpus {shown}")


PRINTERS = {"language-model": print_language_model}
