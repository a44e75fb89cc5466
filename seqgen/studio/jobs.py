"""Training from the page: each run trains in a process of its own (the server stays free), through
seqgen.api.train as the command line does: the run folder's lock keeps a second run out of a folder being
written, stopping is Ctrl-C's SIGINT (latest.pt is saved, the run can be resumed), and a failure is the command
line's one line. The process reports its progress bar's state, which the page draws as it moves."""

from __future__ import annotations

import multiprocessing
import os
import queue as queues
import signal
import threading
import time
import uuid
from typing import Optional

from seqgen.studio.library import one_line

POINTS = 2000  # progress points kept per job (the curve drawn while it trains)


def _train(task: Optional[str], options: dict, resume: Optional[str], messages) -> None:
    """The training process: seqgen.api.train with its progress reported to the server."""
    from seqgen.errors import SeqgenError

    if hasattr(os, "setpgrp"):  # a Ctrl-C in the server's terminal reaches the server, which stops each run once
        os.setpgrp()
    try:
        import seqgen.api
        from seqgen.training import report_progress

        with report_progress(lambda state: messages.put(("progress", state))):
            result = seqgen.api.train(task, resume=resume, **options)
        messages.put(("done", {"stop_reason": result.stop_reason, "run_dir": str(result.run_dir)}))
    except SeqgenError as error:
        messages.put(("error", one_line(error)))
    except KeyboardInterrupt:
        messages.put(("error", "Error: stopped before training started; nothing was saved"))
    except MemoryError:
        messages.put(("error", "Error: out of memory; use a smaller model or a smaller --batch-size"))
    except BaseException as error:  # noqa: BLE001  (the page shows every failure as one line)
        messages.put(("error", one_line(f"{type(error).__name__}: {error}")))


class Job:
    def __init__(self, task: Optional[str], run: str, options: dict, resume: Optional[str]):
        self.id = uuid.uuid4().hex[:12]
        self.task, self.run, self.options, self.resume = task, run, options, resume
        self.state = "starting"  # starting, running, stopping, finished, interrupted, failed
        self.fraction, self.postfix, self.desc, self.points = 0.0, {}, "", []
        self.error: Optional[str] = None
        self.stop_reason: Optional[str] = None
        self.started = time.time()
        self.process = None

    def as_dict(self) -> dict:
        return {"id": self.id, "task": self.task, "run": self.run, "state": self.state, "fraction": self.fraction,
                "postfix": self.postfix, "desc": self.desc, "points": self.points, "error": self.error,
                "stop_reason": self.stop_reason, "started": self.started, "resume": self.resume is not None}

    def take(self, kind: str, data) -> None:
        if kind == "progress":
            self.state = "running" if self.state == "starting" else self.state
            self.fraction, self.postfix, self.desc = data["fraction"], data["postfix"], data["desc"]
            try:
                loss = float(data["postfix"].get("loss", "nan"))
            except ValueError:
                loss = float("nan")
            if loss == loss and loss not in (float("inf"), float("-inf")):
                self.points.append([round(100 * self.fraction, 3), loss])
                del self.points[:-POINTS]
        elif kind == "done":
            self.stop_reason = data["stop_reason"]
            self.state = "interrupted" if data["stop_reason"] == "interrupted" else "finished"
        elif kind == "error":
            self.state, self.error = "failed", data


class Jobs:
    """The training processes this server started."""

    def __init__(self):
        self._jobs: dict[str, Job] = {}
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: no server state, own signals

    def start(self, task: Optional[str], run: str, options: dict, resume: Optional[str] = None) -> Job:
        job = Job(task, run, options, resume)
        messages = self._context.Queue()
        job.process = self._context.Process(target=_train, args=(task, options, resume, messages), daemon=True,
                                            name=f"seqgen-train-{run}")
        job.process.start()
        self._jobs[job.id] = job
        threading.Thread(target=self._watch, args=(job, messages), daemon=True).start()
        return job

    def _watch(self, job: Job, messages) -> None:
        ended = False
        while True:
            try:
                kind, data = messages.get(timeout=0.2)
            except queues.Empty:
                if ended:
                    break
                ended = not job.process.is_alive()  # one more look at the queue after the process ends
                continue
            except (EOFError, OSError):
                break
            job.take(kind, data)
        job.process.join(timeout=5)
        messages.close()
        if job.state in ("starting", "running", "stopping"):
            job.state = "failed"
            job.error = f"Error: the training process ended without a word (exit code {job.process.exitcode})"

    def get(self, job_id) -> Optional[Job]:
        return self._jobs.get(job_id) if isinstance(job_id, str) else None

    def active(self, run: str) -> bool:
        """Whether a job of this server trains (or is starting to train) the run named `run`."""
        return any(job.run == run and job.state in ("starting", "running", "stopping") for job in self._jobs.values())

    def all(self) -> list[dict]:
        return [job.as_dict() for job in sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)]

    def stop(self, job: Job) -> None:
        """Ctrl-C for the run: it saves latest.pt within a step and ends."""
        if job.process is not None and job.process.is_alive() and job.process.pid and job.state != "stopping":
            job.state = "stopping" if job.state in ("starting", "running") else job.state
            os.kill(job.process.pid, signal.SIGINT)  # once: a second Ctrl-C would abort without saving

    def shutdown(self, wait: float = 30.0) -> None:
        """Stop every run (each saves latest.pt), waiting up to `wait` seconds in all before ending them."""
        alive = [job for job in self._jobs.values() if job.process is not None and job.process.is_alive()]
        for job in alive:
            self.stop(job)
        deadline = time.monotonic() + wait
        for job in alive:
            job.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if job.process.is_alive():
                job.process.terminate()
