"""The studio's web application (Starlette): the page, its files and a JSON API over seqgen.api.

Every request passes the guard first: the Host header must name this machine when the server listens on it only
(no DNS rebinding); with a token (required by `seqgen serve` on any other --host) each request must carry it; a
request another site's page makes (Sec-Fetch-Site) is refused; and a request that changes anything must come
from the studio's own page (its Origin, and the page's CSRF token in a header no other site can set without
asking, which this server never grants). Every path a request names is checked by seqgen.studio.library. A
mistake is the command line's one line, as JSON {"error": line}; no request can end the server."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import secrets
import sys
import tempfile
import threading
import time
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import click
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from seqgen.config import RESUMABLE_OVERRIDES, metadata, option_names
from seqgen.errors import SeqgenError
from seqgen.files import held_by_another
from seqgen.runs import RunBusy, check_name, check_new_run, default_name
from seqgen.studio import VIEWS
from seqgen.studio.jobs import Jobs
from seqgen.studio.library import Library, NotFound, TooLarge, one_line, too_large
from seqgen.tasks import TASKS, get_task, presentation

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"studio.js": "text/javascript", "studio.css": "text/css"}
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MODELS = 4  # loaded models kept
VIEWS_KEPT = 20  # gate views kept
JSON_BYTES = 1 << 20  # the most a JSON request body holds
SAFE = ("GET", "HEAD")
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
               "media-src 'self' blob:; connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
# The gate view is seqgen inspect's page, self-contained with inline script and style; it may fetch nothing.
VIEW_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
               "frame-ancestors 'self'")


# Every endpoint: method, path, Endpoints' method. GET changes nothing; each POST needs the page's CSRF token.
ROUTES = (
    ("GET", "/", "page"), ("GET", "/static/{name}", "static"), ("GET", "/api/tasks", "tasks"),
    ("GET", "/api/runs", "runs"), ("GET", "/api/runs/{name}", "run_detail"),
    ("GET", "/api/runs/{name}/files/{file}", "run_file"), ("GET", "/api/runs/{name}/form", "form"),
    ("POST", "/api/runs/{name}/try", "try_model"), ("GET", "/api/runs/{name}/stream", "stream"),
    ("POST", "/api/runs/{name}/inspect", "inspect"), ("POST", "/api/runs/{name}/resume", "resume"),
    ("GET", "/api/samples/{key}/{file}", "sample_file"), ("GET", "/api/views/{key}", "view"),
    ("GET", "/api/uploads", "uploads"), ("POST", "/api/uploads", "upload"), ("POST", "/api/train", "train"),
    ("GET", "/api/jobs", "job_list"), ("GET", "/api/jobs/{id}", "job_detail"), ("POST", "/api/jobs/{id}/stop", "stop"),
)


class Refused(Exception):
    def __init__(self, status: int, line: str):
        super().__init__(line)
        self.status, self.line = status, line


class Studio:
    """What the endpoints share: the output folder, the training processes, the loaded models, the secrets."""

    def __init__(self, output_dir, token: Optional[str] = None, loopback_only: bool = True,
                 max_upload_bytes: int = 50 * 2**20):
        self.library = Library(output_dir, max_upload_bytes)
        self.jobs = Jobs()
        self.token = token
        self.loopback_only = loopback_only
        self.csrf = secrets.token_urlsafe(32)  # given to the page; a request that changes anything carries it
        self._models: OrderedDict = OrderedDict()
        self._models_lock = threading.Lock()
        self._views: OrderedDict = OrderedDict()

    # the guard

    def refusal(self, request: Request) -> Optional[Refused]:
        host = host_name(request.headers.get("host") or "")
        if self.loopback_only and host not in LOOPBACK:
            return Refused(421, f"Error: this studio answers only to 127.0.0.1 or localhost, not {host[:60]!r}")
        if self.token is not None and not request.url.path.startswith("/static/"):  # the page's script and style
            given = request.headers.get("x-seqgen-token") or request.query_params.get("token") or ""
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                return Refused(401, "Error: this studio needs its access token: open the address `seqgen serve` "
                                    "printed (it ends in ?token=…)")
        site = request.headers.get("sec-fetch-site")
        navigation = request.method == "GET" and request.url.path == "/" and request.headers.get(
            "sec-fetch-mode") == "navigate"
        if site in ("cross-site", "same-site") and not navigation:
            return Refused(403, "Error: refused a request made by another site's page")
        if request.method not in SAFE:
            origin = request.headers.get("origin")
            if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host')}":
                return Refused(403, f"Error: refused a request from another site ({origin[:80]})")
            if not secrets.compare_digest((request.headers.get("x-seqgen-csrf") or "").encode(), self.csrf.encode()):
                return Refused(403, "Error: refused a request without the studio page's token (reload the page)")
        return None

    # models and views

    def model(self, name: str):
        """The run's best.pt, loaded once (again when the file changes)."""
        import seqgen.api

        folder = self.library.run_folder(name)
        best = folder / "best.pt"
        if not best.is_file():
            raise SeqgenError(f"the run {name} has no best.pt yet; wait for its first evaluation, or resume it")
        key = (str(best), best.stat().st_mtime_ns)
        with self._models_lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = seqgen.api.load(best, "cpu")
        with self._models_lock:
            self._models[key] = model
            while len(self._models) > MODELS:
                self._models.popitem(last=False)
        return model

    def keep_view(self, page: str) -> str:
        key = secrets.token_hex(16)
        self._views[key] = page
        while len(self._views) > VIEWS_KEPT:
            self._views.popitem(last=False)
        return key


class Guard:
    """The checks of Studio.refusal, before any endpoint; and the headers every answer carries."""

    def __init__(self, app, studio: Studio):
        self.app, self.studio = app, studio

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refused = self.studio.refusal(Request(scope))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for key, value in ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                                   (b"content-security-policy", PAGE_POLICY.encode()), (b"x-frame-options", b"DENY"),
                                   (b"cache-control", b"no-store")):
                    if key not in names:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        if refused is not None:
            return await JSONResponse({"error": refused.line}, refused.status)(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)


def endpoint(function):
    """A mistake is the command line's one line ({"error": line}, 400; 404 for what is not there); anything
    else is one line too (500), with its traceback on the server's terminal."""

    async def answer(*arguments):
        try:
            return await function(*arguments)
        except Refused as refused:
            return JSONResponse({"error": refused.line}, refused.status)
        except TooLarge as error:
            return JSONResponse({"error": one_line(error)}, 413)
        except NotFound as error:
            return JSONResponse({"error": one_line(error)}, 404)
        except SeqgenError as error:
            return JSONResponse({"error": one_line(error)}, 400)
        except ClientDisconnect:
            return Response(status_code=400)
        except MemoryError:
            return JSONResponse({"error": "Error: out of memory"}, 500)
        except Exception as error:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
            return JSONResponse({"error": one_line(f"{type(error).__name__}: {error}")}, 500)

    answer.__name__ = function.__name__
    return answer


async def json_body(request: Request) -> dict:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > JSON_BYTES:
            raise Refused(413, f"Error: the request is larger than {JSON_BYTES:,} bytes")
    try:
        data = json.loads(body or b"{}")
    except ValueError as error:
        raise SeqgenError(f"the request is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise SeqgenError("the request must be a JSON object")
    return data


class Endpoints:
    """The studio's endpoints, over one Studio."""

    def __init__(self, studio: Studio):
        self.studio, self.library, self.jobs = studio, studio.library, studio.jobs

    async def page(self, request: Request):
        text = (STATIC / "studio.html").read_text(encoding="utf-8")
        return HTMLResponse(text.replace("{{csrf}}", html.escape(self.studio.csrf)).replace(
            "{{root}}", html.escape(str(self.library.root))))

    async def static(self, request: Request):
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return JSONResponse({"error": f"Error: no file {name[:60]!r}"}, 404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    @endpoint
    async def tasks(self, request: Request):
        from seqgen.data.corpora import describe_corpora

        listed = []
        for name in TASKS:
            package, shown = get_task(name), presentation(name)
            main = [n for n in getattr(shown, "STUDIO_TRAIN", ()) if n in trainable(name)]
            listed.append({"name": name, "summary": package.SUMMARY, "help": shown.TASK_HELP,
                           "fields": train_fields(name, main), "more": [n for n in trainable(name) if n not in main]})
        corpora = [{"name": row["name"], "kind": row["kind"], "description": row["description"]}
                   for row in describe_corpora()]
        return JSONResponse({"tasks": listed, "corpora": corpora, "uploads": self.library.uploads(),
                             "resumable": list(RESUMABLE_OVERRIDES), "views": list(VIEWS)})

    @endpoint
    async def runs(self, request: Request):
        return JSONResponse({"root": str(self.library.root), "runs": await run_in_threadpool(self.library.runs)})

    @endpoint
    async def run_detail(self, request: Request):
        return JSONResponse(await run_in_threadpool(self.library.detail, request.path_params["name"]))

    @endpoint
    async def run_file(self, request: Request):
        path = self.library.run_file(request.path_params["name"], request.path_params["file"])
        return FileResponse(path, filename=path.name)

    @endpoint
    async def form(self, request: Request):
        model = await run_in_threadpool(self.studio.model, request.path_params["name"])
        shown = presentation(model.task)
        offered = shown.studio_form(model) if hasattr(shown, "studio_form") else None
        inspect_fields = [click_field(o) for o in shown.INSPECT_INPUT_OPTIONS + shown.INSPECT_MODEL_OPTIONS]
        return JSONResponse({"task": model.task, "try": offered,
                             "inspect": {"text": shown.INSPECT_TEXT, "reads": shown.INSPECT_READS,
                                         "fields": inspect_fields}})

    def checked_values(self, offered: dict, values) -> dict:
        if not isinstance(values, dict):
            raise SeqgenError("the values must be a JSON object of the form's fields")
        fields = {f["name"]: f for f in offered["fields"]}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise SeqgenError(f"{', '.join(unknown)[:100]} {'is' if len(unknown) == 1 else 'are'} not a field of this "
                              f"form; it has {', '.join(fields)}")
        values = {name: (None if value == "" else value) for name, value in values.items()}
        for name, value in values.items():
            if value is not None and (fields[name]["kind"] == "upload" or fields[name].get("path")):
                values[name] = str(self.library.upload(value))
        return values

    async def offered_form(self, name: str, view: Optional[str] = None):
        model = await run_in_threadpool(self.studio.model, name)
        shown = presentation(model.task)
        offered = shown.studio_form(model) if hasattr(shown, "studio_form") else None
        if offered is None:
            raise SeqgenError(f"a {model.task} model offers nothing to try in the studio yet")
        if view is not None and offered["view"] != view:
            raise SeqgenError(f"the run {name} is a {model.task} model ({offered['view']}); it draws no streamed text")
        if view is None and offered["view"] == "stream":
            raise SeqgenError(f"the run {name} streams its text: ask /api/runs/{name}/stream")
        return model, shown, offered

    @endpoint
    async def try_model(self, request: Request):
        body = await json_body(request)
        model, shown, offered = await self.offered_form(request.path_params["name"])
        values = self.checked_values(offered, body.get("values", {}))
        key, folder = self.library.sample_folder()
        result = await run_in_threadpool(shown.studio_try, model, values, folder)
        files = result.pop("files", None) or {}
        result["files"] = {kind: f"/api/samples/{key}/{name}" for kind, name in files.items()}
        return JSONResponse({"view": offered["view"], **result})

    @endpoint
    async def stream(self, request: Request):
        try:
            values = json.loads(request.query_params.get("values") or "{}")
        except ValueError as error:
            raise SeqgenError(f"values is not JSON: {error}") from None
        model, shown, offered = await self.offered_form(request.path_params["name"], "stream")
        parts = shown.studio_stream(model, self.checked_values(offered, values))
        first = await run_in_threadpool(next, parts, "")  # a mistake in the options is one line, before the stream
        return StreamingResponse(sse_events(parts, first), media_type="text/event-stream")

    @endpoint
    async def sample_file(self, request: Request):
        path = self.library.sample_file(request.path_params["key"], request.path_params["file"])
        return FileResponse(path, filename=path.name)

    @endpoint
    async def inspect(self, request: Request):
        body = await json_body(request)
        model = await run_in_threadpool(self.studio.model, request.path_params["name"])
        shown = presentation(model.task)
        options = {o.name: o for o in shown.INSPECT_INPUT_OPTIONS + shown.INSPECT_MODEL_OPTIONS}
        given = body.get("options") or {}
        if not isinstance(given, dict) or set(given) - set(options):
            raise SeqgenError(f"the options of inspect for a {model.task} model are: {', '.join(options) or 'none'}")
        values = {name: option.default for name, option in options.items()}
        for name, value in given.items():
            if value in (None, ""):
                continue
            if isinstance(options[name].type, click.Path):
                values[name] = str(self.library.upload(value))
                continue
            try:
                values[name] = options[name].type.convert(value, options[name], None)
            except click.BadParameter as error:
                raise SeqgenError(f"{options[name].opts[0]}: {error.format_message()}") from None
        text = body.get("text")
        if text not in (None, "") and shown.INSPECT_TEXT is None:
            raise SeqgenError(f"{shown.INSPECT_READS}; it takes no text")
        if text is not None and not isinstance(text, str):
            raise SeqgenError("the text to inspect must be text")
        text = None if text == "" else text

        def read():
            inspection, _ = shown.inspect_input(model, text, values, None)
            with tempfile.TemporaryDirectory() as folder:
                page_path = inspection.html(Path(folder) / "gates.html")
                return inspection, Path(page_path).read_text(encoding="utf-8")

        inspection, text_of_page = await run_in_threadpool(read)
        from seqgen.inspect.features import describe

        per_direction = inspection.units // 2 if inspection.directions == 2 else None
        return JSONResponse({"view": f"/api/views/{self.studio.keep_view(text_of_page)}", "steps": inspection.steps,
                             "ranking": [describe(e, per_direction) for e in inspection.ranking(5)]})

    @endpoint
    async def view(self, request: Request):
        page_text = self.studio._views.get(request.path_params["key"])
        if page_text is None:
            raise NotFound("that gate view is gone (the studio keeps the last 20); show it again")
        return HTMLResponse(page_text, headers={"content-security-policy": VIEW_POLICY,
                                                "x-frame-options": "SAMEORIGIN"})

    @endpoint
    async def upload(self, request: Request):
        name = self.library.upload_name(request.query_params.get("name"))
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.library.max_upload_bytes:
            raise TooLarge(too_large(self.library.max_upload_bytes))
        chunks = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > self.library.max_upload_bytes:
                raise TooLarge(too_large(self.library.max_upload_bytes))
            chunks.append(chunk)
        return JSONResponse(await run_in_threadpool(self.library.save_upload, name, chunks))

    @endpoint
    async def uploads(self, request: Request):
        return JSONResponse({"uploads": self.library.uploads()})

    @endpoint
    async def train(self, request: Request):
        body = await json_body(request)
        task = body.get("task")
        get_task(task)  # an unknown task is one line
        options = dict(body.get("options") or {})
        options = {k: v for k, v in options.items() if v not in (None, "")}
        allowed = trainable(task)
        unknown = sorted(set(options) - set(allowed) - {"name"})
        if unknown:
            raise SeqgenError(f"{', '.join(unknown)[:100]} cannot be set from the studio for --task {task}")
        for name in list(options):
            if name != "name" and metadata(owner(task, name), name).get("path"):
                options[name] = self.corpus_value(task, name, options[name])
        corpus = options.get("corpus") or next((f["default"] for f in train_fields(task, ["corpus"])), None)
        name = options.pop("name", None) or default_name(Path(str(corpus or "run")).stem)
        check_name(name)
        self.refuse_busy(name)
        check_new_run(str(self.library.root), name)
        job = self.jobs.start(task, name, {**options, "output_dir": str(self.library.root), "name": name})
        return JSONResponse(job.as_dict())

    @endpoint
    async def resume(self, request: Request):
        body = await json_body(request)
        name = request.path_params["name"]
        folder = self.library.run_folder(name)
        options = {k: v for k, v in dict(body.get("options") or {}).items() if v not in (None, "")}
        fixed = sorted(set(options) - set(RESUMABLE_OVERRIDES))
        if fixed:
            raise SeqgenError(f"{', '.join(fixed)[:100]} cannot change when resuming; only "
                              f"{', '.join(RESUMABLE_OVERRIDES)} can")
        self.refuse_busy(name)
        if not (folder / "latest.pt").is_file():
            raise SeqgenError(f"the run {name} has no latest.pt to resume from")
        job = self.jobs.start(None, name, options, resume=str(folder / "latest.pt"))
        return JSONResponse(job.as_dict())

    @endpoint
    async def job_list(self, request: Request):
        return JSONResponse({"jobs": self.jobs.all()})

    @endpoint
    async def job_detail(self, request: Request):
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            raise NotFound(f"no training job {request.path_params['id'][:40]!r} in this studio")
        return JSONResponse(job.as_dict())

    @endpoint
    async def stop(self, request: Request):
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            raise NotFound(f"no training job {request.path_params['id'][:40]!r} in this studio")
        self.jobs.stop(job)
        return JSONResponse(job.as_dict())

    def refuse_busy(self, name: str) -> None:
        """One line at once for a run folder a live run writes to (its lock, which the training process takes
        too), or that a run this studio is starting will write to."""
        folder = self.library.root / name
        if held_by_another(folder / ".lock") or self.jobs.active(name):
            raise RunBusy(f"another seqgen run is writing to {folder}; wait for it to finish, or choose another name")

    def corpus_value(self, task: str, name: str, value) -> str:
        """A file option of training: a built-in corpus (by name) or an upload, nothing else on the machine."""
        from seqgen.data.corpora import describe_corpora

        if not isinstance(value, str):
            raise SeqgenError(f"--{name.replace('_', '-')} names a built-in corpus or an upload")
        if name == "corpus" and value in {row["name"] for row in describe_corpora()}:
            return value
        try:
            return str(self.library.upload(value))
        except SeqgenError:
            raise SeqgenError(f"--{name.replace('_', '-')} {value[:60]!r} is neither a built-in corpus nor an upload; "
                              "upload the file first") from None



def create_app(output_dir="checkpoints", token: Optional[str] = None, loopback_only: bool = True,
               max_upload_bytes: int = 50 * 2**20) -> Starlette:
    """The studio over `output_dir`. `token`: what every request must carry (None: none needed, which
    `seqgen serve` allows only on 127.0.0.1); `loopback_only`: answer only to requests naming this machine."""
    studio = Studio(output_dir, token, loopback_only, max_upload_bytes)
    jobs = studio.jobs
    endpoints = Endpoints(studio)
    routes = [Route(path, getattr(endpoints, name), methods=[method]) for method, path, name in ROUTES]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(jobs.shutdown)  # each run saves latest.pt, as Ctrl-C makes it do

    async def not_here(request: Request, error):
        status = getattr(error, "status_code", 404)
        line = ("Error: no such address in the studio" if status == 404 else
                f"Error: {request.method} is not how {request.url.path[:80]} is asked")
        return JSONResponse({"error": line}, status)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_here, 405: not_here})
    app.state.studio = studio
    app.add_middleware(Guard, studio=studio)
    return app


def host_name(header: str) -> str:
    """The name in a Host header, its port left out: "127.0.0.1", "localhost", "[::1]"."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def trainable(task: str) -> list[str]:
    """The options of `task` the page may set: all but where runs go (the studio's output folder)."""
    return [n for cls in get_task(task).CONFIGS for n in option_names(cls) if n not in ("output_dir", "overwrite", "name")]


def owner(task: str, name: str):
    return next(cls for cls in get_task(task).CONFIGS if name in option_names(cls))


def train_fields(task: str, names) -> list[dict]:
    from seqgen.options import form_fields

    return [field for name in names for field in form_fields(owner(task, name), [name])]


def click_field(option: click.Option) -> dict:
    """A form field for a click option of `seqgen inspect` a task adds."""
    kind = ("choice" if isinstance(option.type, click.Choice) else "upload" if isinstance(option.type, click.Path)
            else "integer" if isinstance(option.type, (click.types.IntParamType,)) else "text")
    field = {"name": option.name, "label": option.opts[0], "kind": kind, "default": option.default,
             "help": option.help or ""}
    if kind == "choice":
        field["choices"] = list(option.type.choices)
    return field


async def sse_events(parts, first: str):
    """Server-sent events of a text sample: "part" events as the sampler draws, then "end" (or "error" with the
    one line). The sampler runs in a thread of its own and stops at its next token once the client has gone."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    cancel = threading.Event()

    def put(kind: str, data: str) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, data))
        except RuntimeError:  # the server's loop has ended
            cancel.set()

    def produce():
        buffer, last = [], time.monotonic()
        try:
            for part in parts:
                if cancel.is_set():
                    return
                buffer.append(part)
                if time.monotonic() - last >= 0.05:
                    put("part", "".join(buffer))
                    buffer, last = [], time.monotonic()
            put("part", "".join(buffer))
            put("end", "")
        except SeqgenError as error:
            put("error", one_line(error))
        except Exception as error:  # noqa: BLE001
            put("error", one_line(f"{type(error).__name__}: {error}"))
        finally:
            parts.close()

    thread = threading.Thread(target=produce, daemon=True, name="seqgen-sample")
    thread.start()
    try:
        yield event("part", first)
        while True:
            kind, data = await queue.get()
            yield event(kind, data)
            if kind != "part":
                break
    finally:
        cancel.set()


def event(kind: str, data: str) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"
