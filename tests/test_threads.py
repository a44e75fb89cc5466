"""The thread policy: the CPUs a process may use (affinity, cgroup quotas), --threads honoured by every command
that computes, the measured choice of a loop, and the choice recorded in run.json. Its speed is measured by
scripts/bench_threads.py, not here."""

import json
import os

import numpy as np
import pytest
import torch
from conftest import run

import seqgen
from seqgen import threads as policy
from seqgen.threads import Cpus, ThreadPolicy, usable_cpus

TINY = ["--embedding-dim", "16", "--hidden-size", "32", "--batch-size", "4", "--bptt", "16", "--eval-interval", "10",
        "--eval-batch-size", "4", "--device", "cpu", "--quiet", "--sample-length", "0"]


@pytest.fixture
def no_environment(monkeypatch):
    """The tests run with OMP_NUM_THREADS=1 (conftest); the policy's own choice needs it unset."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def cgroup(tmp_path, membership: str, files: dict):
    """A fake /sys/fs/cgroup under tmp_path and the /proc/self/cgroup that names this process's group in it."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    root.mkdir(exist_ok=True)
    (tmp_path / "membership").write_text(membership)
    return root, tmp_path / "membership"


def four_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)


def two_cpus(monkeypatch):
    """The simulated machines below have 2 CPUs, whatever the machine running the tests has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)


def test_a_cgroup_v2_quota_limits_the_usable_cpus_below_the_affinity_mask(tmp_path, monkeypatch):
    four_cpus(monkeypatch)
    root, membership = cgroup(tmp_path, "0::/kube/pod\n", {"cpu.max": "max 100000\n",
                                                         "kube/pod/cpu.max": "150000 100000\n"})
    cpus = usable_cpus(root, membership)
    assert (cpus.affinity, cpus.quota, cpus.usable) == (4, 1.5, 1)  # 1.5 CPUs of time: a second thread is throttled


def test_a_limit_on_a_parent_group_holds_for_its_children(tmp_path, monkeypatch):
    four_cpus(monkeypatch)
    root, membership = cgroup(tmp_path, "0::/a/b\n", {"a/cpu.max": "200000 100000", "a/b/cpu.max": "max 100000"})
    assert usable_cpus(root, membership).usable == 2


def test_a_cgroup_v1_cfs_quota_is_read_from_the_cpu_controller(tmp_path, monkeypatch):
    four_cpus(monkeypatch)
    root, membership = cgroup(tmp_path, "5:memory:/docker/x\n4:cpu,cpuacct:/docker/x\n",
                              {"cpu,cpuacct/docker/x/cpu.cfs_quota_us": "300000", "cpu,cpuacct/docker/x/cpu.cfs_period_us":
                               "100000", "cpu,cpuacct/cpu.cfs_quota_us": "-1", "cpu,cpuacct/cpu.cfs_period_us": "100000"})
    assert usable_cpus(root, membership) == Cpus(usable=3, affinity=4, quota=3.0)


def test_without_a_quota_the_affinity_mask_decides(tmp_path, monkeypatch):
    four_cpus(monkeypatch)
    root, membership = cgroup(tmp_path, "0::/\n", {"cpu.max": "max 100000"})
    assert usable_cpus(root, membership) == Cpus(usable=4, affinity=4, quota=None)
    assert usable_cpus(tmp_path / "nothing", tmp_path / "no-membership").usable == 4  # unreadable: no quota


def test_what_the_user_fixed_wins(no_environment, monkeypatch):
    two = Cpus(2, 2)
    assert ThreadPolicy(3, cpus=two).describe()["policy"] == "fixed"
    with ThreadPolicy(3, cpus=two) as fixed:
        assert torch.get_num_threads() == 3
        for _ in range(50):
            with fixed.step():
                pass
        assert torch.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert ThreadPolicy(cpus=two).describe()["reason"] == "OMP_NUM_THREADS=1 in the environment"
    assert ThreadPolicy(2, cpus=two).describe()["threads"] == 2  # --threads over the environment


def test_one_usable_cpu_or_several_processes_fix_the_count(no_environment):
    assert ThreadPolicy(cpus=Cpus(1, 4, 1.0)).describe()["threads"] == 1
    shared = ThreadPolicy(cpus=Cpus(8, 8), processes=4).describe()
    assert (shared["policy"], shared["threads"]) == ("fixed", 2)


def simulate(threads_policy, seconds_per_step, steps):
    """Run `steps` steps whose time is seconds_per_step(step, threads); return the threads each step ran on."""
    used = []
    for step in range(steps):
        used.append(threads_policy.threads)
        threads_policy.observe(seconds_per_step(step, threads_policy.threads))
    return used


def test_a_loop_keeps_the_faster_count_and_follows_a_change_of_load(no_environment, monkeypatch):
    monkeypatch.setattr(policy, "idle_jiffies", lambda cpus, stat=None: None)  # no /proc/stat: idle CPUs unknown
    before = torch.get_num_threads()
    busy = range(1500, 3000)  # another program takes a core: two threads now wait on each other

    def seconds(step, threads):
        return 0.030 if threads == 1 else (0.300 if step in busy else 0.020)

    with ThreadPolicy(cpus=Cpus(2, 2)) as measured:
        used = simulate(measured, seconds, 6000)
        assert torch.get_num_threads() == measured.threads
    assert torch.get_num_threads() == before  # restored on leaving
    assert used[0] == 1  # a loop that cannot see idle CPUs starts on one thread
    assert used[1000:1500].count(2) == 500  # quiet: the two threads that are faster
    assert used[1500:1520].index(1) < 12  # busy: one thread within a few steps of the change,
    assert used[1500:3000].count(2) < 20  # and two only for a step of each new measurement
    back = used.index(2, 3000)  # quiet again: two threads once it measured again, at its next interval
    assert back - 3000 < policy.MAX_INTERVAL / 0.030
    assert used[back + 10:].count(1) < 0.03 * len(used[back + 10:])  # one thread only to time it
    record = measured.describe()
    assert record["policy"] == "measured" and record["candidates"] == [1, 2]
    assert {d["threads"] for d in record["decisions"]} == {1, 2}
    assert any(d["why"] == "slower steps" for d in record["decisions"])
    # measuring and following two changes of load in three minutes, blind to idle CPUs, cost less than a tenth
    total = sum(seconds(step, t) for step, t in enumerate(used))
    best = sum(min(seconds(step, 1), seconds(step, 2)) for step in range(6000))
    assert total < 1.10 * best


@pytest.mark.slow
def test_train_records_its_thread_choice_and_honours_threads(corpus_file, tmp_path, no_environment, monkeypatch):
    four_cpus(monkeypatch)
    root, membership = cgroup(tmp_path, "0::/box\n", {"box/cpu.max": "250000 100000"})
    monkeypatch.setattr(policy, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(policy, "CGROUP_MEMBERSHIP", str(membership))
    result = run("train", "--corpus", corpus_file, "--max-steps", 6, "--output-dir", tmp_path, "--name", "auto", *TINY)
    assert result.exit_code == 0, result.output
    chosen = json.loads((tmp_path / "auto" / "run.json").read_text())["threads"]
    assert chosen["cpus"] == {"usable": 2, "affinity": 4, "cgroup_quota": 2.5}
    assert chosen["policy"] == "measured" and chosen["candidates"] == [1, 2] and chosen["requested"] is None

    seen = []
    step = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: seen.append(torch.get_num_threads())
                        or step(self, *a, **k))
    result = run("train", "--corpus", corpus_file, "--max-steps", 6, "--output-dir", tmp_path, "--name", "three",
                 "--threads", 3, *TINY)
    assert result.exit_code == 0, result.output
    assert seen == [3] * 6
    chosen = json.loads((tmp_path / "three" / "run.json").read_text())["threads"]
    assert (chosen["threads"], chosen["requested"], chosen["policy"], chosen["reason"]) == (3, 3, "fixed", "--threads")
    assert json.loads((tmp_path / "three" / "run.json").read_text())["train_config"]["threads"] == 3

    # a resume may run on another number of threads
    result = run("train", "--resume", tmp_path / "three", "--max-steps", 8, "--threads", 1, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "three" / "run.json").read_text())["threads"]["threads"] == 1


def counts_while(monkeypatch):
    """The thread counts torch had while each ThreadPolicy was entered (the verbs' computations)."""
    seen = []
    enter = ThreadPolicy.__enter__

    def recording(self):
        entered = enter(self)
        seen.append(torch.get_num_threads())
        return entered

    monkeypatch.setattr(ThreadPolicy, "__enter__", recording)
    return seen


@pytest.mark.slow
def test_every_language_model_command_honours_threads(corpus_file, tmp_path, monkeypatch):
    assert run("train", "--corpus", corpus_file, "--max-steps", 4, "--output-dir", tmp_path, "--name", "r",
               *TINY).exit_code == 0
    before = torch.get_num_threads()
    for command in (["sample", tmp_path / "r", "--length", 20, "--seed", 1],
                    ["evaluate", tmp_path / "r"],
                    ["inspect", tmp_path / "r", "--text", "the quick brown fox"]):
        seen = counts_while(monkeypatch)
        result = run(*command, "--threads", 3)
        assert result.exit_code == 0, result.output
        assert seen and set(seen) == {3}, command
        assert torch.get_num_threads() == before
        monkeypatch.undo()
    model = seqgen.load(tmp_path / "r", threads=3)
    pieces = model.stream(length=5, seed=1)
    next(pieces), next(pieces)
    assert torch.get_num_threads() == 3  # while the stream is drawn
    list(pieces)
    assert torch.get_num_threads() == before
    text = seqgen.load(tmp_path / "r").generate(length=30, seed=4, threads=1)
    assert text == seqgen.load(tmp_path / "r", threads=3).generate(length=30, seed=4)  # the count never changes the text


@pytest.mark.slow
def test_the_ensembles_and_their_commands_follow_the_policy(tmp_path, monkeypatch):
    from test_classify import FAST as CLASSIFY_FAST
    from test_classify import two_classes

    airline = seqgen.__file__.replace("__init__.py", "data/airline.csv")
    result = run("train", "--task", "forecast", "--corpus", airline, "--epochs", 3, "--ensemble", 2, "--hidden-size", 8,
                 "--output-dir", tmp_path, "--name", "f", "--threads", 2, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "f" / "run.json").read_text())["threads"]["threads"] == 2
    train = tmp_path / "TRAIN.txt"
    train.write_text(two_classes(20, 0))
    result = run("train", "--task", "classify", "--corpus", train, "--output-dir", tmp_path, "--name", "c",
                 *CLASSIFY_FAST)
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "c" / "run.json").read_text())["threads"]
    assert recorded["reason"] == "OMP_NUM_THREADS=1 in the environment" and recorded["threads"] == 1
    for command in (["forecast", tmp_path / "f"], ["evaluate", tmp_path / "f"], ["inspect", tmp_path / "f"],
                    ["classify", tmp_path / "c", train], ["inspect", tmp_path / "c", "--text", "0.1 0.5 0.9"]):
        seen = counts_while(monkeypatch)
        result = run(*command, "--threads", 3)
        assert result.exit_code == 0, result.output
        assert seen and set(seen) == {3}, command
        monkeypatch.undo()
    forecast = seqgen.load(tmp_path / "f", threads=2).forecast()
    assert np.allclose([r["forecast"] for r in forecast], [r["forecast"] for r in seqgen.load(tmp_path / "f").forecast()])


@pytest.mark.slow
def test_translate_honours_threads_and_its_validation_keeps_the_training_count(tmp_path, monkeypatch):
    pairs = tmp_path / "p.tsv"
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("cat", "dog", "bird", "fish", "cow", "hen") * 4))
    seen = []
    from seqgen.tasks.translate.translate import Translator

    translate = Translator.translate
    monkeypatch.setattr(Translator, "translate", lambda self, *a, **k: seen.append(torch.get_num_threads())
                        or translate(self, *a, **k))
    result = run("train", "--task", "translate", "--corpus", pairs, "--embedding-dim", 8, "--hidden-size", 8,
                 "--batch-size", 4, "--max-steps", 4, "--eval-interval", 2, "--threads", 2, "--device", "cpu",
                 "--quiet", "--sample-length", 0, "--output-dir", tmp_path, "--name", "t")
    assert result.exit_code == 0, result.output
    assert seen == [2, 2]  # validation decodes on the training loop's threads
    monkeypatch.undo()
    seen = counts_while(monkeypatch)
    result = run("translate", tmp_path / "t", "cat", "--threads", 3)
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {3}


def test_more_threads_are_not_timed_while_no_cpu_sits_idle(no_environment, monkeypatch):
    ticks = {"idle": 0, "total": 0}

    def busy_machine(cpus, stat=None):  # every tick of both CPUs busy: ours, and another program's
        ticks["total"] += 100
        return ticks["idle"], ticks["total"]

    monkeypatch.setattr(policy, "idle_jiffies", busy_machine)
    with ThreadPolicy(cpus=Cpus(2, 2)) as measured:
        used = simulate(measured, lambda step, threads: 0.030 if threads == 1 else 0.500, 3000)
    record = measured.describe()
    first = record["decisions"][0]
    assert first["threads"] == 1 and first["not_timed_idle_cpus"] == {"2": 0.0}
    assert used.count(2) == 0 and record["measurements"] > 3  # never paid for a step on two threads


def test_two_slow_steps_do_not_send_a_loop_to_fewer_threads(no_environment, monkeypatch):
    monkeypatch.setattr(policy, "idle_jiffies", lambda cpus, stat=None: None)
    quiet = lambda step, threads: 0.030 if threads == 1 else 0.020  # noqa: E731
    with ThreadPolicy(cpus=Cpus(2, 2)) as first:
        simulate(first, quiet, 200)
    chosen_at = first.decisions[0]["step"]
    hiccup = {chosen_at, chosen_at + 1}  # the machine stalls for the two steps right after the loop chose two threads
    with ThreadPolicy(cpus=Cpus(2, 2)) as measured:
        used = simulate(measured, lambda step, threads: 0.200 if step in hiccup else quiet(step, threads), 2000)
    assert [d["threads"] for d in measured.decisions][:2] == [2, 2]  # timed again, two threads still win
    assert measured.decisions[1]["why"] == "slower steps"
    assert used[chosen_at + 40:].count(1) < 40  # one thread only to time it


def test_a_computation_that_is_not_a_loop_runs_on_one_thread_at_once(no_environment, monkeypatch):
    readings = []
    monkeypatch.setattr(policy, "idle_jiffies", lambda cpus, stat=None: readings.append(1) or (0, 100 * len(readings)))
    with ThreadPolicy(cpus=Cpus(2, 2)) as measured:
        assert torch.get_num_threads() == 1 and readings == []  # no look at the CPUs, no wait
    assert measured.describe()["threads"] == 1


@pytest.mark.parametrize("busy_cpus, first", [(0.0, 2), (1.0, 1), (0.6, 1)])
def test_a_loop_starts_on_all_cpus_only_when_they_sit_idle(no_environment, monkeypatch, busy_cpus, first):
    clock = {"ticks": 0, "idle": 0.0}

    def jiffies(cpus, stat=None):  # each reading 10 ticks of 2 CPUs later; `busy_cpus` of them held by another program
        clock["ticks"] += 10
        clock["idle"] += (2 - busy_cpus) * 5
        return int(clock["idle"]), clock["ticks"]

    monkeypatch.setattr(policy, "idle_jiffies", jiffies)
    two_cpus(monkeypatch)
    with ThreadPolicy(cpus=Cpus(2, 2)) as measured:
        measured.start(look=True)  # a training loop looks before its first step
        used = simulate(measured, lambda step, threads: 0.030 if threads == 1 else 0.020, 100)
    assert used[0] == first
    assert measured.describe()["idle_cpus_at_start"] == pytest.approx(2 - busy_cpus, abs=0.11)


def run_on_a_shared_machine(monkeypatch, two_threads_quiet: float, until: float = 40.0, busy=(0.0, 20.0)):
    """A 2-CPU machine where another program holds a core from busy[0] to busy[1] seconds: one thread's step takes
    30 ms, two threads' 500 ms while the program runs and `two_threads_quiet` otherwise. /proc/stat's idle ticks
    follow the simulated time. Returns (time, threads) of every step and the policy's record."""
    two_cpus(monkeypatch)
    machine = {"time": 0.0, "idle": 0.0}
    monkeypatch.setattr(policy, "idle_jiffies", lambda cpus, stat=None: (int(machine["idle"]), int(machine["time"] * 200)))
    used = []
    with ThreadPolicy(cpus=Cpus(2, 2)) as measured:
        measured.start(look=True)
        while machine["time"] < until:
            threads, competitor = measured.threads, busy[0] <= machine["time"] < busy[1]
            seconds = 0.030 if threads == 1 else (0.500 if competitor else two_threads_quiet)
            machine["idle"] += max(0, 2 - threads - competitor) * seconds * 100  # 100 ticks a CPU-second
            machine["time"] += seconds
            used.append((machine["time"], threads))
            measured.observe(seconds)
    return used, measured.describe()


def test_more_threads_are_timed_as_soon_as_cpus_come_free(no_environment, monkeypatch):
    used, record = run_on_a_shared_machine(monkeypatch, two_threads_quiet=0.020)
    assert all(threads == 1 for time, threads in used if time < 20.0)  # never a 500 ms step while the core was taken
    back = min(time for time, threads in used if threads == 2)
    assert 20.0 < back < 22.5  # two threads within the second or two it takes to see the core idle, not at the
    assert any(d["why"] == "idle CPUs" and d["threads"] == 2 for d in record["decisions"])  # next interval (30 s)
    after = [threads for time, threads in used if time > back]
    assert after.count(2) > 0.95 * len(after)  # one thread again only to time it now and then


def test_after_a_program_came_and_went_more_threads_are_back_within_seconds(no_environment, monkeypatch):
    used, record = run_on_a_shared_machine(monkeypatch, two_threads_quiet=0.020, busy=(10.0, 27.0))
    assert all(threads == 2 for time, threads in used if 1.0 < time < 10.0)  # quiet: two threads
    assert sum(threads == 2 for time, threads in used if 11.0 < time < 27.0) < 10  # one thread soon after it came
    back = min(time for time, threads in used if time > 27.0 and threads == 2)
    assert back < 29.5  # and two again within seconds of its leaving, not at the next interval
    assert any(d["why"] == "idle CPUs" for d in record["decisions"])


def test_idle_cpus_that_do_not_make_more_threads_pay_are_not_chased(no_environment, monkeypatch):
    used, record = run_on_a_shared_machine(monkeypatch, two_threads_quiet=0.045)  # two threads slower even when idle
    assert [d["why"] for d in record["decisions"]].count("idle CPUs") == 1  # timed once with the CPUs idle
    assert sum(threads == 2 for time, threads in used if time > 20.0) < 20


def test_subword_training_uses_the_cpus_this_process_may_use(monkeypatch):
    import sentencepiece

    from seqgen.tokenizers import fit_tokenizer
    from seqgen.tokenizers import sentencepiece as ours

    seen = {}
    train = sentencepiece.SentencePieceTrainer.train
    monkeypatch.setattr(ours, "usable_cpus", lambda: Cpus(usable=1, affinity=64, quota=1.0))  # a 1-CPU container
    monkeypatch.setattr(sentencepiece.SentencePieceTrainer, "train",
                        lambda **options: seen.update(options) or train(**options))
    fit_tokenizer("bpe", "the quick brown fox jumps over the lazy dog\n" * 50, 300)
    assert seen["num_threads"] == 1
