"""deploy/: the compose file and the systemd units run the README's commands, in order.

`docker compose config` validates the compose file where Docker's compose plugin exists;
everywhere the structure is checked here (services, their order, commands, environment),
and `systemd-analyze verify` checks the units where systemd is installed.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

# Every test here starts a child process (an ecnews command, a crawl or a tool): not in make test-fast.
pytestmark = pytest.mark.process


DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
UNITS = sorted((DEPLOY / "systemd").glob("ecnews-*"))
COMPOSE_ENV = {"NEWS_SITE_URL": "https://news.example.com", "ECNEWS_DB_PASSWORD": "change-me"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return loaded


def docker_compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30,
                           check=False)  # fmt: skip
    return [docker, "compose"] if probe.returncode == 0 else None


def test_docker_compose_config_accepts_it() -> None:
    command = docker_compose()
    if command is None:
        pytest.skip("no `docker compose` here: the structure is checked by the tests below")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "--quiet"],
        env={**os.environ, **COMPOSE_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_services_start_in_order() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "seed", "worker"}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["seed"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["worker"]["depends_on"] == {
        "seed": {"condition": "service_completed_successfully"}
    }
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    assert services["worker"]["deploy"]["replicas"] == "${ECNEWS_WORKERS:-2}"


def test_ecnews_services_run_the_documented_commands() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["seed"]["command"][:3] == ["crawl", "--distributed", "--seed"]
    assert services["worker"]["command"] == ["crawl", "--distributed"]
    # The scale-out commands are documented in docs/scaling-out.md, linked from the README.
    readme = (ROOT / "docs" / "scaling-out.md").read_text("utf-8")
    assert "ecnews crawl --distributed --seed" in readme
    assert "ecnews crawl --distributed " in readme
    for name in ("migrate", "seed", "worker"):
        service = services[name]
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://ecnews:")
        assert environment["DATABASE_URL"].endswith("@postgres/ecnews")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["NEWS_SITE_URL"].startswith("${NEWS_SITE_URL:?")
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["volumes"] == ["ecnews-data:/srv/ecnews/data"]


def test_the_image_installs_the_lock_and_the_packages_that_exist() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text("utf-8").splitlines()
    copied = [line.split()[1:-1] for line in dockerfile if line.startswith("COPY ")]
    for sources in copied:
        for source in sources:
            assert (ROOT / source).exists(), source
    assert any("--require-hashes" in line and "requirements.lock" in line for line in dockerfile)


def unit(path: Any) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(path, encoding="utf-8")
    return parser


@pytest.mark.parametrize(
    ("name", "command", "calendar"),
    [
        ("ecnews-crawl", "ecnews crawl --log-file", "*-*-* *:05:00"),
        ("ecnews-full", "ecnews crawl --mode full --log-file", "*-*-* 03:30:00"),
    ],
    ids=["hourly", "nightly"],
)
def test_systemd_units_match_the_cron_lines(name: str, command: str, calendar: str) -> None:
    service = unit(DEPLOY / "systemd" / f"{name}.service")
    timer = unit(DEPLOY / "systemd" / f"{name}.timer")
    assert command in service["Service"]["ExecStart"]
    assert service["Service"]["Type"] == "oneshot"
    assert timer["Timer"]["OnCalendar"] == calendar
    readme = (ROOT / "README.md").read_text("utf-8")
    cron_line = next(line for line in readme.splitlines() if command in line and "cd /srv" in line)
    assert (
        cron_line.split(".venv/bin/", 1)[1]
        == service["Service"]["ExecStart"].split(".venv/bin/", 1)[1]
    )


def test_systemd_accepts_the_units() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze here")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, UNITS)],
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "err"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # The units name the install's paths (/srv/ecnews/.venv/bin/ecnews), absent here.
    problems = [
        line for line in result.stderr.splitlines() if line and "is not executable" not in line
    ]
    assert not problems, result.stderr
