"""How the stacks behave, checked without a Docker engine: what `up` and `up SERVICE` start (no bundled
Elasticsearch or Kibana for Elastic Cloud), trading and indexing never wait for Kibana, each secret reaches
only the containers that use it, memory limits and heaps sized from measurements, and what the host needs."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cryptoflow.stack import LocalStack
from tests.docker._compose import (
    DOCKER,
    REPO,
    Stack,
    app_services,
    dependencies,
    example_env,
    load,
    memory_mib,
    passed_environment,
)

MEASURED = json.loads((DOCKER / "measured-memory.json").read_text())["services"]
HEADROOM = 1.3  # every limit is at least this many times the peak resident memory measured
HOST_SHARE = 0.8  # the limits of a stack add up to at most this share of the host's memory
# The smallest EC2 type each stack fits (README, production section): name, memory in MiB.
EC2 = {"bundled": ("t3.large", 8192), "cloud": ("t3.large", 8192)}
SMALLER = {"t3.large": ("t3.medium", 4096), "t3.medium": ("t3.small", 2048)}
# Not run by the benchmark: their limits are their documentation's (README, production section).
DOCUMENTED = {"kibana", "kafka-ui"}
LOOKING_ONLY = {"kibana", "kibana-import", "kafka-ui"}
TRADING_AND_INDEXING = {"setup", "sink", "realtime-indicator", "signals", "executor", "dashboard"}
# Which containers each secret of docker/.env may reach, per Elasticsearch of the stack.
SECRETS_GO_TO = {
    "bundled": {
        "ELASTIC_PASSWORD": {"elasticsearch", "setup", "sink", "dashboard", "kibana-import"},
        "KIBANA_SYSTEM_PASSWORD": {"kibana", "setup"},
        "KIBANA_ENCRYPTION_KEY": {"kibana"},
        "CRYPTOFLOW_BINANCE__API_KEY": {"executor"},
        "CRYPTOFLOW_BINANCE__API_SECRET": {"executor"},
    },
    "cloud": {
        "ELASTIC_CLOUD_ID": {"setup", "sink", "dashboard"},
        "ELASTIC_API_KEY": {"setup", "sink", "dashboard"},
        "KIBANA_API_KEY": {"kibana-import"},
        "CRYPTOFLOW_BINANCE__API_KEY": {"executor"},
        "CRYPTOFLOW_BINANCE__API_SECRET": {"executor"},
    },
}


def _limit(service: dict[str, Any]) -> float:
    return memory_mib(service["deploy"]["resources"]["limits"]["memory"])


def _heap_mib(options: str) -> int:
    match = re.search(r"-Xmx(\d+)([mg])", options)
    assert match, f"no -Xmx in {options!r}"
    return int(match.group(1)) * (1024 if match.group(2) == "g" else 1)


# ---- what starts -------------------------------------------------------------------------------------


def test_elastic_cloud_starts_no_elasticsearch_or_kibana(
    stack: Stack, project: dict[str, Any], workdir: Path
):
    """`up` and `up SERVICE` (which starts the service's dependencies too) start no bundled Elasticsearch
    or Kibana in the Elastic Cloud stack; in the bundled stack the sink does wait for its Elasticsearch."""
    bundled = {"elasticsearch", "kibana"}
    if stack.elastic == "bundled":
        assert bundled <= set(project["services"])
        assert "elasticsearch" in load(stack.files, example_env(), workdir, ("sink",))["services"]
        return
    assert not bundled & set(project["services"])
    for name in project["services"]:
        started = set(load(stack.files, example_env(), workdir, (name,))["services"])
        assert name in started and not bundled & started, f"`up {name}` starts {sorted(started)}"


def test_the_cloud_stack_needs_no_bundled_password(stack: Stack, workdir: Path) -> None:
    """Each stack asks for its own secrets only: the cloud stack loads without ELASTIC_PASSWORD and the
    Kibana passwords; the bundled one refuses to load without them, naming the variable."""
    env = {k: v for k, v in example_env().items() if k not in SECRETS_GO_TO["bundled"]}
    if stack.elastic == "cloud":
        load(stack.files, env, workdir)
    else:
        with pytest.raises(AssertionError, match="set ELASTIC_PASSWORD in docker/.env"):
            load(stack.files, env, workdir)


def test_trading_and_indexing_never_wait_for_kibana(project: dict[str, Any]) -> None:
    for name in TRADING_AND_INDEXING:
        waits_for = dependencies(project, name)
        assert not waits_for & LOOKING_ONLY, f"{name} waits for {sorted(waits_for & LOOKING_ONLY)}"
    for name, service in project["services"].items():
        assert "kibana-import" not in (service.get("depends_on") or {}), f"{name} waits for the Kibana import"
    import_waits = project["services"]["kibana-import"].get("depends_on") or {}
    for dependency, spec in import_waits.items():  # it waits for Kibana itself (--wait), never for health
        assert spec["condition"] != "service_healthy" or dependency not in LOOKING_ONLY, dependency
    assert "--wait" in project["services"]["kibana-import"]["command"]


# ---- secrets -----------------------------------------------------------------------------------------


def test_each_secret_reaches_only_the_services_that_use_it(stack: Stack, project: dict[str, Any]) -> None:
    env = example_env()
    expected = {**SECRETS_GO_TO[stack.elastic], **stack.secrets}
    secrets = {name: value for name, value in env.items() if value.startswith("sentinel-")}
    assert set(expected) <= set(secrets), "docker/.env.example lacks a secret the stack uses"
    for name, value in secrets.items():
        reached = {
            service_name
            for service_name, service in project["services"].items()
            if any(value in str(v) for v in passed_environment(service).values())
        }
        assert reached == expected.get(name, set()), f"{name} reaches {sorted(reached)}"


# ---- memory ------------------------------------------------------------------------------------------


def test_limits_are_sized_from_measurements(project: dict[str, Any]) -> None:
    services = project["services"]
    unmeasured = set(services) - set(MEASURED) - DOCUMENTED
    assert not unmeasured, f"measure {sorted(unmeasured)} (python -m benchmarks.service_memory)"
    for name, figures in MEASURED.items():
        if name in services:
            peak = figures["peak_rss_mib"]
            assert _limit(services[name]) >= HEADROOM * peak, f"{name}: limit below {HEADROOM} x {peak} MiB"
            if "healthcheck_peak_rss_mib" in figures:  # `cryptoflow health` runs inside the same container
                both = peak + figures["healthcheck_peak_rss_mib"]
                assert _limit(services[name]) >= 1.1 * both, f"{name}: no room for its healthcheck"
    probe = MEASURED["kafka-healthcheck"]["peak_rss_mib"]
    kafka_peak = MEASURED["kafka"]["peak_rss_mib"]
    # the probe (about a second every 15 s) runs inside the broker's limit
    assert _limit(services["kafka"]) >= 1.1 * (kafka_peak + probe), "no room for the healthcheck's probe"


def test_heaps_fit_their_limits(project: dict[str, Any]) -> None:
    services = project["services"]
    for name, service in services.items():  # the broker, and any one-shot running Kafka's tools
        if "KAFKA_HEAP_OPTS" in (service.get("environment") or {}):
            assert _heap_mib(service["environment"]["KAFKA_HEAP_OPTS"]) <= _limit(service) / 2, name
    if "elasticsearch" in services:  # Elastic: a heap of at most half the memory
        elastic = services["elasticsearch"]
        assert _heap_mib(elastic["environment"]["ES_JAVA_OPTS"]) <= _limit(elastic) / 2
    ui = services["kafka-ui"]
    assert _heap_mib(ui["environment"]["JAVA_OPTS"]) <= _limit(ui) / 2


def test_kafka_healthcheck_gives_its_probe_a_small_heap(project: dict[str, Any]) -> None:
    """kafka-run-class.sh uses KAFKA_HEAP_OPTS when it is set, so the probe must set its own: otherwise
    it inherits the broker's and starts a second 512 MB JVM every 15 s inside the broker's limit."""
    test = project["services"]["kafka"]["healthcheck"]["test"]
    match = re.search(r"(^|\s)KAFKA_HEAP_OPTS=(\S+) (\S*/)?kafka-broker-api-versions\.sh ", test[-1])
    assert match, f"the probe inherits the broker's heap: {test}"
    assert _heap_mib(match.group(2)) <= 128


def concurrent_limits(project: dict[str, Any]) -> float:
    """The memory limits of the services that can run at once. A one-shot that others wait for to have
    completed (setup, and an override's kafka-certs or kafka-scram) has exited before anything waiting
    for it starts, and starts only after the one-shots it waits for have exited. So the largest of:
    everything but those one-shots, and for each of them, it with what neither waits for it nor is
    waited for by it (an upper bound: two of those may still exclude each other)."""
    services = project["services"]
    completed = {
        dependency
        for service in services.values()
        for dependency, spec in (service.get("depends_on") or {}).items()
        if spec["condition"] == "service_completed_successfully"
    }
    groups = [set(services) - completed]
    for one_shot in completed:
        before = dependencies(project, one_shot) & completed
        groups.append(
            {one_shot}
            | {n for n in services if one_shot not in dependencies(project, n)} - before - {one_shot}
        )
    return max(sum(_limit(services[n]) for n in group) for group in groups)


def test_the_smallest_ec2_type_fits_the_limits(stack: Stack, project: dict[str, Any]) -> None:
    total = concurrent_limits(project)
    name, memory = EC2[stack.elastic]
    assert total <= HOST_SHARE * memory, f"{total:.0f} MiB of limits do not fit a {name}"
    smaller, smaller_memory = SMALLER[name]
    assert total > HOST_SHARE * smaller_memory, f"{total:.0f} MiB would fit a {smaller}: say so"
    production = _readme_section()
    assert f"`{name}`" in production and f"{total:.0f} MiB" in production, "README: state the type and sum"


@pytest.mark.integration
def test_the_kafka_probe_works_with_its_small_heap(local_stack: LocalStack) -> None:
    """The probe's command (kafka-broker-api-versions.sh runs BrokerApiVersionsCommand) against the real
    broker, with the 64 MB heap the healthcheck gives it."""
    pid = local_stack.status()["kafka"]["managed_pid"]
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    classpath = args[args.index("-cp") + 1]
    bootstrap = local_stack.status()["kafka"]["bootstrap"]
    result = subprocess.run(
        [args[0], "-Xmx64m", "-cp", classpath, "kafka.admin.BrokerApiVersionsCommand",
         "--bootstrap-server", str(bootstrap)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ApiVersions(18)" in result.stdout


# ---- the host and the build --------------------------------------------------------------------------


def _readme_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Production: docker compose on a server\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README: the production section is missing"
    return match.group(1)


def test_elasticsearch_memory_lock_is_consistent(project: dict[str, Any]) -> None:
    """The memlock ulimit only matters with bootstrap.memory_lock, and memory_lock fails without it."""
    elastic = project["services"].get("elasticsearch")
    if elastic is None:
        return
    locked = elastic["environment"].get("bootstrap.memory_lock") == "true"
    memlock = (elastic.get("ulimits") or {}).get("memlock")
    assert locked == (memlock == {"soft": -1, "hard": -1}), (locked, memlock)


def test_readme_says_what_the_host_needs() -> None:
    production = _readme_section()
    assert "sudo sysctl -w vm.max_map_count=262144" in production
    assert "/etc/sysctl.d/" in production  # and how to keep it after a reboot
    assert "HTTP 451" in production and "US" in production
    for figure in (
        "setup",
        "sink",
        "realtime-indicator",
        "signals",
        "executor",
        "dashboard",
        "kafka",
        "elasticsearch",
    ):
        peak = MEASURED[figure]["peak_rss_mib"]
        assert f"{peak:.0f} MiB" in production, f"README: the measured {figure} figure ({peak:.0f} MiB)"


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last matching pattern wins)."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        parts = path.split("/")
        prefixes = [
            "/".join(parts[: i + 1]) for i in range(len(parts))
        ]  # a folder's pattern covers its files
        regex = fnmatch.translate(pattern).replace("(?s:.*/", "(?s:(.*/)?")  # `**/` may match no folder
        if any(re.match(regex, prefix) or fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            result = not negate
    return result


def test_the_build_context_sends_no_secret_and_no_virtualenv() -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (".venv/bin/python", ".git/config", "docker/.env", ".env", "auto_trade/.env", "out/x.html"):
        assert _ignored(path, patterns), f"the build context would send {path}"
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    for sources in re.findall(r"^COPY\s+(.+)\s+\S+$", dockerfile, flags=re.MULTILINE):
        for source in sources.split():
            assert (REPO / source).exists() and not _ignored(source, patterns), f"COPY {source} is ignored"


def test_app_services_run_the_image_the_setup_builds(project: dict[str, Any]) -> None:
    images = {service["image"] for service in app_services(project).values()}
    assert images == {project["services"]["setup"]["image"]}
