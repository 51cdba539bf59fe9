"""Resident memory of every service of the docker-compose stack, measured on the local stack: what the
memory limits and heaps in ``docker/docker-compose.yml`` are sized from.

    python -m benchmarks.service_memory [--json OUT] [--minutes 3] [--symbols 5] [--speed 2]

The fake exchange (in this process) replays the five real 2025-08 5m files; the app services run as the
compose file runs them, each a real ``cryptoflow`` process with this run's own topic and index prefix:
``setup`` (one shot), then ``sink``, ``indicators``, ``signals --bot`` and ``execute --bot`` (the
stack's ``docker/bot.paper.toml`` on the replayed symbols at 5m) and ``dashboard serve``
(whose page is fetched every two seconds) for ``--minutes``. Every second the resident memory (RSS) of
each process is read from ``/proc``; reported per service: the peak RSS (``VmHWM``, kernel-tracked, so
no short peak is missed; one-shots: ``VmHWM`` read every 20 ms until they exit), the last RSS and the
mean, each summed over the process and its children. The
shared local Kafka broker and Elasticsearch node (``cryptoflow stack up``; for Elasticsearch its launcher
JVM and the server JVM it starts, as in the Docker image) are measured the same way, with their JVM heap
settings (``-Xmx``) beside:
their figures are of the node serving everybody's tests at that moment, a heavier load than this run
alone. ``healthcheck_peak_rss_mib``: the service's compose healthcheck (``cryptoflow health …``), run
once at the end; ``kafka-healthcheck`` is the compose file's Kafka probe (``BrokerApiVersionsCommand``,
``-Xmx64m``) run once against the broker. Kibana and kafka-ui do not run here; their figures come from their
documentation (see the README). Topics, indices and templates of the run are deleted at the end.

The one-shots of ``docker/compose.kafka-secure.yml`` are measured too, as that file runs them:
``kafka-certs`` (``cryptoflow stack certs`` with its hosts, into a temporary folder) and ``kafka-scram``
(Kafka's ``ConfigCommand``, what ``kafka-configs.sh`` runs, with the file's ``KAFKA_HEAP_OPTS``, creating
a SCRAM-SHA-512 user on a fresh broker of this run's own: the shared one is never reconfigured).
``--kafka-secure-only`` measures just those two and updates their entries in ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib import request

import yaml

from benchmarks._output import emit_json
from cryptoflow.candles import shared_data_dir
from cryptoflow.config import load_settings
from cryptoflow.stack import KafkaService, LocalStack, Supervisor
from cryptoflow.testing.fake_binance import FakeExchange, ReplayMarket
from cryptoflow.testing.services import REPO, cleanup, free_port

SYMBOLS = ("ETHUSDT", "BTCUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
PAGES = ("/", "/api/market?symbol=ETHUSDT&interval=5m", "/api/realtime?symbol=ETHUSDT&interval=5m")


def _status(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of a process, in KiB (empty once it is gone)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Elasticsearch's launcher JVM starts the server JVM as a child; a
    container holds both)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _tree_kib(pid: int, field: str) -> int | None:
    """``VmRSS`` or ``VmHWM`` summed over the process tree of ``pid`` (None once it is gone)."""
    values = [_status(p).get(field) for p in _tree(pid)]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _jvm_option(pid: int, prefix: str) -> str | None:
    """The last JVM option starting with ``prefix`` of each JVM in the tree of ``pid``, joined."""
    found = []
    for member in _tree(pid):
        try:
            args = Path(f"/proc/{member}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        options = [a.decode() for a in args if a.startswith(prefix.encode())]
        if options:
            found.append(options[-1])
    return " + ".join(found) or None


def _run_sampled(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, float]:
    """Run a one-shot command to its end; its exit code and peak RSS in MiB (``VmHWM``, read every 20 ms).

    Not ``wait4``'s ``ru_maxrss``: on Linux a child's figure starts at its parent's high-water mark (exec
    records the old memory map's), so a child of this process reports at least this process's size."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _status(process.pid).get("VmHWM", 0))
        time.sleep(0.02)
    return process.returncode, round(peak / 1024, 1)


def _probe_peak_mib(kafka_pid: int, bootstrap: str) -> float | None:
    """Peak RSS of the compose file's Kafka healthcheck (``kafka-broker-api-versions.sh`` runs
    ``kafka.admin.BrokerApiVersionsCommand``) with the probe's own heap, ``-Xmx64m``, against the broker."""
    args = Path(f"/proc/{kafka_pid}/cmdline").read_bytes().decode().split("\0")
    classpath = args[args.index("-cp") + 1] if "-cp" in args else None
    if classpath is None:
        return None
    code, peak = _run_sampled(
        [args[0], "-Xmx64m", "-cp", classpath, "kafka.admin.BrokerApiVersionsCommand",
         "--bootstrap-server", bootstrap]
    )  # fmt: skip
    return peak if code == 0 else None


def kafka_secure_one_shots() -> dict[str, Any]:
    """Peak RSS of the two one-shots ``docker/compose.kafka-secure.yml`` adds, run as the file runs them."""
    services = yaml.safe_load((REPO / "docker" / "compose.kafka-secure.yml").read_text())["services"]
    results: dict[str, Any] = {}
    command = services["kafka-certs"]["command"]
    folder = command[command.index("certs") + 1]
    with tempfile.TemporaryDirectory() as tmp:
        args = [tmp if word == folder else word for word in command[1:]]
        args[args.index("--owner") + 1] = f"{os.getuid()}:{os.getgid()}"  # the image's uid may not exist here
        code, peak = _run_sampled([sys.executable, "-m", "cryptoflow", *args])
    if code != 0:
        raise SystemExit(f"kafka-certs failed ({code})")
    results["kafka-certs"] = {"peak_rss_mib": peak}
    heap = services["kafka-scram"]["environment"]["KAFKA_HEAP_OPTS"]
    settings = load_settings().stack.model_copy(
        update={"kafka_port": free_port(), "kafka_controller_port": free_port()}
    )
    broker = KafkaService(settings, name=f"kafka-bench-{uuid.uuid4().hex[:8]}")
    process = broker.start()
    try:
        broker.wait_ready(120)
        args = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode().split("\0")
        code, peak = _run_sampled(
            [args[0], *heap.split(), "-cp", args[args.index("-cp") + 1], "kafka.admin.ConfigCommand",
             "--bootstrap-server", broker.bootstrap, "--alter", "--entity-type", "users",
             "--entity-name", "cryptoflow",
             "--add-config", f"SCRAM-SHA-512=[iterations=8192,password={secrets.token_hex(16)}]"]
        )  # fmt: skip
    finally:
        broker.stop(timeout_s=20)
        shutil.rmtree(broker.run_dir, ignore_errors=True)
    if code != 0:
        raise SystemExit(f"kafka-scram failed ({code})")
    results["kafka-scram"] = {"peak_rss_mib": peak, "heap": heap}
    return results


def _data_dir(given: str | None) -> Path:
    for candidate in (Path(given) if given else None, shared_data_dir()):
        if candidate is not None and (candidate / "ETHUSDT_5m_2025-08.csv").is_file():
            return candidate
    raise SystemExit("the real 2025-08 5m candle files were not found; give --data DIR")


def _cleanup(prefix: str) -> None:
    cleanup(load_settings(kafka={"topic_prefix": prefix}, elasticsearch={"index_prefix": prefix}))


def _paper_bot(folder: Path, symbols: tuple[str, ...]) -> Path:
    """The compose stack's bot file (``docker/bot.paper.toml``) on the replayed symbols and interval."""
    text = (REPO / "docker" / "bot.paper.toml").read_text(encoding="utf-8")
    lines = [
        'interval = "5m"' if line.startswith("interval =")
        else f"symbols = {json.dumps(list(symbols))}" if line.startswith("symbols =")
        else line
        for line in text.splitlines()
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    bot = folder / "bot.toml"
    bot.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bot


def run(minutes: float, symbols: int, speed: float, data: Path) -> dict[str, Any]:
    """Run the services for ``minutes`` and return their memory figures."""
    stack = LocalStack(load_settings().stack)
    status = stack.status()
    if not (status["kafka"]["up"] and status["elasticsearch"]["up"]):
        raise SystemExit("the local stack is not up: run `cryptoflow stack up` first")
    chosen = SYMBOLS[:symbols]
    market = ReplayMarket.from_files(
        [data / f"{s}_5m_2025-08.csv" for s in chosen], history=300, updates_per_candle=3
    )
    exchange = FakeExchange(market, speed=speed, autostart=True).start_in_thread()
    prefix = f"bench-mem-{uuid.uuid4().hex[:8]}"
    state = Path(f"/tmp/{prefix}")
    env = {
        **os.environ,
        "CRYPTOFLOW_KAFKA__TOPIC_PREFIX": prefix,
        "CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX": prefix,
        "CRYPTOFLOW_BINANCE__BASE_URL": exchange.base_url,
        "CRYPTOFLOW_BINANCE__STREAM_URL": exchange.stream_url,
        "CRYPTOFLOW_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "cryptoflow"]
    names = ",".join(chosen)
    bot = _paper_bot(state, chosen)
    commands = {
        "sink": ["sink"],
        "realtime-indicator": ["indicators", "--symbols", names, "--interval", "5m"],
        "signals": ["signals", "--bot", str(bot), "--state-dir", str(state / "signals")],
        "executor": ["execute", "--bot", str(bot), "--state-dir", str(state / "executor"),
                     "--from-beginning"],
        "dashboard": ["dashboard", "serve", "--port", "0"],
    }  # fmt: skip
    results: dict[str, Any] = {}
    logs = tempfile.TemporaryDirectory(prefix=f"{prefix}-logs-")  # the services' logs, removed at the end
    children = Supervisor(Path(logs.name), env=env)
    try:
        code, peak = _run_sampled([*cli, "setup"], env)
        if code != 0:
            raise SystemExit(f"cryptoflow setup failed ({code})")
        results["setup"] = {"peak_rss_mib": peak}
        _, peak = _run_sampled([*cli, "dashboards", "import", "--kibana-url", "http://127.0.0.1:9"], env)
        results["kibana-import"] = {
            "peak_rss_mib": peak,
            "note": "no Kibana here: reads and prepares the saved objects, then fails to connect",
        }
        for name, args in commands.items():
            children.start(name, *args)
        processes = children.processes
        dashboard_url = _dashboard_url(children)
        jvms = {
            "kafka": int(status["kafka"]["managed_pid"]),
            "elasticsearch": int(status["elasticsearch"]["managed_pid"]),
        }
        samples: dict[str, list[int]] = {name: [] for name in [*processes, *jvms]}
        deadline = time.monotonic() + minutes * 60
        while time.monotonic() < deadline:
            for name, code in children.exited().items():
                raise SystemExit(f"{name} exited early ({code})")
            for name, pid in [*((n, p.pid) for n, p in processes.items()), *jvms.items()]:
                rss = _tree_kib(pid, "VmRSS")
                if rss is not None:
                    samples[name].append(rss)
            for path in PAGES:
                try:
                    request.urlopen(dashboard_url + path, timeout=10).read()  # noqa: S310 - loopback
                except OSError:
                    pass
            time.sleep(1.0)
        for name, pid in [*((n, p.pid) for n, p in processes.items()), *jvms.items()]:
            kib = samples[name]
            if not Path(f"/proc/{pid}").exists():  # a shared node restarted by someone else meanwhile
                raise SystemExit(f"{name} (pid {pid}) ended during the run: no figure; run it again")
            results[name] = {
                "peak_rss_mib": round((_tree_kib(pid, "VmHWM") or 0) / 1024, 1),
                "last_rss_mib": round(kib[-1] / 1024, 1) if kib else None,
                "mean_rss_mib": round(sum(kib) / len(kib) / 1024, 1) if kib else None,
            }
        checks = {  # each service's compose healthcheck, a process of its own inside the same container
            "sink": ["--kafka", "--elasticsearch"],
            "realtime-indicator": ["--kafka"],
            "signals": ["--kafka"],
            "executor": ["--kafka"],
            "dashboard": ["--url", dashboard_url + "/healthz"],
        }
        for name, check in checks.items():
            code, peak = _run_sampled([*cli, "health", *check], env)
            results[name]["healthcheck_peak_rss_mib"] = peak if code == 0 else None
        results["kafka"]["heap"] = _jvm_option(jvms["kafka"], "-Xmx")
        results["kafka-healthcheck"] = {
            "peak_rss_mib": _probe_peak_mib(jvms["kafka"], str(status["kafka"]["bootstrap"])),
            "heap": "-Xmx64m",
        }
        results["elasticsearch"]["heap"] = _jvm_option(jvms["elasticsearch"], "-Xmx")
        results.update(kafka_secure_one_shots())
        results["kafka"]["note"] = results["elasticsearch"]["note"] = (
            "the shared local node, serving every test running on this machine meanwhile"
        )
    finally:
        children.stop(timeout_s=60)
        logs.cleanup()
        exchange.stop_thread()
        _cleanup(prefix)
        shutil.rmtree(state, ignore_errors=True)
    return {
        "benchmark": "service_memory",
        "minutes": minutes,
        "symbols": list(chosen),
        "speed_candles_per_s": speed,
        "candles_replayed": market.cursor,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "page_size": resource.getpagesize()},
        "services": results,
    }


def _dashboard_url(children: Supervisor, timeout_s: float = 60.0) -> str:
    """The URL the dashboard writes on its first line (``dashboard at http://…``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children.check()
        for word in children.log("dashboard").split():
            if word.startswith("http://"):
                return word.rstrip("/")
        time.sleep(0.1)
    raise SystemExit(f"the dashboard did not write its URL: {children.log('dashboard')!r}")


def main(argv: list[str] | None = None) -> None:
    """Command line: run and print (or write) the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="Write the JSON here too.")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--symbols", type=int, default=5, choices=range(1, 6))
    parser.add_argument("--speed", type=float, default=2.0, help="Candles per second of the replay.")
    parser.add_argument(
        "--data", help="Folder of the real candle files (default: ../shared/data or $CRYPTOFLOW_SHARED_DATA)."
    )
    parser.add_argument(
        "--kafka-secure-only",
        action="store_true",
        help="Measure only the one-shots of docker/compose.kafka-secure.yml; update them in --json.",
    )
    args = parser.parse_args(argv)
    if args.kafka_secure_only:
        if not args.json:
            parser.error("--kafka-secure-only updates the figures of --json FILE: give it")
        result = json.loads(args.json.read_text())
        result["services"].update(kafka_secure_one_shots())
    else:
        result = run(args.minutes, args.symbols, args.speed, _data_dir(args.data))
    emit_json(result, args.json)


if __name__ == "__main__":
    main()
