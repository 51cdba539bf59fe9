"""The readiness probe of the local broker: a group's coordinator partition, computed as the broker does
(a unit test of ``cryptoflow.stack._kafka``)."""

from __future__ import annotations

from cryptoflow.stack._kafka import _coordinator_partition


def test_the_coordinator_partition_of_a_group_is_the_brokers() -> None:
    # Java: "cryptoflow-stack-probe-0".hashCode() == 120564528; "polygenelubricants".hashCode() is
    # Integer.MIN_VALUE, whose abs Kafka takes as 0
    assert _coordinator_partition("cryptoflow-stack-probe-0", 10) == 8
    assert _coordinator_partition("cryptoflow-stack-probe-1", 10) == 9
    assert _coordinator_partition("polygenelubricants", 7) == 0
    assert _coordinator_partition("é-ü", 10) == 225560 % 10
