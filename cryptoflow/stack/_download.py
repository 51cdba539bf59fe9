"""Fetch, once, the Kafka broker jars and the Elasticsearch distribution from Maven Central."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from cryptoflow.config import StackSettings
from cryptoflow.errors import StackError

log = logging.getLogger(__name__)

# reload4j binding: the kafka_2.13 POM brings slf4j-api but no logging backend.
_SLF4J_BINDING = ("org.slf4j", "slf4j-reload4j", "1.7.36")
_COMPLETE = ".complete"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cryptoflow.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <repositories>
    <repository><id>configured</id><url>{repository}</url></repository>
  </repositories>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>{binding[0]}</groupId><artifactId>{binding[1]}</artifactId>
      <version>{binding[2]}</version></dependency>
  </dependencies>
</project>
"""


def kafka_dir(settings: StackSettings) -> Path:
    return settings.home / "dist" / f"kafka_2.13-{settings.kafka_version}"


def ensure_kafka(settings: StackSettings) -> Path:
    """The folder holding ``libs/*.jar`` of the Kafka broker, resolved with Maven on first use."""
    target = kafka_dir(settings)
    if (target / _COMPLETE).exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (`mvn`) is needed once to fetch the Kafka broker from Maven Central and is not on PATH: "
            "install it with `apt-get install maven`"
        )
    target.mkdir(parents=True, exist_ok=True)
    (target / "pom.xml").write_text(
        _POM.format(
            repository=settings.maven_repository, version=settings.kafka_version, binding=_SLF4J_BINDING
        )
    )
    libs = target / "libs"
    shutil.rmtree(libs, ignore_errors=True)
    log.info(
        "fetching Apache Kafka %s broker jars from %s", settings.kafka_version, settings.maven_repository
    )
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        cwd=target,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackError(
            f"could not fetch Kafka {settings.kafka_version} with Maven from {settings.maven_repository}; "
            "check the network and CRYPTOFLOW_STACK__MAVEN_REPOSITORY / CRYPTOFLOW_STACK__KAFKA_VERSION.\n"
            f"Maven said:\n{tail}"
        )
    (target / _COMPLETE).write_text(settings.kafka_version)
    return target


def elasticsearch_zip_url(settings: StackSettings) -> str:
    version = settings.elasticsearch_version
    return (
        f"{settings.maven_repository.rstrip('/')}/org/elasticsearch/distribution/integ-test-zip/"
        f"elasticsearch/{version}/elasticsearch-{version}.zip"
    )


def elasticsearch_dir(settings: StackSettings, root: Path) -> Path:
    return root / "dist" / f"elasticsearch-{settings.elasticsearch_version}"


def _fetch(url: str, destination: Path) -> None:
    partial = destination.with_suffix(destination.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                partial.open("wb") as out,
                Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    transient=True,
                ) as progress,
            ):
                task = progress.add_task(f"downloading {destination.name}", total=total)
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise StackError(
            f"could not download {url}: {exc}. Check the network, or set CRYPTOFLOW_STACK__MAVEN_REPOSITORY "
            "to a reachable Maven repository mirror"
        ) from None
    partial.rename(destination)


def _expected_sha1(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url + ".sha1", timeout=30) as response:
            return response.read().decode().split()[0].strip().lower()
    except (urllib.error.URLError, OSError, IndexError):
        return None


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_elasticsearch(settings: StackSettings, root: Path) -> Path:
    """The unpacked Elasticsearch distribution under ``root``; the zip is cached under the stack home."""
    target = elasticsearch_dir(settings, root)
    if (target / _COMPLETE).exists():
        return target
    url = elasticsearch_zip_url(settings)
    archive = settings.home / "downloads" / url.rsplit("/", 1)[1]
    archive.parent.mkdir(parents=True, exist_ok=True)
    expected = _expected_sha1(url)
    if archive.exists() and expected and _sha1(archive) != expected:
        archive.unlink()
    if not archive.exists():
        log.info("downloading Elasticsearch %s from %s", settings.elasticsearch_version, url)
        _fetch(url, archive)
        if expected and _sha1(archive) != expected:
            archive.unlink()
            raise StackError(f"{url} did not match its published SHA-1; the download was removed, run again")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            path = Path(bundle.extract(member, staging))
            mode = (member.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)
    (inner,) = list(staging.iterdir())
    inner.rename(target)
    staging.rmdir()
    (target / _COMPLETE).write_text(settings.elasticsearch_version)
    return target
