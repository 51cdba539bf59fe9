"""Fixtures of the compose tests: the stack under test (every registered stack; a module overrides
``stack`` to check fewer), its working folder, and its project as ``docker compose`` resolves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.docker._compose import ALL_STACKS, Stack, example_env, load


@pytest.fixture(scope="module", params=ALL_STACKS, ids=str)
def stack(request: pytest.FixtureRequest) -> Stack:
    return request.param


@pytest.fixture(scope="module")
def workdir(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(stack.name)


@pytest.fixture(scope="module")
def project(stack: Stack, workdir: Path) -> dict[str, Any]:
    """The combined project, as ``docker compose -f FILE [-f FILE ...]`` resolves the stack's files."""
    return load(stack.files, example_env(), workdir)
