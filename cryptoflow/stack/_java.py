"""Find a Java 17+ runtime for Kafka and Elasticsearch, or say plainly how to get one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from cryptoflow.errors import StackError

_INSTALL_HINT = "install one with `apt-get install openjdk-17-jre-headless`, or point JAVA_HOME at a JDK 17+"


@cache
def java_home() -> Path:
    """JAVA_HOME if set, else the installation behind the ``java`` on PATH; checks the version is >= 17."""
    home_env = os.environ.get("JAVA_HOME")
    if home_env and (Path(home_env) / "bin" / "java").exists():
        home = Path(home_env)
    else:
        found = shutil.which("java")
        if found is None:
            raise StackError(
                f"Java 17+ is needed for the local Kafka and Elasticsearch and none was found: "
                f"{_INSTALL_HINT}"
            )
        home = Path(found).resolve().parent.parent
    result = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        raise StackError(f"could not read the version of {home / 'bin' / 'java'}: {_INSTALL_HINT}")
    major = int(match.group(1)) if match.group(1) != "1" else int(match.group(2) or 0)
    if major < 17:
        raise StackError(
            f"Java {major} at {home} is too old; Kafka 3.9 and Elasticsearch 8 need 17+: {_INSTALL_HINT}"
        )
    return home


def java_executable() -> str:
    return str(java_home() / "bin" / "java")


def java_env() -> dict[str, str]:
    """The environment for a JVM child: JAVA_HOME/ES_JAVA_HOME set, no inherited JVM options."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("JAVA_TOOL_OPTIONS", "_JAVA"))
    }
    env["JAVA_HOME"] = env["ES_JAVA_HOME"] = str(java_home())
    return env
