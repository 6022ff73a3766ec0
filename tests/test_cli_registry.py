"""The `ecnews` registry: every command module under crawler/commands/ is a subcommand,
and `ecnews --help` lists each with its one-line help."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import crawler.commands
from crawler.cli import COMMANDS, main


def command_modules() -> list[str]:
    names = [info.name for info in pkgutil.iter_modules(crawler.commands.__path__)]
    modules = {name: importlib.import_module(f"crawler.commands.{name}") for name in names}
    return sorted(name for name, module in modules.items() if hasattr(module, "add_parser"))


def test_every_command_module_is_registered() -> None:
    assert sorted(COMMANDS) == command_modules()


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    listed = capsys.readouterr().out
    for name in COMMANDS:
        line = next((line for line in listed.splitlines() if line.split()[:1] == [name]), "")
        assert len(line.split()) > 1, f"{name} has no help line in:\n{listed}"
