"""`dupbench gil`: parse arguments, call the plain functions, write the results.

With ``--python A --python B`` the same measurement is re-run under each interpreter as a subprocess
(``python -m dupbench.gil --json``, which imports nothing of the detector that could re-enable the GIL
or need OpenCV), taking turns one repeat per round so background load on a shared machine hits every
interpreter alike, and the merged runs are put side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dupbench
from dupbench.exit_status import EXIT_FAILED, EXIT_OK
from dupbench.gil.interpreter import machine_info, machine_slug

# Kept in step with dupbench.gil.demo (imported lazily there, with numpy and psutil).
DEFAULT_REPEATS = 3
DEFAULT_KERNEL_SECONDS = 1.0

SCHEMA_MULTI = "dupbench.gil-compare/1"

DESCRIPTION = """\
Watch the GIL at work. The same amount of work runs serially, in a thread pool and in a process
pool (for each worker count in --workers), and the wall time, speed-up over serial and CPU cores
busy are printed per kernel, with a paragraph explaining what the numbers show.

Kernels, each standing for a stage of the duplicate detector:
  pure_python  a per-pixel Python loop: holds the GIL, so threads cannot run it in parallel
               (on a GIL build); processes can, and so can threads on a free-threaded build
  decode       JPEG/PNG decode (OpenCV, or Pillow where OpenCV is missing): C, GIL released
  resize       grayscale + area resize to a 64x64 thumbnail: C, GIL released
  ssim         the detector's batched SSIM (numpy + OpenCV box filter): mostly GIL released
  hash         blake2b of an 8 MB buffer: hashlib releases the GIL for large buffers
  io_wait      reading a file behind a SIMULATED slow disk (a 10 ms sleep): waiting needs no core
Process-pool overheads are measured too: start-up per start method (fork, forkserver, spawn) and the
cost of sending a task 10 kB-10 MB by pickling vs multiprocessing.shared_memory.

Each kernel's task count is calibrated so that its serial pass takes about 1 s here (--scale multiplies
that); the pools have as many workers as usable cores (--workers changes it), and each configuration is
timed 3 times (--repeats). At these defaults a run took 2 min 44 s (overheads included) on a shared 2-core
machine with a load average of 11, under nice -n 10, where it got 0.4 of a core; by its work budget (6
kernels x ~2.2 s of passes x 3 repeats, plus start-up measurements) expect about a minute on a quiet 2-core
machine (an estimate, not measured). A verdict of "busy" means another program had the cores: run again. --live draws per-core bars while each kernel runs
(docs/lesson-gil.md is a lesson built on it).

Process pools are started before the clock runs; the rows show how well the work itself runs in
parallel. CPU cores busy is the CPU time of the whole process tree over exactly the timed interval,
divided by its wall time. The machine may be shared: read medians and ratios, not single numbers.
"""

EPILOG = """\
examples:
  dupbench gil                                  # this interpreter, one pool per mode the size of the cores
  dupbench gil --kernels pure_python,hash --live # watch the cores: one busy with threads, all with processes
  dupbench gil --scale 0.05 --repeats 1 --no-overheads   # a quick check that it runs (seconds)
  dupbench gil --python experiments/freethreaded/.build/gil/venv/bin/python --python experiments/freethreaded/.build/ft/venv/bin/python
                                                # GIL build vs free-threaded build, side by side
  python -m dupbench.gil --json                 # one run as JSON on stdout (what --python uses)
"""


def parse_workers(text: str) -> tuple[int, ...]:
    try:
        workers = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--workers takes integers like 1,2,4, got {text!r}") from None
    if not workers or min(workers) < 1:
        raise argparse.ArgumentTypeError("--workers needs at least one count, each >= 1")
    return tuple(sorted(set(workers)))


def parse_tasks(text: str) -> tuple[tuple[str, int], ...]:
    try:
        pairs = tuple((name.strip(), int(count)) for name, count in (part.split("=") for part in text.split(",") if part.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--tasks takes NAME=N,... like pure_python=96, got {text!r}") from None
    if any(count < 1 for _, count in pairs):
        raise argparse.ArgumentTypeError("--tasks counts must be >= 1")
    return pairs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=parse_workers, default=None, metavar="N,N,...", help="pool sizes to try (default: one pool the size of the usable cores, at least 2)"
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PATH",
        help="run under this interpreter (repeatable); interpreters take turns, one repeat per round, and the results are put side by side",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where results.json, gil.png and summary.txt go (default results/gil/<machine>/<timestamp>-<commit>)",
    )
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help=f"timed repeats per configuration (median; default {DEFAULT_REPEATS})")
    parser.add_argument("--kernels", default=None, metavar="NAME,...", help="subset of kernels to run")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help=f"multiply every kernel's work: a serial pass is calibrated to about {DEFAULT_KERNEL_SECONDS:g} s x SCALE here (0.05 for a quick check)",
    )
    parser.add_argument(
        "--tasks", type=parse_tasks, default=(), metavar="NAME=N,...", help="fixed task counts instead of calibrating (what --python passes on)"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="draw per-core CPU use as bars while each kernel runs (for a class; the sampling costs a little CPU, so keep the recorded numbers from a run without it)",
    )
    parser.add_argument(
        "--start-method", default="fork", choices=("fork", "forkserver", "spawn"), help="process pool start method for the kernel runs (default fork)"
    )
    parser.add_argument("--backend", choices=("cv2", "pillow"), default=None, help="decode/resize with OpenCV or Pillow (default: OpenCV if importable)")
    parser.add_argument("--no-overheads", action="store_true", help="skip pool start-up and payload measurements")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="RESULTS_JSON",
        help="measure nothing: rewrite summary.txt, gil.png and the explanations of an existing results.json (into --out, default its own directory)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one run's results as JSON on stdout instead of the human text; progress goes to stderr and no files are written (--out is not used)",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "gil",
        help="show which work the GIL serialises: serial vs threads vs processes",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run_gil_command)
    return parser


def _child_arguments(args: argparse.Namespace, overheads: bool, tasks: Sequence[tuple[str, int]] = ()) -> list[str]:
    """Options for one round in a child interpreter: one repeat, overheads only when asked."""
    argv = ["--json", "--workers", ",".join(map(str, workers_of(args))), "--repeats", "1", "--scale", str(args.scale), "--start-method", args.start_method]
    if tasks:
        argv += ["--tasks", ",".join(f"{name}={count}" for name, count in tasks)]
    if args.kernels:
        argv += ["--kernels", args.kernels]
    if args.backend:
        argv += ["--backend", args.backend]
    if args.no_overheads or not overheads:
        argv.append("--no-overheads")
    return argv


def run_interleaved(args: argparse.Namespace, log: Any, on_pass: Any = None) -> tuple[list[dict[str, Any]], bool]:
    """Each interpreter runs one repeat per round, in turn; rounds are merged per interpreter.

    Alternating spreads the shared machine's bursts of background load over all interpreters, so their
    medians stay comparable. The first round calibrates the task counts; every later round and every
    interpreter runs those same counts. Returns the merged runs and whether any interpreter failed.
    """
    from dupbench.gil.demo import merge_rounds
    from dupbench.gil.explain import explain, stage_table

    # Keyed by position: the same interpreter may be given twice (e.g. with different environments).
    parts: list[list[dict[str, Any]]] = [[] for _ in args.python]
    failed: set[int] = set()
    tasks: tuple[tuple[str, int], ...] = tuple(args.tasks)
    for round_index in range(args.repeats):
        for index, python in enumerate(args.python):
            if index in failed:
                continue
            log(f"== round {round_index + 1}/{args.repeats} under {python}")
            if on_pass is not None:
                on_pass(f"round {round_index + 1}/{args.repeats} under {python} (all kernels and modes)")
            try:
                parts[index].append(run_in_interpreter(python, _child_arguments(args, round_index == 0, tasks)))
                tasks = tasks or tuple((k["name"], k["tasks"]) for k in parts[index][-1]["kernels"])
            except (OSError, RuntimeError, json.JSONDecodeError) as exc:
                log(f"dupbench gil: {python} failed: {exc}")
                failed.add(index)
    runs = []
    for index, python_parts in enumerate(parts):
        if index in failed or not python_parts:
            continue
        run = merge_rounds(python_parts)
        run["command"] = sys.argv
        run["explanation"] = explain(run)
        run["stages"] = stage_table(run)
        runs.append(run)
    return runs, bool(failed)


def run_in_interpreter(python: str, argv: Sequence[str]) -> dict[str, Any]:
    """Run ``python -m dupbench.gil`` with this checkout first on its path; parse its JSON."""
    source_root = str(Path(dupbench.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    completed = subprocess.run([python, "-m", "dupbench.gil", *argv], stdout=subprocess.PIPE, env=env, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{python} exited with status {completed.returncode}")
    return json.loads(completed.stdout)


def workers_of(args: argparse.Namespace) -> tuple[int, ...]:
    from dupbench.gil.demo import default_workers

    return tuple(args.workers) if args.workers else default_workers()


def run_local(args: argparse.Namespace, log: Any, on_pass: Any = None) -> dict[str, Any]:
    from dupbench.gil.demo import DemoConfig, run_demo
    from dupbench.gil.explain import explain, stage_table
    from dupbench.gil.kernels import KERNELS, default_backend

    config = DemoConfig(
        workers=workers_of(args),
        repeats=args.repeats,
        kernels=tuple(args.kernels.split(",")) if args.kernels else tuple(KERNELS),
        start_method=args.start_method,
        backend=args.backend or default_backend(),
        task_scale=args.scale,
        overheads=not args.no_overheads,
        fixed_tasks=tuple(args.tasks),
    )
    results = run_demo(config, log=log, command=sys.argv, on_pass=on_pass)
    results["explanation"] = explain(results)
    results["stages"] = stage_table(results)
    return results


def rerender(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recompute the derived text and tables of measured runs (explanations are pure functions).

    Records from before kernels declared ``uses_backend`` named a backend for every kernel; the name is
    dropped where the kernel's code does not depend on it, so comparisons do not cite it.
    """
    from dupbench.gil.explain import explain, stage_table
    from dupbench.gil.kernels import KERNELS

    rendered = []
    for run in runs:
        kernels = [{**k, "backend": k.get("backend") if k["name"] not in KERNELS or KERNELS[k["name"]].uses_backend else None} for k in run["kernels"]]
        run = {**run, "kernels": kernels}
        rendered.append({**run, "explanation": explain(run), "stages": stage_table(run)})
    return rendered


def default_out_dir(root: Path = Path("results") / "gil") -> Path:
    info = machine_info()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return root / machine_slug(info) / f"{stamp}-{info['git_commit'] or 'nogit'}"


def _wrap(text: str, width: int = 100) -> str:
    import textwrap

    return "\n".join(textwrap.fill(part, width) for part in text.split("\n"))


def _logger(live: Any) -> Any:
    """Progress to stderr, or above the live bars so they stay in place."""

    def log(message: str) -> None:
        if live is not None and live.tty:
            live.log(message)
        else:
            print(message, file=sys.stderr, flush=True)

    return log


def live_view(args: argparse.Namespace, stream: Any) -> Any:
    """The live view when --live was given, else a context that yields None."""
    from contextlib import nullcontext

    if not args.live:
        return nullcontext(None)
    from dupbench.gil.live import LiveView

    return LiveView(stream)


def run_gil_command(args: argparse.Namespace) -> int:
    from dupbench.gil.explain import explain_comparison
    from dupbench.gil.report import format_run, format_side_by_side, plot_results

    if args.json:
        with live_view(args, sys.stderr) as live:
            json.dump(run_local(args, _logger(live), live.show if live else None), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK

    runs: list[dict[str, Any]] = []
    failed = False
    command = sys.argv
    if args.render:
        record = json.loads(args.render.read_text())
        runs, command = rerender(record["runs"]), record["command"]
        args.out = args.out or args.render.parent
    else:
        with live_view(args, sys.stdout) as live:
            if args.python:
                runs, failed = run_interleaved(args, _logger(live), live.show if live else None)
            else:
                runs.append(run_local(args, _logger(live), live.show if live else None))
    if not runs:
        return EXIT_FAILED

    blocks = [format_run(run) + "\n\n" + _wrap(run["explanation"]) for run in runs]
    if len(runs) > 1:
        blocks.append("Side by side (speed-up, median wall time, CPU cores busy):\n" + format_side_by_side(runs))
        blocks.append(_wrap(explain_comparison(runs)))
    text = ("\n\n" + "=" * 100 + "\n\n").join(blocks)
    print(text)

    out = args.out or default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "schema": SCHEMA_MULTI,
        "command": command,
        "runs": runs,
        "rendered_by": {"command": sys.argv, "git_commit": machine_info()["git_commit"]} if args.render else None,
        "comparison": explain_comparison(runs) if len(runs) > 1 else None,
    }
    (out / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "summary.txt").write_text(text + "\n")
    plot_results(runs, out / "gil.png")
    print(f"\nwrote {out / 'results.json'}, {out / 'summary.txt'} and {out / 'gil.png'}")
    return EXIT_FAILED if failed else EXIT_OK
