"""The trading topology of the stacks, checked without a Docker engine: the strategy worker and the
executor run the same read-only bot file, keep their state on volumes of their own, and trade candles the
indicators service publishes (its symbols and interval cover the bot's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptoflow.config import load_settings
from cryptoflow.portfolio import check_broker, load_bot
from tests.docker._compose import DOCKER, example_env

BOT_PATH = "/etc/cryptoflow/bot.toml"
TRADING = ("signals", "executor")


def _option(command: list[str], name: str) -> str:
    assert name in command, f"{command} has no {name}"
    return command[command.index(name) + 1]


def _mounts(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {mount["target"]: mount for mount in service.get("volumes") or []}


def test_worker_and_executor_run_the_mounted_bot_file(project: dict[str, Any]) -> None:
    sources = set()
    for name in TRADING:
        service = project["services"][name]
        assert _option(service["command"], "--bot") == BOT_PATH, name
        bot = _mounts(service).get(BOT_PATH)
        assert bot is not None and bot["type"] == "bind", f"{name}: the bot file is not mounted"
        assert bot.get("read_only") is True, f"{name}: mount the bot file read-only"
        sources.add(bot["source"])
    assert len(sources) == 1, f"the worker and the executor run different bot files: {sources}"


def test_each_role_keeps_its_state_on_a_volume_of_its_own(project: dict[str, Any]) -> None:
    volumes = []
    for name in TRADING:
        service = project["services"][name]
        state = _option(service["command"], "--state-dir")
        mount = _mounts(service).get(state)
        assert mount is not None and mount["type"] == "volume", f"{name}: {state} is not on a volume"
        assert not mount.get("read_only"), f"{name}: its state volume is read-only"
        volumes.append(mount["source"])
    assert len(set(volumes)) == len(volumes), f"the roles share a state volume: {volumes}"


def test_the_executor_alone_gets_exchange_keys_and_runs_once(project: dict[str, Any]) -> None:
    services = project["services"]
    keyed = {n for n, s in services.items() if "CRYPTOFLOW_BINANCE__API_KEY" in (s.get("environment") or {})}
    assert keyed == {"executor"}
    assert services["executor"]["deploy"].get("replicas", 1) == 1, "one executor per bot and state"


def test_the_shipped_bot_is_paper_and_the_indicators_cover_it(project: dict[str, Any]) -> None:
    """The stack's candles are the bot's: the indicators service publishes the bot's interval and (at
    least) its symbols, with the defaults of the compose files and of docker/.env.example alike."""
    source = Path(_mounts(project["services"]["executor"])[BOT_PATH]["source"])
    assert source.parent == DOCKER and source.name == example_env()["BOT_FILE"].removeprefix("./")
    bot = load_bot(source)
    assert bot.broker == "paper"
    check_broker(bot, live_flag=False, settings=load_settings(binance={"api_key": None, "api_secret": None}))
    command = project["services"]["realtime-indicator"]["command"]
    assert _option(command, "--interval") == bot.interval
    assert set(bot.symbols) <= set(_option(command, "--symbols").split(","))
    assert "--run-id" not in command, "the strategy worker reads the candles of run id `realtime`"
