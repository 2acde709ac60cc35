"""A dying worker costs one file, not the run; Ctrl-C and SIGTERM stop every worker and leave no file."""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager

import psutil
import pytest
from PIL import Image, PngImagePlugin
from planted import build_planted_folder

import dupbench.detector.compare
import dupbench.detector.load
import dupbench.detector.verify
from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.pipeline import WORKER_DIED, find_duplicates
from dupbench.execution.tasks import WorkerCrashes


def crash_on_marked_files(data: bytes, *args, **kwargs):
    if b"CRASH-ME" in data:
        os._exit(139)  # what a segfaulting decoder looks like to the pool
    return REAL_DECODE(data, *args, **kwargs)


REAL_DECODE = dupbench.detector.load.decode_colour


@pytest.mark.parametrize("workers", [1, 2])
def test_worker_death_skips_that_file_rebuilds_the_pool_and_finishes(planted_folder, tmp_path, monkeypatch, workers):
    root, expected = planted_folder
    marked = tmp_path / "evil.png"
    image = Image.new("L", (8, 8))
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", "CRASH-ME")
    image.save(marked, pnginfo=text)  # a valid PNG, so the decoder is reached
    monkeypatch.setattr(dupbench.detector.load, "decode_colour", crash_on_marked_files)  # fork workers inherit it
    report = find_duplicates([str(root), str(tmp_path)], DetectorConfig(), ExecutionConfig("process", workers, "fork"))
    assert report.group_sets() == {frozenset(g) for g in expected}
    assert [(s.path, s.reason) for s in report.skipped] == [(str(marked), WORKER_DIED)]


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    for copy in range(20):  # different sizes, so no set is an exact copy of another: real SSIM work
        build_planted_folder(root / f"set{copy}", width=150 + 7 * copy)
    return root


def default_sigint() -> None:
    """In the child before exec: a shell starts background jobs with Ctrl-C ignored (POSIX), and a run that
    inherits that rightly ignores it; these tests are about a run that Ctrl-C reaches."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("mode", ["process", "thread", "serial"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_run_leaving_no_process_and_no_output(big_folder, tmp_path, mode, sig):
    output = tmp_path / "out.json"
    command = [
        sys.executable,
        "-m",
        "dupbench",
        "run",
        str(big_folder),
        "--mode",
        mode,
        "--workers",
        "2",
        "--pairs",
        "all",
        "--thumb-size",
        "128",
        "--output",
        str(output),
        "--quiet",
    ]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 20
    seen: dict[int, psutil.Process] = {}
    while time.monotonic() < deadline and child.poll() is None:
        seen.update((p.pid, p) for p in tree(child.pid))
        if mode != "process" or len([p for p in seen.values()]) >= 2:
            break
        time.sleep(0.05)
    time.sleep(1.5)  # well into the work (imports alone can take a second on a busy machine)
    seen.update((p.pid, p) for p in tree(child.pid))
    assert child.poll() is None, "the run finished before it could be interrupted"
    child.send_signal(sig)
    try:
        status = child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail("the run did not stop within 10 s")
    stderr = child.stderr.read()
    assert status == 130 and "interrupted" in stderr and "Traceback" not in stderr
    time.sleep(1)
    alive = [p for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert not output.exists() and list(tmp_path.iterdir()) == []


MARKER_DIR: list[str] = []  # set by each test before the fork: where die_once leaves its marker


def die_once(real: Callable) -> Callable:
    """`real`, except that the first call in any worker kills that worker (a marker file makes it once)."""

    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        try:
            os.close(os.open(os.path.join(MARKER_DIR[0], f"died-{real.__name__}"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return real(*args, **kwargs)
        os._exit(137)  # what the OOM killer's SIGKILL looks like to the pool

    return wrapper


def die_always(*args, **kwargs):
    os._exit(137)


REAL_TILE_CANDIDATES = dupbench.detector.compare.tile_candidates


def tile_candidates_dying_once(*args, **kwargs):
    """Module level, so the partial the parent builds around it pickles by reference."""
    return die_once(REAL_TILE_CANDIDATES)(*args, **kwargs)


@pytest.mark.parametrize(
    "pairs, module, name",
    [
        ("all", dupbench.detector.compare, "match_many_to_many"),  # the compare tiles of --pairs all
        ("pruned", dupbench.detector.compare, "match_pairs"),  # the candidate chunks of --pairs pruned
        ("pruned", dupbench.detector.compare, "tile_candidates"),  # the prefilter's signature tiles
        ("all", dupbench.detector.verify, "gather_evidence"),  # the verification of matched pairs
        ("all", dupbench.detector.load, "pixel_digest_with_alpha"),  # the full-resolution pixel checks
    ],
)
def test_worker_killed_in_compare_prefilter_or_pixel_checks_is_retried_and_the_run_completes(planted_folder, tmp_path, monkeypatch, pairs, module, name):
    root, expected = planted_folder
    MARKER_DIR[:] = [str(tmp_path)]
    replacement = tile_candidates_dying_once if name == "tile_candidates" else die_once(getattr(module, name))
    monkeypatch.setattr(module, name, replacement)  # fork workers inherit it
    report = find_duplicates([str(root)], DetectorConfig(pairs=pairs), ExecutionConfig("process", 2, "fork"))
    assert (tmp_path / f"died-{'tile_candidates' if name == 'tile_candidates' else name}").exists(), "no worker died: the test tested nothing"
    assert report.group_sets() == {frozenset(g) for g in expected}
    assert report.skipped == []


def test_a_compare_task_that_always_kills_its_worker_fails_the_run_with_a_clear_message(planted_folder, monkeypatch):
    root, _ = planted_folder
    monkeypatch.setattr(dupbench.detector.compare, "match_many_to_many", die_always)
    with pytest.raises(WorkerCrashes, match=r"score_tile task killed its worker process 4 times"):
        find_duplicates([str(root)], DetectorConfig(pairs="all"), ExecutionConfig("process", 2, "fork"))


def test_the_cli_reports_a_task_that_keeps_killing_workers_without_a_traceback(planted_folder, monkeypatch, capsys):
    from dupbench.cli import main

    root, _ = planted_folder
    monkeypatch.setattr(dupbench.detector.compare, "match_many_to_many", die_always)
    assert main(["run", str(root), "--mode", "process", "--start-method", "fork", "--pairs", "all", "--no-cache", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "killed its worker process" in err and "Traceback" not in err


def start_run(folder, start_method: str) -> tuple[subprocess.Popen, dict[int, psutil.Process]]:
    """A process-mode run in a child, returned once its pool is up (every helper process seen)."""
    command = [
        sys.executable,
        "-m",
        "dupbench",
        "run",
        str(folder),
        "--mode",
        "process",
        "--workers",
        "2",
        "--start-method",
        start_method,
        "--pairs",
        "all",
        "--thumb-size",
        "128",
        "--no-cache",
        "--quiet",
    ]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    wanted = {"fork": 2, "forkserver": 4, "spawn": 3}[start_method]  # workers, plus tracker and server
    seen: dict[int, psutil.Process] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and child.poll() is None and len(seen) < wanted:
        seen.update((p.pid, p) for p in tree(child.pid))
        time.sleep(0.02)
    assert len(seen) >= wanted, f"the pool did not start: {seen}"
    return child, seen


def running(processes) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("start_method", ["forkserver", "fork", "spawn"])
def test_kill_9_of_the_run_leaves_no_process_behind(big_folder, start_method):
    child, seen = start_run(big_folder, start_method)
    time.sleep(0.3)  # in the load stage
    seen.update((p.pid, p) for p in tree(child.pid))
    assert child.poll() is None, "the run finished before it could be killed"
    child.kill()  # SIGKILL, as the OOM killer sends: no Python code runs in the parent
    child.wait()
    deadline = time.monotonic() + 5
    while running(seen.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = running(seen.values())
    for process in left:
        process.kill()
    assert left == [], f"still running 5 s after the run was killed: {[p.cmdline()[:3] for p in left]}"


PR_SET_CHILD_SUBREAPER = 36


@contextmanager
def as_subreaper():
    """Orphans of our children become ours, and we do not reap them: a PID 1 that does not reap."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_ctrl_c_joins_every_process_so_none_is_left_a_zombie(big_folder, start_method):
    with as_subreaper():
        child, seen = start_run(big_folder, start_method)
        time.sleep(1.5)  # well into the work, as in the signal test above
        seen.update((p.pid, p) for p in tree(child.pid))
        assert child.poll() is None, "the run finished before it could be interrupted"
        child.send_signal(signal.SIGINT)
        try:
            status = child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for process in [child, *seen.values()]:
                process.kill()
            pytest.fail("the run did not stop within 15 s of Ctrl-C")
        stderr = child.stderr.read()
        assert status == 130, stderr
        time.sleep(0.5)
        orphans = [p for p in psutil.Process().children() if p.pid in seen]
        for process in orphans:  # reap them here, so a failure leaves nothing behind either
            process.kill()
            os.waitpid(process.pid, 0)
    assert "Traceback" not in stderr, stderr
    assert orphans == [], "processes outlived the run (zombies under a PID 1 that does not reap)"


@pytest.fixture
def ctrl_c_reaches_us():
    """Python's own SIGINT handler, as in an interactive session: pytest started as a background job
    inherits Ctrl-C ignored, and the command rightly leaves that alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_the_command_gives_the_callers_signal_handlers_back(ctrl_c_reaches_us):
    def callers_own(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, callers_own)
    try:
        from dupbench.cli import main

        with pytest.raises(SystemExit):
            main(["run", "--help"])
        assert signal.getsignal(signal.SIGTERM) is callers_own
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ctrl_c_ignored_by_the_caller_stays_ignored():
    from dupbench.cli import interrupts_unwind

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts_unwind():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_code_of_forked_copy_signalled(signum: int, reset_in_child: bool = True) -> int:
    """Fork, as a pool does, and signal the copy before it has done anything of its own: its exit code
    (negative: ended by that signal), or 1 if the signal raised in the copy of this stack (a copy that
    would run the command on)."""
    from dupbench import cli

    with cli.interrupts_unwind():
        if not reset_in_child:
            cli._TAKEN.clear()  # as if the signal came between the fork and the child's reset
        pid = os.fork()
        if pid == 0:
            try:
                os.kill(os.getpid(), signum)
                time.sleep(1)
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_forked_copy_exits_on_a_signal_instead_of_running_the_command_on(sig, ctrl_c_reaches_us):
    assert exit_code_of_forked_copy_signalled(sig) == -sig  # the default action, as if no handler had been set


def test_a_copy_signalled_before_it_gets_the_defaults_back_exits_too(ctrl_c_reaches_us):
    assert exit_code_of_forked_copy_signalled(signal.SIGTERM, reset_in_child=False) == 128 + signal.SIGTERM


def test_in_the_run_itself_sigterm_unwinds_like_ctrl_c():
    from dupbench.cli import interrupts_unwind

    with interrupts_unwind(), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)


def test_from_another_thread_a_forked_copy_still_gets_ctrl_c_default_action(ctrl_c_reaches_us):
    import threading

    codes: list[int] = []
    caller = threading.Thread(target=lambda: codes.append(exit_code_of_forked_copy_signalled(signal.SIGINT)))
    caller.start()
    caller.join()
    assert codes == [-signal.SIGINT]
