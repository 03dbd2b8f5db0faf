"""Analyzer benchmark: modelmon baseline/analyze against polars, pandas, whylogs, Evidently.

    .venv/bin/python bench/analyzer.py [--rows 1000000 5000000] [--repeat 3] [--only NAME...]

Every measured run is its own process; the harness takes its wall time and peak
memory, runs the tools round-robin (one run of each tool, then the next round) so
that a noisy machine slows them alike, and prints the medians. Results go to
bench/RESULTS.md under "## Analyzer (issue 2)". See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from results import write_section  # bench/results.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
PEERS_VENV = BENCH / ".peers-venv"
PEERS_REQUIREMENTS = BENCH / "peers-requirements.txt"
PEERS_SCRIPT = BENCH / "peers.py"
RESULTS = BENCH / "RESULTS.md"
SECTION = "## Analyzer (issue 2)"
GENERATOR = ROOT / "src" / "modelmon" / "synthetic.py"
MODELMON = Path(sys.executable).with_name("modelmon")
PROJECT_PACKAGES = ("modelmon", "pyarrow", "numpy", "datasketches")
PEER_PACKAGES = ("polars", "pandas", "numpy", "pyarrow", "whylogs", "evidently", "scipy")
QUIET_ENV = {  # no telemetry attempts from the peers (there is no network anyway)
    "WHYLOGS_NO_ANALYTICS": "True",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
SAMPLE_SECONDS = 0.1


# ---------------------------------------------------------------- measuring


@dataclass
class Run:
    """One measured process."""

    seconds: float
    peak_mb: float
    phases: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.extend(int(k) for k in f.read().split())
    except OSError:
        pass
    return kids


def _pss_kb(pid: int) -> int:
    """Proportional set size of one process (shared pages split among their users)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree_pss_kb(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss_kb(pid)
        todo.extend(_children(pid))
    return total


def measure(
    argv: Sequence[str],
    *,
    timeout: float,
    max_mb: float = float("inf"),
    env: dict[str, str] | None = None,
) -> Run:
    """Run ``argv`` as its own process; wall seconds and peak memory in MB.

    Peak memory is the larger of the kernel's ru_maxrss (the largest single process
    of the tree) and the sampled sum of the tree's proportional set sizes (which
    counts worker processes together). A run over ``timeout`` seconds or over
    ``max_mb`` is killed, so that one tool cannot take the machine down.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=err, env=env, start_new_session=True, cwd=ROOT
        )
        done = threading.Event()
        tree_peak = [0]

        over_memory = threading.Event()

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group of the process we started

        def sample() -> None:
            while not done.wait(SAMPLE_SECONDS):
                tree_peak[0] = max(tree_peak[0], _tree_pss_kb(proc.pid))
                if tree_peak[0] > max_mb * 1024 and not over_memory.is_set():
                    over_memory.set()
                    kill()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_mb = max(usage.ru_maxrss, tree_peak[0]) / 1024  # both in KiB on Linux
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    phases: dict[str, float] = {}
    for line in stdout.splitlines():
        if line.startswith("BENCH "):
            phases = json.loads(line[len("BENCH ") :])
    error = None
    if proc.returncode != 0:
        if over_memory.is_set():
            error = f"killed at {peak_mb:.0f} MB (over --max-memory {max_mb:.0f} MB)"
        elif proc.returncode == -signal.SIGKILL and seconds >= timeout:
            error = f"timed out after {timeout:.0f} s"
        else:
            last = [ln.strip() for ln in (stderr or stdout).splitlines() if ln.strip()]
            error = f"exit {proc.returncode}: {last[-1] if last else 'no output'}"
    return Run(seconds, peak_mb, phases, error)


# ---------------------------------------------------------------- data and peers


def ensure_dataset(rows: int, *, drift: bool) -> Path:
    """The churn CSV of ``rows`` rows under bench/.work, generated unless already there.

    A file is reused while its stamp matches the rows, seed and generator source.
    """
    path = WORK / f"churn-{rows}-{'drifted' if drift else 'train'}.csv"
    stamp = path.with_suffix(".json")
    wanted = {"rows": rows, "seed": 1 if drift else 0, "drift": drift}
    wanted["generator"] = hashlib.sha256(GENERATOR.read_bytes()).hexdigest()[:16]
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return path
    from modelmon.synthetic import write_csv

    WORK.mkdir(parents=True, exist_ok=True)
    print(f"generating {path.relative_to(ROOT)} ...", end=" ", flush=True)
    start = time.perf_counter()
    write_csv(path, rows, seed=wanted["seed"], drift=drift, header=True)
    stamp.write_text(json.dumps(wanted))
    size = path.stat().st_size / 2**20
    print(f"{time.perf_counter() - start:.1f} s, {size:.0f} MB", flush=True)
    return path


def _warm(path: Path) -> None:
    """Read a file once so that every tool finds it in the page cache."""
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def ensure_peers() -> tuple[Path | None, str]:
    """The peers' interpreter, creating bench/.peers-venv on first use; or None and why."""
    python = PEERS_VENV / "bin" / "python"
    stamp = PEERS_VENV / ".installed"
    wanted = hashlib.sha256(PEERS_REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python, ""
    base = getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"
    print(f"installing the peers into {PEERS_VENV.relative_to(ROOT)} ...", flush=True)
    steps = [
        [base, "-m", "venv", "--clear", str(PEERS_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(PEERS_REQUIREMENTS)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("WARNING:")]
            why = (lines or ["no output"])[-1]
            print(f"  peers not available: {' '.join(step[-3:])} failed: {why}", flush=True)
            return None, f"peers venv: {why}"
    stamp.write_text(wanted)
    return python, ""


# ---------------------------------------------------------------- the tools


@dataclass(frozen=True)
class Paths:
    """The files of one dataset size."""

    train: Path
    drifted: Path
    baseline_out: Path
    analyze_out: Path
    peers_out: Path


@dataclass(frozen=True)
class Tool:
    """One measured command; ``argv`` is None when the tool cannot run here."""

    name: str
    label: str
    argv: Callable[[Paths, Path | None], list[str] | None]
    cleanup: Callable[[Paths], Path]


def _modelmon(*args: str) -> list[str]:
    return [str(MODELMON), *args]


def _peer(tool: str) -> Callable[[Paths, Path | None], list[str] | None]:
    def argv(paths: Paths, python: Path | None) -> list[str] | None:
        if python is None:
            return None
        out = str(paths.peers_out / tool)
        return [str(python), str(PEERS_SCRIPT), tool, str(paths.train), str(paths.drifted), out]

    return argv


TOOLS: tuple[Tool, ...] = (
    Tool(
        "baseline",
        "modelmon baseline",
        lambda p, _: _modelmon(
            "baseline",
            "--dataset",
            str(p.train),
            "--output",
            str(p.baseline_out),
            "--format",
            "csv",
            "--header",
        ),
        lambda p: p.baseline_out,
    ),
    Tool(
        "analyze",
        "modelmon analyze",
        lambda p, _: _modelmon(
            "analyze",
            "--dataset",
            str(p.drifted),
            "--baseline-statistics",
            str(p.baseline_out / "statistics.json"),
            "--baseline-constraints",
            str(p.baseline_out / "constraints.json"),
            "--output",
            str(p.analyze_out),
        ),
        lambda p: p.analyze_out,
    ),
    Tool("polars", "polars read_csv", _peer("polars"), lambda p: p.peers_out / "polars"),
    Tool(
        "pandas",
        "pandas read_csv + describe",
        _peer("pandas"),
        lambda p: p.peers_out / "pandas",
    ),
    Tool("whylogs", "whylogs read + profile", _peer("whylogs"), lambda p: p.peers_out / "whylogs"),
    Tool(
        "evidently",
        "Evidently DataDriftPreset",
        _peer("evidently"),
        lambda p: p.peers_out / "evidently",
    ),
)
TOOL_NAMES = tuple(t.name for t in TOOLS)
PEERS = ("polars", "pandas", "whylogs", "evidently")


@dataclass
class Outcome:
    """All runs of one tool at one size."""

    tool: Tool
    runs: list[Run] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> list[Run]:
        return [r for r in self.runs if r.error is None]

    def median(self, phase: str | None = None) -> float | None:
        values = [r.phases.get(phase) if phase else r.seconds for r in self.ok]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None


def bench_size(
    rows: int,
    tools: Sequence[Tool],
    repeat: int,
    peers: Path | None,
    why: str,
    limits: dict[str, float],
) -> dict[str, Outcome]:
    """Round-robin ``repeat`` runs of every tool on the ``rows``-row datasets."""
    paths = Paths(
        ensure_dataset(rows, drift=False),
        ensure_dataset(rows, drift=True),
        WORK / f"out-{rows}" / "baseline",
        WORK / f"out-{rows}" / "analyze",
        WORK / f"out-{rows}" / "peers",
    )
    _warm(paths.train)
    _warm(paths.drifted)
    env = {**os.environ, **QUIET_ENV}
    outcomes = {t.name: Outcome(t) for t in tools}
    names = {t.name for t in tools}
    baseline_missing = not (paths.baseline_out / "constraints.json").exists()
    if "analyze" in names and "baseline" not in names and baseline_missing:
        print("  (an untimed baseline run gives analyze its baseline)", flush=True)
        measure(TOOLS[0].argv(paths, peers) or [], env=env, **limits)
    for round_ in range(1, repeat + 1):
        for tool in tools:
            outcome = outcomes[tool.name]
            if outcome.error:
                continue
            argv = tool.argv(paths, peers)
            if argv is None:
                outcome.error = f"not available: {why}"
                continue
            if tool.name.startswith(("baseline", "analyze")) and not MODELMON.exists():
                outcome.error = f"not available: no {MODELMON}"
                continue
            if tool.name == "analyze" and not (paths.baseline_out / "constraints.json").exists():
                outcome.error = "not available: no baseline to analyze against"
                continue
            shutil.rmtree(tool.cleanup(paths), ignore_errors=True)
            run = measure(argv, env=env, **limits)
            outcome.runs.append(run)
            shown = run.error or f"{run.seconds:.2f} s, {run.peak_mb:.0f} MB"
            print(f"  [{rows:,} rows, round {round_}/{repeat}] {tool.label}: {shown}", flush=True)
            if run.error:
                outcome.error = f"not available: {run.error}"
    return outcomes


# ---------------------------------------------------------------- reporting


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def table(outcomes: dict[str, Outcome]) -> list[list[str]]:
    """Rows: tool, median s, min s, max s, peak MB, × polars, runs, notes."""
    floor = outcomes["polars"].median() if "polars" in outcomes else None
    rows = []
    for o in outcomes.values():
        med = o.median()
        ok = o.ok
        ratio = f"{med / floor:.2f}" if med is not None and floor else "–"
        phases = ok[0].phases.keys() if ok else ()
        notes = ", ".join(f"{p} {_fmt(o.median(p))} s" for p in phases)
        if o.error:
            notes = (notes + "; " if notes else "") + o.error
        rows.append(
            [
                o.tool.label,
                _fmt(med),
                _fmt(min((r.seconds for r in ok), default=None)),
                _fmt(max((r.seconds for r in ok), default=None)),
                _fmt(max((r.peak_mb for r in ok), default=None), 0),
                ratio,
                str(len(ok)),
                notes,
            ]
        )
        if o.tool.name == "whylogs" and o.median("profile") is not None:
            prof = o.median("profile")
            ratio = _fmt(prof / floor) if floor else "–"
            note = "why.log + serialize, read excluded"
            rows.append(["whylogs profile only", _fmt(prof), "", "", "", ratio, str(len(ok)), note])
    return rows


HEADER = ["tool", "median s", "min s", "max s", "peak MB", "× polars", "runs", "notes"]


def _markdown(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * len(HEADER)) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in r) + " |" for r in rows]
    return lines


def _text(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    left = (0, len(HEADER) - 1)  # tool and notes
    return [
        "  ".join(
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [HEADER, *rows]
    ]


def targets(results: dict[int, dict[str, Outcome]]) -> list[str]:
    """The issue's targets, each PASS, FAIL or n/a with the figures behind it."""
    lines = []

    def med(rows: int, name: str, phase: str | None = None) -> float | None:
        o = results.get(rows, {}).get(name)
        return o.median(phase) if o else None

    def check(label: str, ok: bool | None, detail: str) -> None:
        verdict = "n/a " if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"{verdict}  {label} ({detail})")

    size = 1_000_000 if 1_000_000 in results else min(results, default=0)
    base, floor = med(size, "baseline"), med(size, "polars")
    why, evi, ana = med(size, "whylogs"), med(size, "evidently"), med(size, "analyze")
    n = f"{size:,} rows"
    if base and floor:
        check(f"baseline ≤ 1.5× polars read_csv, {n}", base <= 1.5 * floor, f"{base / floor:.2f}×")
    else:
        check(f"baseline ≤ 1.5× polars read_csv, {n}", None, "missing figures")
    if base and why:
        check(f"baseline ≥ 7× faster than whylogs, {n}", why >= 7 * base, f"{why / base:.1f}×")
    else:
        check(f"baseline ≥ 7× faster than whylogs, {n}", None, "missing figures")
    if base and evi:
        check(f"baseline ≥ 25× faster than Evidently, {n}", evi >= 25 * base, f"{evi / base:.1f}×")
        if ana:
            both = base + ana
            lines.append(
                "      like for like, baseline + analyze (both files) vs Evidently: "
                f"{evi / both:.1f}×"
            )
    else:
        check(f"baseline ≥ 25× faster than Evidently, {n}", None, "missing figures")
    big = max(results, default=0)
    o = results.get(big, {}).get("baseline")
    peak = max((r.peak_mb for r in o.ok), default=None) if o else None
    label = f"baseline peak memory < 400 MB, {big:,} rows"
    if peak is not None and big >= 5_000_000:
        check(label, peak < 400, f"{peak:.0f} MB")
    else:
        check(label, None, "no baseline run at 5M rows" if peak is None else f"{peak:.0f} MB")
    return lines


def _versions(python: Path | None, names: Sequence[str]) -> dict[str, str]:
    code = (
        "import json, sys\nfrom importlib import metadata\nv = {}\n"
        "for n in sys.argv[1:]:\n    try: v[n] = metadata.version(n)\n"
        "    except metadata.PackageNotFoundError: pass\n"
        "v['python'] = sys.version.split()[0]\nprint(json.dumps(v))"
    )
    if python is None:
        return {}
    try:
        done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
        return json.loads(done.stdout)
    except (OSError, ValueError):
        return {}


def _ram_mb() -> float:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / 1024  # MemTotal, kB


def machine() -> list[str]:
    """Lines describing the machine and the software measured."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ours = {}
    for name in PROJECT_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            ours[name] = metadata.version(name)
    peers = _versions(PEERS_VENV / "bin" / "python" if PEERS_VENV.exists() else None, PEER_PACKAGES)
    return [
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu}, "
        f"{_ram_mb() / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}",
        f"- modelmon side: python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in ours.items()),
        "- peers side (bench/.peers-venv): "
        + (", ".join(f"{k} {v}" for k, v in peers.items()) or "not installed"),
    ]


def write_results(body: list[str]) -> None:
    """Replace (or add) this benchmark's section of bench/RESULTS.md."""
    write_section(SECTION, body, RESULTS)


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median shown)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=TOOL_NAMES,
        metavar="NAME",
        help=f"measure only these: {', '.join(TOOL_NAMES)}",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument(
        "--max-memory",
        type=float,
        default=round(0.75 * _ram_mb()),
        metavar="MB",
        help="kill a run whose process tree grows past this (default: 3/4 of RAM)",
    )
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(r < 1 for r in args.rows):
        parser.error("--repeat and --rows must be positive")

    tools = [t for t in TOOLS if not args.only or t.name in args.only]
    peers, why = (None, "not requested")
    if any(t.name in PEERS for t in tools):
        peers, why = ensure_peers()
    results: dict[int, dict[str, Outcome]] = {}
    for rows in args.rows:
        print(f"\n== {rows:,} rows ==", flush=True)
        limits = {"timeout": args.timeout, "max_mb": args.max_memory}
        results[rows] = bench_size(rows, tools, args.repeat, peers, why, limits)

    body = machine()
    body.append(
        f"- command: `bench/analyzer.py --rows {' '.join(map(str, args.rows))} "
        f"--repeat {args.repeat}" + (f" --only {' '.join(args.only)}`" if args.only else "`")
    )
    body.append("")
    for rows, outcomes in results.items():
        rows_table = table(outcomes)
        print(f"\n{rows:,} rows, median of {args.repeat}:")
        print("\n".join(_text(rows_table)))
        body += [
            f"### {rows:,} rows (median of {args.repeat} runs)",
            "",
            *_markdown(rows_table),
            "",
        ]
    checks = targets(results)
    print("\ntargets:\n" + "\n".join(checks))
    body += ["### Targets", "", "```", *checks, "```"]
    print()
    print("\n".join(body[:4]))
    if not args.no_results:
        write_results(body)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
