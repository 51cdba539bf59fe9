"""Find a strategy class by name, by ``path/to/file.py[:ClassName]`` or by ``package.module:ClassName``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from cryptoflow.errors import ConfigurationError
from cryptoflow.strategies._base import CONTRACT_VERSION, Strategy, StrategyError
from cryptoflow.strategies._builtin import BasicStrategy, CustomStrategy, EnsembleStrategy

__all__ = ["BUILTIN_STRATEGIES", "load_strategy", "strategy_class"]

BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (BasicStrategy, CustomStrategy, EnsembleStrategy)
}
"""The strategies shipped with cryptoflow, by name."""


def _classes_in(module: ModuleType) -> list[type[Strategy]]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Strategy) and obj is not Strategy and obj.__module__ == module.__name__
    ]


def _import_file(path: Path) -> ModuleType:
    if path.is_dir():
        raise ConfigurationError(f"strategy file {str(path)!r} is a folder; give the .py file inside it")
    if not path.is_file():
        raise ConfigurationError(f"strategy file {str(path)!r} does not exist")
    module_name = f"cryptoflow_user_strategy_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"strategy file {str(path)!r} cannot be imported (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise StrategyError(
            f"strategy file {str(path)!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def strategy_class(spec: str) -> type[Strategy]:
    """The strategy class named by ``spec``.

    ``spec`` is a built-in name (``basic``, ``custom``, ``ensemble``), a file ``my_strats.py`` holding
    exactly one :class:`Strategy` subclass, ``my_strats.py:ClassName``, or ``package.module:ClassName``.
    Raises :class:`~cryptoflow.errors.ConfigurationError` when nothing matches.
    """
    if spec in BUILTIN_STRATEGIES:
        return BUILTIN_STRATEGIES[spec]
    target, _, class_name = spec.partition(":")
    if target.endswith(".py"):
        module = _import_file(Path(target))
    elif class_name:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import strategy module {target!r}: {exc}") from exc
    else:
        raise ConfigurationError(
            f"unknown strategy {spec!r}; use one of {', '.join(sorted(BUILTIN_STRATEGIES))}, "
            "a file path 'path/to/file.py[:ClassName]' or 'package.module:ClassName'"
        )
    if class_name:
        cls = getattr(module, class_name, None)
        if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
            found = ", ".join(c.__name__ for c in _classes_in(module)) or "none"
            raise ConfigurationError(
                f"{target!r} has no Strategy subclass named {class_name!r} (found: {found})"
            )
    else:
        classes = _classes_in(module)
        if len(classes) != 1:
            found = ", ".join(c.__name__ for c in classes) or "none"
            raise ConfigurationError(
                f"{target!r} must define exactly one Strategy subclass or be given as "
                f"'{target}:ClassName' (found: {found})"
            )
        cls = classes[0]
    if getattr(cls, "contract_version", None) != CONTRACT_VERSION:
        raise ConfigurationError(
            f"strategy {cls.__name__} targets contract version {cls.contract_version!r}; "
            f"this cryptoflow implements version {CONTRACT_VERSION}"
        )
    return cls


def load_strategy(spec: str | Strategy, **params: object) -> Strategy:
    """Instantiate the strategy named by ``spec`` (see :func:`strategy_class`) with ``params`` overrides.

    Example::

        strategy = load_strategy("custom", rsi_oversold=20, stop_loss_pct=2)
        strategy = load_strategy("strategies/mine.py:RsiDip")
    """
    if isinstance(spec, Strategy):
        if params:
            return type(spec)(**{**spec.params(), **params})
        return spec
    cls = strategy_class(spec)
    try:
        return cls(**params)
    except (ConfigurationError, StrategyError):
        raise
    except Exception as exc:
        raise StrategyError(
            f"strategy {cls.__name__} failed to initialise: {type(exc).__name__}: {exc}"
        ) from exc
