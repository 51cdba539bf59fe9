"""The import rules of the layout: no application package imports another, and no module reaches into
another package's private modules; a test reaches into a private module only of the package it tests, to
unit-test that module, and says why below. Read from the source (every import statement, also those inside
functions and ``TYPE_CHECKING`` blocks), so a broken rule fails here whether or not that code runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPLICATIONS = ("auto_trade", "backtesting", "backtesting_trade", "realtime_indicator")
# the packages whose modules keep to other packages' public names (tests: see UNIT_TESTED)
PUBLIC_ONLY = (*APPLICATIONS, "cryptoflow", "benchmarks")

# Every private module a test imports, with the reason. A test under tests/<pkg>/ tests the package <pkg>
# (an application, or cryptoflow.<pkg>); it may import that package's private modules only to unit-test
# them, and everything else through public names. An entry that crosses packages is an exception to fix.
UNIT_TESTED: dict[str, dict[str, str]] = {
    "tests/stack/test_process.py": {
        "cryptoflow.stack._process": "the pid-file records (start, read, stop) of detached services",
    },
    "tests/stack/test_kafka_format.py": {
        "cryptoflow.stack._kafka": "patches its uuid4: a random cluster id cannot be chosen otherwise",
    },
    "tests/stack/test_kafka_probe.py": {
        "cryptoflow.stack._kafka": "the readiness probe's coordinator partition, a pure function",
    },
    "tests/stack/test_stack_errors.py": {
        "cryptoflow.stack._java": "the message when no Java is found (its cached lookup cleared around it)",
        "cryptoflow.stack._download": "a failed download's messages, without a stack up (ports, home) first",
    },
    "tests/backtesting/test_portfolio.py": {
        "backtesting._kernel": "protective_exit, compared fill by fill with the fake exchange's order desk",
    },
    "tests/backtesting/test_optimize.py": {
        "backtesting._losses": "loss(): each loss's direction and score, without a search",
        "backtesting._space": "build_space, grid_size, parse_space_text: spaces checked without a search",
        "backtesting._walkforward": "_windows, the folds' boundaries (a pure function)",
    },
    "tests/indicators/test_streaming_engines.py": {
        "cryptoflow.indicators._cstream": "the compiled streaming state is the one built (scripts/setup)",
        "cryptoflow.indicators._nbstream": "the numba state that stands in without a compiler, bit for bit",
        "cryptoflow.indicators._streaming": "state_arguments, to build that numba state",
    },
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``source``, a module of ``package``; relative imports are
    made absolute, and ``from pkg import _name`` counts as importing ``pkg._name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names if a.name.startswith("_")]
    return found


def private_owner(name: str) -> str | None:
    """The package a private module belongs to (``cryptoflow.kafka._clients`` -> ``cryptoflow.kafka``)."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def reaches_in(importer: str, name: str) -> bool:
    """Whether module ``importer`` importing ``name`` uses another package's private module."""
    owner = private_owner(name)
    return owner is not None and importer != owner and not importer.startswith(owner + ".")


def package_imports(package: str) -> list[tuple[str, str, str]]:
    """``(file:line, importing module, imported module)`` of every import in ``package``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        importer = module_name(path)
        own = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        for line, name in imports_of(path.read_text(encoding="utf-8"), own):
            found.append((f"{path.relative_to(ROOT)}:{line}", importer, name))
    return found


@pytest.mark.parametrize("application", APPLICATIONS)
def test_no_application_package_imports_another(application: str) -> None:
    others = set(APPLICATIONS) - {application}
    offending = [
        f"{where} imports {name}"
        for where, _, name in package_imports(application)
        if name.split(".")[0] in others
    ]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("package", PUBLIC_ONLY)
def test_no_module_imports_another_packages_private_module(package: str) -> None:
    offending = [
        f"{where} imports {name}"
        for where, importer, name in package_imports(package)
        if reaches_in(importer, name)
    ]
    assert not offending, "\n".join(offending)


def test_the_rules_see_every_kind_of_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import realtime_indicator\n"
        "def later():\n    from backtesting import run_backtest\n"
        "from cryptoflow.kafka._clients import TOPIC_KINDS\n"
        "from cryptoflow.sink import _dlq\n"
        "from . import _trader\nfrom ._worker import CandleTopicWorker\n"
    )
    names = [name for _, name in imports_of(source, "auto_trade")]
    assert {"realtime_indicator", "backtesting", "auto_trade._trader", "auto_trade._worker"} <= set(names)
    assert reaches_in("auto_trade._runner", "cryptoflow.kafka._clients")
    assert reaches_in("auto_trade._runner", "cryptoflow.sink._dlq")
    assert not reaches_in("auto_trade._runner", "auto_trade._trader")  # its own package's
    assert not reaches_in("cryptoflow.kafka", "cryptoflow.kafka._clients")
    assert not reaches_in("auto_trade._runner", "cryptoflow.kafka")


def package_under_test(test_module: str) -> str:
    """The package a test module tests: ``tests.stack.test_tls`` -> ``cryptoflow.stack``,
    ``tests.auto_trade.test_worker`` -> ``auto_trade``, ``tests.test_retry`` -> ``cryptoflow``."""
    folders = test_module.split(".")[1:-1]
    if folders and folders[0] in APPLICATIONS:
        return ".".join(folders)
    return ".".join(["cryptoflow", *folders])


def offences(found: list[tuple[str, str, str]]) -> tuple[list[str], set[tuple[str, str]]]:
    """The imports among ``found`` (``(file:line, test module, imported module)``) that break the tests'
    rule, and the :data:`UNIT_TESTED` entries they use."""
    used, offending = set(), []
    for where, importer, name in found:
        parts = name.split(".")
        if parts[0] == "tests" and any(part == "conftest" or part.startswith("test_") for part in parts):
            offending.append(f"{where} imports {name}: shared helpers belong in cryptoflow.testing")
            continue
        owner = private_owner(name)
        if owner is None or owner == "tests" or owner.startswith("tests."):
            if reaches_in(importer, name):  # another test folder's helpers: they belong in the test kit
                offending.append(f"{where} imports {name}")
            continue
        module = ".".join(name.split(".")[: len(owner.split(".")) + 1])  # a._b.c -> a._b
        path = where.rpartition(":")[0]
        if module in UNIT_TESTED.get(path, {}):
            used.add((path, module))
            continue
        own = package_under_test(importer)
        why = "an unlisted" if owner == own or owner.startswith(own + ".") else "another package's"
        offending.append(f"{where} imports {why} private module {name}")
    return offending, used


def test_tests_import_private_modules_only_of_their_own_package_and_say_why() -> None:
    offending, used = offences(package_imports("tests"))
    assert not offending, "\n".join(offending)
    listed = {(path, module) for path, modules in UNIT_TESTED.items() for module in modules}
    assert listed == used, f"stale entries: {sorted(listed - used)}"


def test_the_tests_rule_flags_what_it_must() -> None:
    offending, _ = offences(
        [
            ("tests/kafka/test_a.py:3", "tests.kafka.test_a", "cryptoflow.stack._tls"),
            ("tests/stack/test_b.py:4", "tests.stack.test_b", "cryptoflow.stack._tls.ensure_broker_tls"),
            ("tests/kafka/test_c.py:5", "tests.kafka.test_c", "tests.auto_trade._chain"),
            ("tests/auto_trade/test_d.py:6", "tests.auto_trade.test_d", "tests.auto_trade._chain"),
            ("tests/auto_trade/test_e.py:7", "tests.auto_trade.test_e", "tests._trading"),
            ("tests/stack/test_kafka_probe.py:8", "tests.stack.test_kafka_probe", "cryptoflow.stack._kafka"),
            ("tests/binance/test_f.py:9", "tests.binance.test_f", "tests.testing.fake_binance.conftest"),
            ("tests/indicators/test_g.py:10", "tests.indicators.test_g", "tests.indicators.test_indicators"),
        ]
    )
    assert offending == [
        "tests/kafka/test_a.py:3 imports another package's private module cryptoflow.stack._tls",
        "tests/stack/test_b.py:4 imports an unlisted private module cryptoflow.stack._tls.ensure_broker_tls",
        "tests/kafka/test_c.py:5 imports tests.auto_trade._chain",
        "tests/binance/test_f.py:9 imports tests.testing.fake_binance.conftest: shared helpers belong in "
        "cryptoflow.testing",
        "tests/indicators/test_g.py:10 imports tests.indicators.test_indicators: shared helpers belong in "
        "cryptoflow.testing",
    ]
    assert package_under_test("tests.testing.fake_binance.test_rest") == "cryptoflow.testing.fake_binance"
    assert package_under_test("tests.auto_trade.test_worker") == "auto_trade"
