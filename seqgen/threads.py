"""How many CPU threads seqgen computes with: the CPUs this process may really use (its affinity mask and a
cgroup CPU quota), what the user asked for (--threads, OMP_NUM_THREADS), and, for a loop of like steps, how
the steps actually run on this machine now.

Why a loop measures instead of following a rule: OpenMP workers that wait for a core they cannot get spin
on it. On a quiet 2-core machine two threads make the default language-model step 1.3-1.6× faster; with one
other busy program they make it 1.5-30× slower (benchmarks/threads.json). No fixed count, and no setting
of the OpenMP environment, is right in both cases, and the load changes while a run trains. So a loop
times its steps on one thread and on all usable CPUs (all first when they are idle), keeps the faster, and times again
now and then, and at once when its steps slow down or CPUs it could not use come free."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seqgen.errors import SeqgenError

CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_MEMBERSHIP = "/proc/self/cgroup"
PROC_STAT = "/proc/stat"
MAX_THREADS = 1024


@dataclass(frozen=True)
class Cpus:
    """The CPUs this process may use: those its affinity mask allows, and no more than a cgroup quota gives
    it time for (a quota of 1.5 CPUs is 1: a second thread would be throttled half of each period)."""

    usable: int
    affinity: int
    quota: Optional[float] = None  # CPUs' worth of time per period; None when unlimited

    def describe(self) -> dict:
        return {"usable": self.usable, "affinity": self.affinity, "cgroup_quota": self.quota}


def affinity_set() -> set:
    try:
        return set(os.sched_getaffinity(0)) or {0}
    except (AttributeError, OSError):  # no affinity masks (macOS, Windows)
        return set(range(os.cpu_count() or 1))


def affinity_cpus() -> int:
    return len(affinity_set())


def idle_jiffies(cpus: set, stat: Optional[str] = None) -> Optional[tuple]:
    """(idle, total) clock ticks so far of the CPUs `cpus` (idle and iowait count as idle; time the hypervisor
    stole does not), from /proc/stat; None where it cannot be read."""
    try:
        lines = Path(stat or PROC_STAT).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    idle = total = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            values = [int(v) for v in rest.split()[:8]]  # user nice system idle iowait irq softirq steal
            idle += sum(values[3:5])
            total += sum(values)
    return (idle, total) if total else None


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _ancestors(mount: Path, relative: str) -> list[Path]:
    """The cgroup's folder under `mount` and every folder above it up to `mount`: a limit on any of them holds."""
    parts = [p for p in relative.strip().split("/") if p]
    return [mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _v2_limit(folder: Path) -> Optional[float]:
    text = _read(folder / "cpu.max")  # "max 100000" or "150000 100000"
    if not text:
        return None
    fields = text.split()
    try:
        if fields[0] == "max":
            return None
        period = float(fields[1]) if len(fields) > 1 else 100000.0
        return float(fields[0]) / period if period > 0 else None
    except (ValueError, IndexError):
        return None


def _v1_limit(folder: Path) -> Optional[float]:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        quota_us, period_us = float(quota), float(period)
    except (TypeError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def cgroup_quota(root: str | Path = None, membership: str | Path = None) -> Optional[float]:
    """The CPU time a cgroup gives this process, in CPUs (the smallest limit of its cgroup and the groups
    above it, v2 `cpu.max` or v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`); None when there is none or
    it cannot be read."""
    root = Path(root if root is not None else CGROUP_ROOT)
    text = _read(Path(membership if membership is not None else CGROUP_MEMBERSHIP)) or ""
    limits = []
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, relative = fields
        if controllers == "":  # cgroup v2: one hierarchy, mounted at the root
            limits += [_v2_limit(folder) for folder in _ancestors(root, relative)]
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's own mount (cpu or cpu,cpuacct)
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu"):
                if mount.is_dir():
                    limits += [_v1_limit(folder) for folder in _ancestors(mount, relative)]
                    break
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def usable_cpus(root: str | Path = None, membership: str | Path = None) -> Cpus:
    affinity = affinity_cpus()
    quota = cgroup_quota(root, membership)
    usable = affinity if quota is None else max(1, min(affinity, math.floor(quota + 1e-9)))
    return Cpus(usable, affinity, quota)


def check_threads(value, what: str = "--threads") -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THREADS:
        raise SeqgenError(f"{what} must be a whole number from 1 to {MAX_THREADS}, not {value!r}")
    return value


def environment_threads() -> Optional[int]:
    """OMP_NUM_THREADS, when it is set to a whole number: the user's choice, as --threads is."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) >= 1 else None


# How a loop measures (see ThreadPolicy). A count of several threads is timed only where other programs leave this
# process its own CPU and FREE_NEEDED of one per extra thread ("room": the idle CPUs, counted over at least
# MIN_JIFFIES clock ticks a CPU, and this process's own threads, as last counted beside the fewest of them): its
# workers would wait for cores they cannot get, and on a busy 2-core machine a single such step cost up to
# hundreds of the loop's one-thread steps (benchmarks/threads.json). The first measurement starts on one thread,
# or, for a training loop that looked at the CPUs for up to LOOK seconds before its first step and found room, on
# the largest count: a loop's first steps pay once for setting up, and gain the most from a quiet machine's CPUs.
# Each count is timed over at least PROBE_STEPS steps and PROBE_SECONDS, or over one step of LONG_STEP seconds;
# the loop's first step, and the first step on a count of several threads that the loop has not used yet (it pays
# for starting the workers), are not counted unless they already lose. A count whose steps already take LOSING ×
# the best is dropped at once. A count left out for want of room is timed in the same measurement when the counts
# timed after it found room. Counts within TIE of the fastest: the fewest threads win (more threads must win by
# more than the noise of timing them: they are the ones that collapse when the load changes, though a collapse is
# answered within two steps). The loop then runs on the chosen count and measures again, timing every count anew,
# the one it runs on last: after an interval that starts at MIN_INTERVAL seconds of steps and doubles while the
# choice holds, up to MAX_INTERVAL, and is at least INTERVAL_COST × what the last measurement cost (the time its
# losing counts took beyond the winner's), so these measurements take about 1 %; at once when the median of the
# last WATCH steps is SLOWER × the chosen count's time, or the last two steps both SUDDEN ×; and as soon as other
# programs leave CPUs idle: every IDLE_CHECK seconds of steps a loop on fewer threads than it could use reads the
# idle CPUs and measures when the room serves a larger count and grew by FREE_NEEDED of a CPU since it chose (a
# measurement started so that still chooses fewer threads doubles that period, up to MAX_INTERVAL: a program that
# comes and goes is not chased every second).
PROBE_STEPS, PROBE_SECONDS, LONG_STEP = 2, 0.25, 0.5
FREE_NEEDED, MIN_JIFFIES, LOOK = 0.5, 10, 0.25
LOSING, SLOWER, SUDDEN, TIE, WATCH = 2.0, 1.5, 3.0, 0.05, 8
MIN_INTERVAL, MAX_INTERVAL, INTERVAL_COST, IDLE_CHECK = 10.0, 60.0, 100, 1.0
KEPT_DECISIONS = 20


class ThreadPolicy:
    """The intra-op thread count (torch.set_num_threads) of one computation, set on entering it and restored
    on leaving. A count the user fixed (`requested`, else OMP_NUM_THREADS) is used as it is; a CPU-bound
    computation on one usable CPU, or split among several processes, uses its share. Otherwise a loop of
    like steps, each wrapped in `step()` (or timed by the loop and given to `observe()`), measures: it times a
    few steps on each candidate (one thread, all usable CPUs, and half of them where there are 4 or more) that
    the CPUs other programs leave could serve, keeps the fastest (the fewest threads within TIE of it), and
    measures again after a while, whenever its steps get SLOWER × slower than they were, and as soon as other
    programs leave CPUs idle. A training loop calls `start(look=True)` first, to start on all CPUs when they sit
    idle. A computation that is not a loop stays on one thread. `describe()` is what a run records in run.json.

        with ThreadPolicy(config.threads) as threads:
            for batch in batches:
                with threads.step():
                    train_on(batch)
    """

    def __init__(self, requested: Optional[int] = None, *, device=None, processes: int = 1,
                 cpus: Optional[Cpus] = None, clock=time.perf_counter, inherit: bool = False):
        self.requested = check_threads(requested)
        self.cpus = cpus or usable_cpus()
        self.clock = clock
        self.candidates: list[int] = []
        environment = environment_threads()
        usable = self.cpus.usable
        if inherit:  # a computation inside another one's loop (validation inside training): the caller decides
            self.fixed, self.reason = None, "the caller's thread count"
        elif self.requested is not None:
            self.fixed, self.reason = self.requested, "--threads"
        elif device is not None and getattr(device, "type", device) != "cpu":
            self.fixed, self.reason = None, f"the steps run on {getattr(device, 'type', device)}; CPU threads left as they are"
        elif environment is not None:
            self.fixed, self.reason = environment, f"OMP_NUM_THREADS={environment} in the environment"
        elif processes > 1:
            self.fixed = max(1, usable // processes)
            self.reason = f"{processes} processes share {usable} usable CPU(s)"
        elif usable == 1:
            self.fixed, self.reason = 1, "one usable CPU"
        else:
            self.fixed, self.reason = None, "measured: the fastest of the candidates, timed while the loop runs"
            self.candidates = sorted({1, usable, *([usable // 2] if usable >= 4 else [])})
        self.adaptive = bool(self.candidates)
        self.threads = 1 if self.adaptive else self.fixed  # None: left as it is
        self.saved: Optional[int] = None
        # the measurement's state
        self.steps = 0
        self.probing: list[int] = list(self.candidates)  # still to time in this measurement; the first is timing now
        self.timing = {"seconds": 0.0, "steps": 0, "fresh": True, "spent": 0.0, "all_steps": 0}
        self.results: dict[int, float] = {}  # seconds per step of each count in the current measurement
        self.bound = math.inf  # until some count is timed: the time of the loop's last steps, before it
        self.spent: dict[int, tuple] = {}  # (seconds, steps) each count took in it, uncounted steps included
        self.tried: set[int] = set()
        self.skipped: dict[int, float] = {}  # counts this measurement did not time: too few idle CPUs for them
        self.cpu_set = affinity_set()
        self.idle_mark: Optional[tuple] = None
        self.started_free: Optional[float] = None  # idle CPUs before the first step
        self.started = False
        # the CPUs other programs leave this process: idle CPUs and its own threads, as last counted beside the
        # fewest threads (beside many, this process crowds the others out and they seem to take less)
        self.room: Optional[float] = None
        self.room_beside = MAX_THREADS + 1  # the thread count `room` was counted beside (0: before the first step)
        self.decided_room: Optional[float] = None  # the room when the loop last chose its count
        self.timing_mark: Optional[tuple] = None  # the idle CPUs' reading when the count being timed began
        self.check_mark: Optional[tuple] = None  # the idle CPUs' reading that the next check counts from
        self.since_check, self.check_period = 0.0, IDLE_CHECK
        self.base_interval = self.interval = MIN_INTERVAL
        self.since_probe = 0.0
        self.recent: deque = deque(maxlen=WATCH)
        self.reference: Optional[float] = None
        self.trigger = "start"  # what started the current measurement
        self.measurements = 0
        self.decisions: deque = deque(maxlen=KEPT_DECISIONS)

    # -- entering and leaving

    def __enter__(self) -> "ThreadPolicy":
        import torch

        if self.adaptive or self.fixed is not None:
            self.saved = torch.get_num_threads()
            if self.adaptive:
                self._set(1)  # until a loop starts (a computation that is not a loop stays on one thread)
            else:
                self._set(self.fixed)
        return self

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            import torch

            torch.set_num_threads(self.saved)
            self.saved = None

    def _set(self, threads: int) -> None:
        import torch

        self.threads = threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    # -- the loop

    def start(self, look: bool = False) -> None:
        """A loop begins: set the count its first steps are timed on, one thread or, with `look` (a loop of
        minutes, whose first steps may be slow: training), all CPUs when they sit idle now. `step()` and
        `observe()` call it when it was not called."""
        if not self.adaptive or self.started:
            return
        self.started = True
        self.started_free = self.look() if look else None
        self._note_room(self.started_free, 0)  # this process's own CPU sat idle too
        if self.room is not None and self._serves(self.candidates[-1], self.room):
            self.probing.reverse()  # idle CPUs: the first steps run on all of them
        self.idle_mark = self.idle()
        self._begin(self.probing[0])

    @contextlib.contextmanager
    def step(self):
        """Time one step of the loop; between steps the policy may change the thread count."""
        if not self.adaptive:
            yield
            return
        self.start()
        start = self.clock()
        yield
        self.observe(self.clock() - start)

    def observe(self, seconds: float) -> None:
        """Take the time of one step (for loops that time themselves)."""
        if not self.adaptive:
            return
        if not self.started:  # a loop that did not call start(): its first step ran on one thread
            self.start()
        self.steps += 1
        if self.probing:
            self._probe(seconds)
            return
        self.since_probe += seconds
        self.since_check += seconds
        self.recent.append(seconds)
        freed = self._freed_cpus()
        if freed is not None:
            self._start_probe("idle CPUs", freed)
            return
        # a collapse (another program took a core from many threads) is answered after two steps, not WATCH
        sudden = len(self.recent) >= 2 and min(self.recent[-1], self.recent[-2]) > SUDDEN * self.reference
        if len(self.recent) < WATCH and not sudden:
            return
        slowed = sudden or statistics.median(self.recent) > SLOWER * self.reference
        if slowed or self.since_probe >= self.interval:
            self._start_probe("slower steps" if slowed else "interval")

    def _freed_cpus(self) -> Optional[float]:
        """The idle CPUs of the last IDLE_CHECK seconds or more when they are enough for a larger count and other
        programs have left at least FREE_NEEDED of a CPU more than when the loop chose its count; else None."""
        larger = [c for c in self.candidates if c > self.threads]
        if not larger or self.decided_room is None or self.since_check < self.check_period:
            return None
        now = self.idle()
        if self.check_mark is None or now is None:  # no reading to count from: start one
            self.since_check, self.check_mark = 0.0, now
            return None
        free = self.free_cpus(self.check_mark, now)
        if free is None:  # too short a window to tell: it grows until the next check
            return None
        self.since_check, self.check_mark = 0.0, now
        room = min(self.cpus.usable, free + self.threads)
        return free if self._serves(larger[0], room) and room >= self.decided_room + FREE_NEEDED else None

    def _note_room(self, free: Optional[float], beside: int) -> None:
        """Take the idle CPUs `free` counted while the loop ran `beside` threads (0: before its first step): the
        room they show replaces the one this measurement knows unless that was counted beside fewer threads."""
        if free is not None and beside <= max(1, self.room_beside):
            self.room, self.room_beside = min(float(self.cpus.usable), free + beside), beside

    @staticmethod
    def _serves(threads: int, room: Optional[float]) -> bool:
        """Whether `threads` threads would find cores: the CPUs other programs leave (`room`; None: unknown) are
        this process's own and FREE_NEEDED of one per extra thread."""
        return threads == 1 or room is None or room >= 1 + FREE_NEEDED * (threads - 1)

    def _start_probe(self, trigger: str, free: Optional[float] = None) -> None:
        if trigger == "slower steps":
            self.base_interval = MIN_INTERVAL
        current = self.threads
        # every count is timed again, the one the loop runs on last: its last steps may hold a moment's noise
        # (two slow steps start a measurement) that would make a fewer-thread count win for the whole interval
        self.results, self.spent, self.skipped = {}, {}, {}
        self.probing = [c for c in self.candidates if c != current] + [current]
        self.bound = statistics.median(self.recent)  # what its last steps took: a count that loses to it stops at once
        self.trigger = trigger
        # idle CPUs while the loop ran since the last measurement (or, when they started it, in the last check)
        self.room, self.room_beside = None, MAX_THREADS + 1
        self._note_room(free if free is not None else self.free_cpus(self.idle_mark, self.idle()), current)
        self._next()

    def _next(self) -> None:
        """Time the next count of this measurement, leaving out those that idle CPUs would not serve."""
        while self.probing and not self._serves(self.probing[0], self.room):
            self.skipped[self.probing.pop(0)] = round(max(0.0, self.room - 1), 2)  # idle CPUs beside one thread
        if not self.probing:  # CPUs that came free while it timed the others: what they serve is timed too
            self.probing = [c for c in sorted(self.skipped) if self._serves(c, self.room)]
            for count in self.probing:
                del self.skipped[count]
        if self.probing:
            self._begin(self.probing[0])
        else:
            self._decide()

    def _begin(self, threads: int) -> None:
        fresh = threads not in self.tried and (threads > 1 or self.steps == 0)  # workers to start, or the first step
        self.timing = {"seconds": 0.0, "steps": 0, "fresh": fresh, "spent": 0.0, "all_steps": 0}
        self.tried.add(threads)
        self.timing_mark = self.idle()
        self._set(threads)

    def _probe(self, seconds: float) -> None:
        timing = self.timing
        timing["spent"] += seconds
        timing["all_steps"] += 1
        best = min([self.bound, *self.results.values()])
        # the first step on a new count pays for starting its workers: not counted, unless it already loses
        if timing["fresh"] and seconds <= LOSING * best:
            timing["fresh"] = False
            return
        timing["fresh"] = False
        timing["seconds"] += seconds
        timing["steps"] += 1
        mean = timing["seconds"] / timing["steps"]
        done = timing["seconds"] >= LONG_STEP or (timing["steps"] >= PROBE_STEPS and timing["seconds"] >= PROBE_SECONDS)
        if not (done or mean > LOSING * best):
            return
        measured = self.probing.pop(0)
        self.results[measured] = mean
        self.spent[measured] = (timing["spent"], timing["all_steps"])
        self._note_room(self.free_cpus(self.timing_mark, self.idle()), measured)  # were CPUs idle beside it?
        self._next()

    def _decide(self) -> None:
        best_time = min(self.results.values())
        # the fewest threads whose steps are within TIE of the fastest
        chosen = min(t for t, s in self.results.items() if s <= best_time * (1 + TIE))
        previous = self.decisions[-1]["threads"] if self.decisions else None
        self.measurements += 1
        self.base_interval = min(MAX_INTERVAL, 2 * self.base_interval) if chosen == previous else MIN_INTERVAL
        cost = sum(max(0.0, spent - steps * self.results[chosen])
                   for count, (spent, steps) in self.spent.items() if count != chosen)
        self.interval = max(self.base_interval, INTERVAL_COST * cost)
        decision = {"step": self.steps, "threads": chosen, "why": self.trigger,
                    "ms_per_step": {str(t): round(1e3 * s, 2) for t, s in sorted(self.results.items())}}
        if self.skipped:
            decision["not_timed_idle_cpus"] = {str(t): free for t, free in self.skipped.items()}
        self.decisions.append(decision)
        self.reference = self.results[chosen]
        self.since_probe = 0.0
        self.recent.clear()
        self.idle_mark = self.check_mark = self.idle()
        self.since_check, self.decided_room = 0.0, self.room
        if self.trigger == "idle CPUs":  # idle CPUs that did not make more threads pay are looked at less often
            self.check_period = IDLE_CHECK if chosen > previous else min(MAX_INTERVAL, 2 * self.check_period)
        elif previous is not None and chosen < previous:  # fewer threads now: CPUs coming free are looked for at once
            self.check_period = IDLE_CHECK
        self._set(chosen)

    # -- idle CPUs

    def idle(self) -> Optional[tuple]:
        """(idle, total) clock ticks so far of the CPUs this process may run on; None where unknown."""
        return idle_jiffies(self.cpu_set)

    def look(self) -> Optional[float]:
        """CPUs' worth of idle time while this process waits up to LOOK seconds (its own CPU counts: it is idle too);
        None where unknown."""
        before, deadline = self.idle(), time.monotonic() + LOOK
        while before is not None:
            after = self.idle()
            if after is None or after[1] - before[1] >= MIN_JIFFIES * len(self.cpu_set) or time.monotonic() >= deadline:
                return self.free_cpus(before, after)
            time.sleep(0.01)
        return None

    def free_cpus(self, before: Optional[tuple], after: Optional[tuple]) -> Optional[float]:
        """CPUs' worth of idle time between two readings of `idle()`; None when unknown or too short to tell."""
        if before is None or after is None or after[1] - before[1] < MIN_JIFFIES * len(self.cpu_set):
            return None
        return (after[0] - before[0]) / (after[1] - before[1]) * len(self.cpu_set)

    # -- what a run records

    def describe(self) -> dict:
        import torch

        threads = self.threads if self.threads is not None else torch.get_num_threads()
        figures = {"threads": threads, "requested": self.requested, "cpus": self.cpus.describe(),
                   "policy": "measured" if self.adaptive else "fixed", "reason": self.reason}
        if self.adaptive:
            figures.update({"candidates": self.candidates, "idle_cpus_at_start": self.started_free and round(self.started_free, 2),
                            "measurements": self.measurements,
                            "decisions": list(self.decisions)})
        return figures

