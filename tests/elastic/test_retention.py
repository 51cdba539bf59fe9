"""``cryptoflow retention`` on the real Elasticsearch: exactly the expired partitions go, a dry run deletes
nothing, and nothing that cryptoflow did not create under its prefix is ever touched."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from cryptoflow.config import Settings, load_settings
from cryptoflow.elastic import INDEX_KINDS, apply_retention, index_alias, install_templates, make_client
from cryptoflow.events import index_mappings
from cryptoflow.stack import LocalStack
from cryptoflow.testing.events import ms
from cryptoflow.testing.services import REPO, clean_env

pytestmark = pytest.mark.integration

DAY = 86_400_000


@pytest.fixture
def prefixed(local_stack: LocalStack, unique_name: str) -> Iterator[tuple[Settings, Elasticsearch]]:
    """Settings with this test's own index prefix (templates installed), removed afterwards."""
    settings = load_settings(elasticsearch={"index_prefix": unique_name})
    client = make_client(settings.elasticsearch)
    install_templates(client, settings.elasticsearch)
    yield settings, client
    names = list(client.indices.get(index=f"{unique_name}*", expand_wildcards="all"))  # and {p}x-…
    for name in names:
        client.options(ignore_status=404).indices.delete(index=name)
    for kind in INDEX_KINDS:
        client.options(ignore_status=404).indices.delete_index_template(
            name=index_alias(settings.elasticsearch, kind)
        )
    client.close()


def _put(client: Elasticsearch, index: str, docs: int) -> None:
    """A partition with ``docs`` documents (the template gives it cryptoflow's mapping and ``_meta``)."""
    client.indices.create(index=index)
    for i in range(docs):
        client.index(index=index, id=f"{index}-{i}", document={"time_ms": i}, refresh=i == docs - 1)


def _indices(client: Elasticsearch, prefix: str) -> set[str]:
    return set(client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))


def _keep(settings: Settings, **days: int | None) -> Settings:
    retention = settings.retention.model_copy(update={f"{kind}_keep_days": n for kind, n in days.items()})
    return settings.model_copy(update={"retention": retention})


def test_retention_deletes_exactly_the_partitions_past_the_kept_period(prefixed) -> None:
    settings, client = prefixed
    p = settings.elasticsearch.index_prefix
    expired = {f"{p}-indicators-2026.02.27": 3, f"{p}-indicators-2026.02.28": 2, f"{p}-candles-2025.12": 1}
    young = [
        f"{p}-indicators-2026.03.01",  # covers now - 14 days: holds events younger than the period
        f"{p}-indicators-2026.03.15",
        f"{p}-candles-2026.01",  # covers now - 45 days
        f"{p}-candles-2026.03",
        f"{p}-trades-2020.01",  # trades are kept forever
    ]
    for index, docs in expired.items():
        _put(client, index, docs)
    for index in young:
        _put(client, index, 1)
    # never cryptoflow's to delete: a partition-named index without cryptoflow's _meta, a name that is no
    # partition, another prefix that starts with ours, an index from before time partitions
    client.indices.create(index=f"{p}-indicators-2020.01.01", mappings={"_meta": {"managed_by": "someone"}})
    client.indices.create(index=f"{p}-indicators-backup")
    client.indices.create(index=f"{p}-indicators-x-indicators-2020.01.01")
    client.indices.create(index=f"{p}-indicators-000001", mappings=index_mappings()["indicators"])
    client.indices.create(index=f"{p}x-indicators-2020.01.01")
    before = _indices(client, p)
    now = ms("2026-03-15T12:00:00.000")
    kept_for = _keep(settings, indicators=14, candles=45, trades=None)

    dry = apply_retention(client, kept_for, dry_run=True, now_ms=now)

    assert {part.index: part.docs for part in dry.expired} == expired
    assert all(part.size_bytes and part.size_bytes > 0 for part in dry.expired)
    assert dry.deleted == [] and _indices(client, p) == before  # a dry run deletes nothing
    assert dry.unmanaged == [f"{p}-indicators-2020.01.01"]
    assert [part.index for part in dry.legacy] == [f"{p}-indicators-000001"]
    assert sorted(part.index for part in dry.kept) == sorted(young)

    done = apply_retention(client, kept_for, now_ms=now)

    assert sorted(done.deleted) == sorted(expired) and done.failed == []
    assert _indices(client, p) == before - set(expired)
    # a second run has nothing left to do
    assert apply_retention(client, kept_for, now_ms=now).deleted == []


def test_the_partition_covering_the_cutoff_stays_to_the_millisecond(prefixed) -> None:
    settings, client = prefixed
    p = settings.elasticsearch.index_prefix
    for day in ("2026.02.28", "2026.03.01"):
        _put(client, f"{p}-indicators-{day}", 1)
    kept_for = _keep(settings, indicators=14)
    # now - 14 days is exactly midnight 03-01: 02-28 ended at the cutoff, 03-01 starts there
    at_midnight = apply_retention(client, kept_for, dry_run=True, now_ms=ms("2026-03-15T00:00:00.000"))
    assert [part.index for part in at_midnight.expired] == [f"{p}-indicators-2026.02.28"]
    # one millisecond earlier 02-28 still holds the last millisecond of the kept period
    before_midnight = apply_retention(client, kept_for, dry_run=True, now_ms=ms("2026-03-14T23:59:59.999"))
    assert before_midnight.expired == []


def test_a_search_through_the_alias_sees_every_partition(prefixed) -> None:
    settings, client = prefixed
    p = settings.elasticsearch.index_prefix
    for index, docs in {
        f"{p}-signals-2025.11": 2,
        f"{p}-signals-2025.12": 3,
        f"{p}-signals-2026.01": 4,
    }.items():
        _put(client, index, docs)
    alias = index_alias(settings.elasticsearch, "signals")
    assert client.count(index=alias)["count"] == 9
    apply_retention(client, _keep(settings, signals=32), now_ms=ms("2026-02-01T00:00:00.000"))  # cutoff 12-31
    assert client.count(index=alias)["count"] == 7


def _cli(prefix: str, *args: str, timeout_s: float = 120, **env: str) -> subprocess.CompletedProcess:
    environment = clean_env(CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX=prefix, COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", "retention", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=timeout_s,
    )


def test_the_command_lists_then_deletes_and_says_so(prefixed) -> None:
    settings, client = prefixed
    p = settings.elasticsearch.index_prefix
    today = datetime.now(UTC).strftime("%Y.%m.%d")
    _put(client, f"{p}-indicators-2020.01.01", 3)
    _put(client, f"{p}-indicators-{today}", 1)
    before = _indices(client, p)

    dry = _cli(p, "--dry-run", CRYPTOFLOW_RETENTION__INDICATORS_KEEP_DAYS="7")

    assert dry.returncode == 0, dry.stderr
    assert "(dry run: nothing is deleted)" in dry.stdout
    assert "indicators: daily partitions, keep 7 days" in dry.stdout
    line = next(line for line in dry.stdout.splitlines() if f"{p}-indicators-2020.01.01" in line)
    assert "2020-01-01" in line and " 3 " in line and "would delete" in line
    assert f"{p}-indicators-{today}" not in dry.stdout
    assert "would delete 1 partition(s) (3 documents," in dry.stdout and "kept 1" in dry.stdout
    assert _indices(client, p) == before

    done = _cli(p, CRYPTOFLOW_RETENTION__INDICATORS_KEEP_DAYS="7")

    assert done.returncode == 0, done.stderr
    assert "deleted 1 partition(s) (3 documents," in done.stdout
    assert _indices(client, p) == before - {f"{p}-indicators-2020.01.01"}


def test_the_command_fails_clearly(prefixed) -> None:
    settings, _ = prefixed
    p = settings.elasticsearch.index_prefix
    unknown = _cli(p, "--kind", "candle")
    assert unknown.returncode == 2
    assert "candle: expected one of candles, indicators, signals, trades" in unknown.stderr
    bad = _cli(p, CRYPTOFLOW_RETENTION__TRADES_KEEP_DAYS="0")
    assert bad.returncode == 2 and "CRYPTOFLOW_RETENTION__TRADES_KEEP_DAYS" in bad.stderr
    # a node that refuses connections is an error at once, not a wait (TimeoutExpired fails the test)
    down = _cli(p, "--dry-run", timeout_s=60, CRYPTOFLOW_ELASTICSEARCH__HOSTS="http://127.0.0.1:1")
    assert down.returncode == 1
    assert "Elasticsearch is unreachable while listing the indices" in down.stderr
    for result in (unknown, bad, down):
        assert "Traceback" not in result.stderr
