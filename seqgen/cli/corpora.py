"""`seqgen corpora`: the built-in corpora."""

from __future__ import annotations

import click

from seqgen.cli.base import cli


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
