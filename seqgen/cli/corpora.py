"""`seqgen corpora`: the built-in corpora and the data sets seqgen fetches by name."""

from __future__ import annotations

from typing import Optional

import click

from seqgen.cli.base import cli


@cli.command("corpora")
@click.option("--fetch", "fetch", metavar="NAME", default=None,
              help="Download the named data set into the cache now (verified by sha256) and print its folder.")
def corpora_command(fetch: Optional[str]):
    """List the built-in corpora and data sets: name, kind, size, source and licence, and whether each is here
    or fetched on first use."""
    from seqgen.data.corpora import REGISTRY, corpus_path, describe_corpora
    from seqgen.errors import SeqgenError

    if fetch is not None:
        if fetch not in REGISTRY:
            raise SeqgenError(f"no data set named {fetch!r}; `seqgen corpora` lists the names")
        click.echo(str(corpus_path(REGISTRY[fetch])))
        return
    rows = describe_corpora()
    width = max(len(r["name"]) for r in rows)
    kind = max(len(r["kind"]) for r in rows)
    indent = " " * (width + kind + 18)
    click.echo(f"{'name':<{width}}  {'kind':<{kind}}  {'size':>12}  description / source / here")
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['kind']:<{kind}}  {r['size']:>12}  {r['description']}")
        click.echo(f"{indent}source: {r['source']}" + (f" · licence: {r['licence']}" if r["licence"] else ""))
        click.echo(f"{indent}here: {r['here']}" if r["here"] else f"{indent}not here: fetched on first use ({r['fetched']})")
