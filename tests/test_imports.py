"""The import rules of the layout: no application package imports another, and no module reaches into
another package's private modules. Read from the source (every import statement, also those inside
functions and ``TYPE_CHECKING`` blocks), so a broken rule fails here whether or not that code runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPLICATIONS = ("auto_trade", "backtesting", "backtesting_trade", "realtime_indicator")
# the packages whose modules keep to other packages' public names (tests may still test a package's
# own private parts)
PUBLIC_ONLY = (*APPLICATIONS, "cryptoflow", "benchmarks")


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
