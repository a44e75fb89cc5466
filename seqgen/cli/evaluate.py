"""`seqgen evaluate`: score any task's checkpoint; each option belongs to the tasks it names."""

from __future__ import annotations

import json

import click

from seqgen.cli.base import cli, explicit_options, options_of, refuse_foreign_options, threads_option
from seqgen.config import option_names
from seqgen.tasks import TASKS, get_task


def _task_options() -> tuple[list[click.Option], dict]:
    """The options of every task's EvaluateConfig, each once, its help led by the tasks it serves; and for each
    option the tasks it applies to."""
    applies_to: dict = {}
    for task in TASKS:
        for name in option_names(get_task(task).EvaluateConfig):
            applies_to.setdefault(name, []).append(task)
    options = options_of(*(get_task(task).EvaluateConfig for task in TASKS))
    for option in options:
        owners = [task.replace("-", " ") for task in applies_to[option.name]]
        text = option.help
        option.help = f"{', '.join(owners).capitalize()}: {text[:1].lower() + text[1:]}"
    return options, {name: tuple(tasks) for name, tasks in applies_to.items()}


TASK_OPTIONS, APPLIES_TO = _task_options()


@cli.command("evaluate")
@click.argument("checkpoint", type=click.Path())
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
    result = model.evaluate(**explicit_options(ctx, options))
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    PRINTERS[model.task](result)


evaluate_command.params[1:1] = TASK_OPTIONS  # after CHECKPOINT, before --device


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
