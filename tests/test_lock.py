"""How a team installs: requirements.lock (what `make` installs) holds every dependency
pyproject.toml names, at a version pyproject.toml allows (a dependency added without
`make lock` fails here); dev tools are bounded; `make help` lists every target."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

# Every test here starts a child process (an ecnews command, a crawl or a tool): not in make test-fast.
pytestmark = pytest.mark.process


PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def locked() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text("utf-8")
    return {canonicalize_name(name): version for name, version in PINNED.findall(text)}


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_lock_pins_an_allowed_version(requirement: Requirement) -> None:
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement} is not in requirements.lock: run `make lock`"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"requirements.lock pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
    )


def test_every_dev_tool_has_an_upper_bound() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    build = [Requirement(r) for r in project["build-system"]["requires"]]
    dev = [Requirement(r) for r in project["project"]["optional-dependencies"]["dev"]]
    unbounded = [
        str(r)
        for r in [*build, *dev]
        if not any(s.operator in {"<", "<=", "==", "~="} for s in r.specifier)
    ]
    assert not unbounded


def test_make_help_lists_every_target() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    listed = subprocess.run(
        [make, "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    targets = re.findall(r"^\.PHONY: (.+)$", (ROOT / "Makefile").read_text("utf-8"), re.MULTILINE)
    for target in targets[0].split():
        assert f"make {target} " in listed, target
    assert listed.splitlines()[0].startswith("  make help")
