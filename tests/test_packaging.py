"""The package as Python users expect it: one version, an SPDX license with its
file, psycopg without a binary choice made for the application, a library logger
that prints nothing unless the application configures logging, and an install that
prints no deprecation of the project's own metadata."""

from __future__ import annotations

import importlib.metadata
import logging
import subprocess
import sys
import tomllib
from pathlib import Path

import vas_lifecycle

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_is_written_once() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("vas-lifecycle") == vas_lifecycle.__version__


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert importlib.metadata.metadata("vas-lifecycle")["License-Expression"] == "MIT"


def test_the_postgres_extra_leaves_the_binary_choice_to_the_application() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert extras["postgres"] == ["psycopg>=3.1"]
    assert any(d.startswith("psycopg[binary]") for d in extras["dev"])  # our own choice


def test_the_library_logger_prints_nothing_unless_logging_is_configured() -> None:
    assert any(
        isinstance(h, logging.NullHandler) for h in logging.getLogger("vas_lifecycle").handlers
    )
    script = "import logging, vas_lifecycle; logging.getLogger('vas_lifecycle.worker').warning('x')"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stderr == ""


def test_installing_prints_no_deprecation_of_the_projects_metadata() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", ".", "--dry-run", "--no-deps", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "deprecat" not in (done.stdout + done.stderr).lower()
