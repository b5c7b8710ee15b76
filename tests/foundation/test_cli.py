"""The hgsync command line skeleton."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from cli import app


def test_help_lists_the_planned_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "sandbox", "tenant", "run", "serve", "report", "replay"):
        assert command in result.output


def test_packages_import():
    code = "import flows, tasks, mappings, clients, store, sandbox, cli"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
