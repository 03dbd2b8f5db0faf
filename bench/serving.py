"""Serving benchmark: modelmon's InvokeEndpoint with and without data capture, next to a bare app.

    .venv/bin/python bench/serving.py [--rounds 3] [--duration 10] [--connections 16]

One modelmon server (``modelmon serve``, one process) hosts three endpoints of the
same scikit-learn model: capture off, 20 % capture and 100 % capture; a bare
Starlette app (bench/bare_app.py) serving the same model under uvicorn is the
floor. The load generator is wrk (its own process, one thread) with a one-row CSV
POST; scenarios run round-robin (one run of each, then the next round) so that a
noisy machine slows them alike, and the medians are printed. After the run the
servers are stopped with SIGTERM and every captured record is counted in the
published files. Results go to bench/RESULTS.md under "## Serving (issue 3)".
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from results import write_section  # bench/results.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work" / "serving"
RESULTS = BENCH / "RESULTS.md"
SECTION = "## Serving (issue 3)"
BARE_APP = BENCH / "bare_app.py"
GENERATOR = ROOT / "src" / "modelmon" / "synthetic.py"
MODELMON = Path(sys.executable).with_name("modelmon")
PACKAGES = (
    "modelmon",
    "uvicorn",
    "starlette",
    "fastapi",
    "scikit-learn",
    "numpy",
    "uvloop",
    "httptools",
)
CAPTURE_URI = "s3://bench/capture"
PIN: dict[str, set[int]] = {}  # "server" / "load": CPUs to pin to (--pin), empty: no pinning
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
LABEL = "Churn"


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    server: str  # "bare" or "modelmon"
    endpoint: str
    capture: int | None  # sampling percentage, None: no capture configured


SCENARIOS = (
    Scenario("bare", "bare Starlette (floor)", "bare", "floor", None),
    Scenario("off", "modelmon, capture off", "modelmon", "off", None),
    Scenario("cap20", "modelmon, 20% capture", "modelmon", "cap20", 20),
    Scenario("cap100", "modelmon, 100% capture", "modelmon", "cap100", 100),
)


# ---------------------------------------------------------------- the model


def ensure_model() -> tuple[Path, bytes]:
    """The LogisticRegression joblib file and a one-row CSV body, made unless already there.

    Trained on ``churn_table(5000, seed=1)``: every numeric column but the label
    (missing values filled with the column mean). Reused while its stamp (generator
    source, scikit-learn version) matches.
    """
    import sklearn

    WORK.mkdir(parents=True, exist_ok=True)
    model_path, body_path, stamp = WORK / "model.joblib", WORK / "body.csv", WORK / "model.json"
    wanted = {
        "rows": 5000,
        "seed": 1,
        "generator": hashlib.sha256(GENERATOR.read_bytes()).hexdigest()[:16],
        "sklearn": sklearn.__version__,
    }
    have = model_path.exists() and body_path.exists() and stamp.exists()
    if have and json.loads(stamp.read_text()) == wanted:
        return model_path, body_path.read_bytes()
    import joblib
    import numpy as np
    import pyarrow as pa
    from sklearn.linear_model import LogisticRegression

    from modelmon.synthetic import churn_table

    table = churn_table(5000, seed=1)
    features = [
        f.name
        for f in table.schema
        if f.name != LABEL and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]
    raw = np.column_stack(
        [table.column(c).to_numpy(zero_copy_only=False).astype(float) for c in features]
    )
    x = np.where(np.isnan(raw), np.nanmean(raw, axis=0), raw)
    y = table.column(LABEL).to_numpy()
    model = LogisticRegression(solver="newton-cholesky", max_iter=1000).fit(x, y)
    joblib.dump(model, model_path)
    row = raw[int(np.argmin(np.isnan(raw).any(axis=1)))]  # the first row with every value
    body = ",".join(f"{v:g}" for v in row).encode()
    body_path.write_bytes(body)
    stamp.write_text(json.dumps(wanted))
    print(
        f"trained {model_path.relative_to(ROOT)}: LogisticRegression on {len(features)} "
        f"features, training accuracy {model.score(x, y):.3f}; body {len(body)} bytes",
        flush=True,
    )
    return model_path, body


# ---------------------------------------------------------------- servers


class ServerError(RuntimeError):
    """A server that did not start or answer; the message ends with its log tail."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + ln for ln in text[-lines:]) or "    (empty log)"


@dataclass
class Server:
    """A server process we started (in its own process group), and its log."""

    name: str
    proc: subprocess.Popen
    log: Path
    port: int = 0
    stopped: bool = False
    exit_code: int | None = None

    @classmethod
    def start(cls, name: str, argv: Sequence[str], port_file: Path, log: Path) -> Server:
        port_file.unlink(missing_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        cpus = PIN.get("server")
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        server = cls(name, proc, log)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while not port_file.exists():
                if proc.poll() is not None:
                    raise ServerError(
                        f"{name} exited with code {proc.returncode} before it was ready; "
                        f"log {log}:\n{_tail(log)}"
                    )
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"{name} did not report its port in {START_TIMEOUT:.0f} s; "
                        f"log {log}:\n{_tail(log)}"
                    )
                time.sleep(0.05)
            server.port = int(port_file.read_text().strip())
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, what: str) -> ServerError:
        return ServerError(f"{self.name}: {what}; log {self.log}:\n{_tail(self.log)}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def loaded(self, *names: str) -> dict[str, bool]:
        """Whether a shared library whose path contains each name is mapped in the process."""
        try:
            maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
        except OSError:
            return {}
        return {n: f"/{n}/" in maps for n in names}

    def stop(self) -> int | None:
        """SIGTERM, wait for a graceful exit (SIGKILL to the group past the timeout)."""
        if self.stopped:
            return self.exit_code
        self.stopped = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"  {self.name} did not stop in {STOP_TIMEOUT:.0f} s: killed", flush=True)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left in the group we started
        self.exit_code = self.proc.wait()
        return self.exit_code


def post(url: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/csv"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def get_json(url: str, timeout: float = 10.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


def invocation_url(server: Server, endpoint: str) -> str:
    return f"{server.base}/endpoints/{endpoint}/invocations"


def start_bare(model: Path) -> Server:
    argv = [sys.executable, str(BARE_APP), "--model", str(model), "--port", "0"]
    argv += ["--port-file", str(WORK / "bare.port"), "--log-level", "warning"]
    return Server.start("bare app", argv, WORK / "bare.port", WORK / "bare.log")


def start_modelmon(data_dir: Path) -> Server:
    if not MODELMON.exists():
        raise ServerError(f"no {MODELMON}: run `make install` first")
    argv = [str(MODELMON), "serve", "--data-dir", str(data_dir), "--port", "0"]
    argv += ["--port-file", str(WORK / "modelmon.port"), "--log-level", "warning"]
    return Server.start("modelmon serve", argv, WORK / "modelmon.port", WORK / "modelmon.log")


def deploy(server: Server, model: Path) -> None:
    """The three endpoints of the modelmon scenarios, through the Python SDK."""
    from modelmon.sdk import DataCaptureConfig, Model, Session

    session = Session(server.base)
    for scenario in SCENARIOS:
        if scenario.server != "modelmon":
            continue
        capture = None
        if scenario.capture is not None:
            capture = DataCaptureConfig(True, scenario.capture, CAPTURE_URI)
        Model(
            image_uri="sklearn",
            model_data=str(model),
            env={"MODELMON_PREDICT_METHOD": "predict_proba"},
            name=f"m-{scenario.name}",
            sagemaker_session=session,
        ).deploy(endpoint_name=scenario.endpoint, data_capture_config=capture)


def check_answers(servers: dict[str, Server], body: bytes) -> float:
    """Every scenario answers 200 with the same probability; returns it."""
    answers = {}
    for scenario in SCENARIOS:
        server = servers[scenario.server]
        status, text = post(invocation_url(server, scenario.endpoint), body)
        if status != 200:
            raise server.fail(f"{scenario.endpoint} answered {status}: {text[:300]!r}")
        answers[scenario.name] = float(text.decode().strip())
    values = list(answers.values())
    if max(values) - min(values) > 1e-9:
        raise ServerError(f"the scenarios disagree on the prediction: {answers}")
    return values[0]


# ---------------------------------------------------------------- load generators


@dataclass
class Load:
    """One measured run of the load generator."""

    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int = 0  # non-2xx answers and socket errors
    server_cpu_s: float = 0.0


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Load:
    """Requests/s, request count, p50/p99 and errors from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+[a-z]+)\s*$", output, re.M))
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(found.group(1))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(g) for g in found.groups())
    return Load(rps, requests, _ms(percentiles["50"]), _ms(percentiles["99"]), errors)


class LoadGenerator:
    """wrk when installed, else the Python generator of this file (``_loadgen``)."""

    def __init__(self, body: bytes, threads: int, connections: int, want: str) -> None:
        self.threads = threads
        self.connections = connections
        self.body_file = WORK / "body.csv"
        self.body_file.write_bytes(body)
        self.wrk = shutil.which("wrk") if want in ("auto", "wrk") else None
        if self.wrk is None and want == "auto" and try_install_wrk():
            self.wrk = shutil.which("wrk")
        if self.wrk is None and want == "wrk":
            raise SystemExit(
                "wrk is not installed (apt-get install -y wrk), or use --loadgen python"
            )
        if self.wrk:
            script = WORK / "post.lua"
            script.write_text(
                'wrk.method = "POST"\n'
                f"wrk.body = {_lua_string(body)}\n"
                'wrk.headers["Content-Type"] = "text/csv"\n'
            )
            self.script = script
            self.version = _wrk_version(self.wrk)
            self.name = f"wrk {self.version} (-t{threads} -c{connections})"
        else:
            self.version = ""
            self.name = (
                f"Python asyncio keep-alive generator (bench/serving.py _loadgen, -c{connections})"
            )

    def run(self, url: str, seconds: float) -> Load:
        if self.wrk:
            argv = [self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds:g}s"]
            argv += ["--latency", "--timeout", "10s", "-s", str(self.script), url]
        else:
            argv = [sys.executable, __file__, "_loadgen", url, str(self.body_file)]
            argv += [str(self.connections), str(seconds)]
        cpus = PIN.get("load")
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed ({done.returncode}): {done.stderr[-500:]}")
        if self.wrk:
            return parse_wrk(done.stdout)
        return Load(**json.loads(done.stdout))


def _lua_string(data: bytes) -> str:
    return (
        '"'
        + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b:03d}" for b in data)
        + '"'
    )


def _wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    found = re.search(r"wrk (\S+)", done.stdout + done.stderr)
    return found.group(1) if found else "?"


def try_install_wrk() -> bool:
    """``apt-get install -y wrk`` when we are root on a Debian-like system."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print("wrk not found: apt-get install -y wrk ...", flush=True)
    for argv in (
        ["apt-get", "install", "-y", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wrk"],
    ):
        try:
            done = subprocess.run(argv, capture_output=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if argv[1] == "install" and done.returncode == 0:
            return shutil.which("wrk") is not None
    return False


async def _python_load(url: str, body: bytes, connections: int, seconds: float) -> dict:
    """Keep-alive POSTs from ``connections`` connections for ``seconds``; what wrk reports."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors = [0]
    length = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
    clock = time.perf_counter
    end = clock() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while True:
                start = clock()
                if start >= end:
                    return
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                found = length.search(head)
                await reader.readexactly(int(found.group(1)) if found else 0)
                latencies.append(clock() - start)
                if head[9:10] != b"2":
                    errors[0] += 1
        except (OSError, asyncio.IncompleteReadError):
            errors[0] += 1
        finally:
            writer.close()

    began = clock()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = clock() - began
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else 0.0
        )

    return {
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors[0],
    }


def _loadgen_main(argv: Sequence[str]) -> int:
    url, body_file, connections, seconds = argv
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(
        _python_load(url, Path(body_file).read_bytes(), int(connections), float(seconds))
    )
    print(json.dumps(result))
    return 0


# ---------------------------------------------------------------- the run


@dataclass
class Outcome:
    scenario: Scenario
    runs: list[Load] = field(default_factory=list)

    def median(self, attr: str) -> float | None:
        values = [getattr(r, attr) for r in self.runs]
        return statistics.median(values) if values else None


def measure(gen: LoadGenerator, server: Server, url: str, seconds: float) -> Load:
    before = server.cpu_seconds()
    load = gen.run(url, seconds)
    if server.proc.poll() is not None:
        raise server.fail(f"exited with code {server.proc.returncode} during the run")
    load.server_cpu_s = server.cpu_seconds() - before
    return load


def count_capture_lines(data_dir: Path) -> tuple[dict[str, int], int]:
    """Lines per endpoint in the published capture files, and files left in the spool."""
    root = data_dir / "objects" / "bench" / "capture"
    lines: dict[str, int] = {}
    for path in sorted(root.rglob("*.jsonl")):
        endpoint = path.relative_to(root).parts[0]
        with path.open("rb") as f:
            lines[endpoint] = lines.get(endpoint, 0) + sum(
                chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")
            )
    spool = data_dir / "capture-spool"
    left = len(list(spool.glob("*.jsonl"))) if spool.exists() else 0
    return lines, left


# ---------------------------------------------------------------- reporting


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


HEADER = ["scenario", "median req/s", "min–max req/s", "p50 ms", "p99 ms", "× floor req/s",
          "server CPU µs/req", "errors", "runs"]  # fmt: skip


def table(outcomes: dict[str, Outcome]) -> list[list[str]]:
    floor = outcomes["bare"].median("rps") if "bare" in outcomes else None
    rows = []
    for o in outcomes.values():
        rps = o.median("rps")
        cpu = [r.server_cpu_s / r.requests * 1e6 for r in o.runs if r.requests]
        rows.append(
            [
                o.scenario.label,
                _fmt(rps, 0),
                f"{_fmt(min(r.rps for r in o.runs), 0)}–{_fmt(max(r.rps for r in o.runs), 0)}"
                if o.runs
                else "–",
                _fmt(o.median("p50_ms")),
                _fmt(o.median("p99_ms")),
                _fmt(rps / floor) if rps and floor else "–",
                _fmt(statistics.median(cpu), 0) if cpu else "–",
                str(sum(r.errors for r in o.runs)),
                str(len(o.runs)),
            ]
        )
    return rows


def _markdown(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * len(HEADER)) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _text(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [HEADER, *rows]
    ]


def targets(
    outcomes: dict[str, Outcome], capture_ok: bool | None, capture_detail: str
) -> list[str]:
    lines: list[str] = []

    def check(label: str, ok: bool | None, detail: str) -> None:
        verdict = "n/a " if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"{verdict}  {label} ({detail})")

    def med(name: str, attr: str) -> float | None:
        return outcomes[name].median(attr) if name in outcomes else None

    off, full, bare = med("off", "rps"), med("cap100", "rps"), med("bare", "rps")
    label = "100% capture costs ≤ 10% of throughput vs capture off"
    if off and full:
        check(
            label, full >= 0.9 * off, f"{full:,.0f} vs {off:,.0f} req/s: {1 - full / off:.1%} lost"
        )
    else:
        check(label, None, "missing figures")
    p99_off, p99_full = med("off", "p99_ms"), med("cap100", "p99_ms")
    label = "100% capture adds ≤ 1 ms of p99 vs capture off"
    if p99_off is not None and p99_full is not None:
        check(
            label,
            p99_full - p99_off <= 1.0,
            f"{p99_full:.2f} vs {p99_off:.2f} ms: {p99_full - p99_off:+.2f} ms",
        )
    else:
        check(label, None, "missing figures")
    label = "modelmon (capture off) ≥ 80% of the bare app's throughput"
    if off and bare:
        check(label, off >= 0.8 * bare, f"{off:,.0f} vs {bare:,.0f} req/s: {off / bare:.0%}")
    else:
        check(label, None, "missing figures")
    check("every captured record is in the published files", capture_ok, capture_detail)
    return lines


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _ram_gib() -> float:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / 2**20  # MemTotal, kB


def machine(gen: LoadGenerator) -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = [f"python {platform.python_version()}"]
    versions += [f"{n} {v}" for n in PACKAGES if (v := _version(n))]
    versions.append(f"wrk {gen.version}" if gen.wrk else "wrk not installed")
    return [
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu}, "
        f"{_ram_gib():.1f} GiB RAM, {platform.system()} {platform.release()}",
        "- versions: " + ", ".join(versions),
    ]


def write_results(body: list[str]) -> None:
    """Replace (or add) this benchmark's section of bench/RESULTS.md."""
    write_section(SECTION, body, RESULTS)


# ---------------------------------------------------------------- main


def _loops(server: Server) -> str:
    found = server.loaded("uvloop", "httptools")
    return (
        f"{server.name}: uvloop {'loaded' if found.get('uvloop') else 'NOT loaded'}, "
        f"httptools {'loaded' if found.get('httptools') else 'NOT loaded'}"
    )


def run(args: argparse.Namespace) -> int:
    model, body = ensure_model()
    gen = LoadGenerator(body, args.threads, args.connections, args.loadgen)
    print(f"load generator: {gen.name}", flush=True)
    data_dir = WORK / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    servers: dict[str, Server] = {}
    outcomes = {s.name: Outcome(s) for s in SCENARIOS}
    capture_ok: bool | None = None
    capture_detail = "not checked"
    capture_lines: list[str] = []
    loops: list[str] = []
    try:
        servers["bare"] = start_bare(model)
        servers["modelmon"] = start_modelmon(data_dir)
        deploy(servers["modelmon"], model)
        answer = check_answers(servers, body)
        loops = [_loops(servers["bare"]), _loops(servers["modelmon"])]
        print(f"every scenario answers {answer!r}; " + "; ".join(loops), flush=True)
        urls = {s.name: invocation_url(servers[s.server], s.endpoint) for s in SCENARIOS}
        for s in SCENARIOS:  # warm-up: 1 s of load each, not measured
            gen.run(urls[s.name], args.warmup)
        for round_ in range(1, args.rounds + 1):
            for s in SCENARIOS:
                load = measure(gen, servers[s.server], urls[s.name], args.duration)
                outcomes[s.name].runs.append(load)
                print(
                    f"  [round {round_}/{args.rounds}] {s.label}: {load.rps:,.0f} req/s, "
                    f"p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms"
                    + (f", {load.errors} errors" if load.errors else ""),
                    flush=True,
                )
        counters = get_json(f"{servers['modelmon'].base}/api/capture")
        code = servers["modelmon"].stop()
        lines, left = count_capture_lines(data_dir)
        published = sum(lines.values())
        dropped = {k: v for k, v in counters.items() if k.startswith("dropped")}
        capture_ok = (
            published == counters.get("captured") and not any(dropped.values()) and code == 0
        )
        capture_detail = (
            f"captured {counters.get('captured'):,}, lines in published files {published:,}, "
            + ", ".join(f"{k} {v}" for k, v in dropped.items())
            + f", files left in spool {left}, server exit code {code}"
        )
        sampled = lines.get("cap20", 0)
        out = counters.get("sampled_out", 0)
        capture_lines = [
            "capture counters before SIGTERM: " + json.dumps(counters),
            "published lines per endpoint: " + json.dumps(lines),
            f"20% endpoint: {sampled:,} captured of {sampled + out:,} requests "
            f"({sampled / (sampled + out):.1%})"
            if sampled + out
            else "20% endpoint: no requests",
        ]
        print("\n".join(capture_lines), flush=True)
    finally:
        for server in servers.values():
            server.stop()

    rows = table(outcomes)
    checks = targets(outcomes, capture_ok, capture_detail)
    print(f"\nmedian of {args.rounds} rounds × {args.duration:g} s, {gen.name}:")
    print("\n".join(_text(rows)))
    print("\ntargets:\n" + "\n".join(checks))
    command = (
        f"bench/serving.py --rounds {args.rounds} --duration {args.duration:g} "
        f"--connections {args.connections} --threads {args.threads}"
        + (" --pin" if args.pin else "")
    )
    body_md = machine(gen)
    body_md += [
        f"- command: `{command}`",
        f"- load generator: {gen.name}, {args.warmup:g} s warm-up per scenario, then "
        f"{args.rounds} round-robin rounds of {args.duration:g} s; "
        f"request: POST of a {len(body)}-byte one-row CSV ({body.count(b',') + 1} features), "
        "`text/csv`",
        "- servers: "
        + "; ".join(loops)
        + (
            f"; pinned: servers on CPU {sorted(PIN['server'])}, load generator on CPU "
            f"{sorted(PIN['load'])}"
            if PIN
            else "; not pinned (the scheduler places them)"
        ),
        "",
        f"### Median of {args.rounds} rounds",
        "",
        *_markdown(rows),
        "",
        "server CPU µs/req: CPU time of the server process (all threads) over the run, "
        "per completed request.",
        "",
        "### Capture",
        "",
        "```",
        *capture_lines,
        "```",
        "",
        "### Targets",
        "",
        "```",
        *checks,
        "```",
    ]
    if not args.no_results:
        write_results(body_md)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_loadgen"]:  # the Python load generator, in its own process
        return _loadgen_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds (median shown)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of load before round 1")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the servers to the first CPU and the load generator to the others",
    )
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least 2 CPUs")
        PIN.update(server={cpus[0]}, load=set(cpus[1:]))
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1 or args.threads < 1:
        parser.error("--rounds, --duration, --connections and --threads must be positive")
    try:
        return run(args)
    except (ServerError, RuntimeError) as err:  # the servers are stopped by then
        print(f"\nerror: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
