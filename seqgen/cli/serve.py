"""`seqgen serve`: the studio, a local web page to train, generate, listen and look inside."""

from __future__ import annotations

import ipaddress
import secrets

import click

from seqgen.cli.base import cli
from seqgen.errors import SeqgenError


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command("serve")
@click.option("--output-dir", default="checkpoints", show_default=True, type=click.Path(file_okay=False),
              help="The folder of runs the studio shows and trains into; it reads and writes nothing outside it.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Any other than this machine's own (127.0.0.1, localhost) needs a token, "
                   "which every request must carry.")
@click.option("--port", type=click.IntRange(0, 65535), default=8008, show_default=True, help="Port to listen on.")
@click.option("--token", default=None, help="The access token every request must carry [default: none on 127.0.0.1; "
                                            "a random one, printed, on any other --host].")
@click.option("--max-upload-mb", type=click.FloatRange(min=0, min_open=True), default=50.0, show_default=True,
              help="The largest file the page may upload.")
def serve_command(output_dir, host, port, token, max_upload_mb):
    """Open the studio: train, generate, listen and look inside, in one local web page.

    It lists every run in --output-dir (those trained from a terminal too), trains new ones (each in a process
    of its own), tries each model as its task offers (text streamed as it is drawn, music played and downloaded,
    attention pictures, series drawn with their band, class probabilities of an uploaded file), and shows the gates
    of `seqgen inspect`. Nothing it serves
    asks any other host for anything."""
    from pathlib import Path

    try:
        import uvicorn

        from seqgen.studio.app import create_app
    except ImportError as error:
        raise SeqgenError(f"seqgen serve needs the package {error.name}, one of seqgen's requirements: reinstall seqgen "
                          "(pip install -e .)") from None
    if token is not None and (len(token) < 16 or not token.isprintable()):
        raise click.BadParameter("give a token of at least 16 printable characters", param_hint="--token")
    local = loopback(host)
    if not local and token is None:
        token = secrets.token_urlsafe(24)
    folder = Path(output_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise SeqgenError(f"--output-dir {folder} is a file, not a folder; choose a folder")
    folder.mkdir(parents=True, exist_ok=True)
    app = create_app(folder, token=token, loopback_only=local, max_upload_bytes=int(max_upload_mb * 2**20))
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    click.echo(f"seqgen studio over {folder.resolve()}: {address}  (Ctrl-C stops it; runs training save latest.pt)",
               err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    except OSError as error:
        raise SeqgenError(f"cannot listen on {host}:{port}: {error.strerror or error}; choose another --port") from None
