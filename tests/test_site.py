"""The documentation site: it builds with every warning an error (a broken link between
pages, a reference to an object that is not documented, bad markup, a directive that
fails), and its reference names every public name of the package and of the test kit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import vas_lifecycle
import vas_lifecycle.testing

ROOT = Path(__file__).resolve().parent.parent
#: what scripts/docs.sh runs: every warning an error, a reference to nothing too (-n), the
#: whole site rebuilt
SPHINX = [sys.executable, "-m", "sphinx", "-E", "-W", "-n", "--keep-going", "-q", "-b", "html"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [*SPHINX, str(ROOT / "docs"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_site_builds_with_every_warning_an_error(site: Path) -> None:
    for page in ("index", "lifecycle", "rules", "regimes", "reference/lifecycle"):
        assert (site / f"{page}.html").is_file(), page
    assert "stateDiagram-v2" in (site / "lifecycle.html").read_text(encoding="utf-8")


def test_every_public_name_is_in_the_reference(site: Path) -> None:
    from sphinx.util.inventory import InventoryFile

    with (site / "objects.inv").open("rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    documented = {name.rsplit(".", 1)[-1] for entries in inventory.values() for name in entries}
    for module in (vas_lifecycle, vas_lifecycle.testing):
        missing = sorted(set(module.__all__) - documented)
        assert not missing, f"{module.__name__}: {missing} not in the reference"


def _undocumented(module: object) -> list[str]:
    """The public names of ``module`` (its ``__all__``), and the public methods and
    properties of its public classes, that have no docstring of their own or inherited."""
    import enum
    import inspect

    missing = []
    for name in module.__all__:  # type: ignore[attr-defined]
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if not inspect.isclass(obj) or issubclass(obj, (BaseException, enum.Enum)):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            func = value.fget if isinstance(value, property) else value
            func = getattr(func, "__func__", func)
            if inspect.isfunction(func) and not inspect.getdoc(getattr(obj, attr)):
                missing.append(f"{name}.{attr}")
    return missing


def test_every_public_name_and_port_method_says_what_it_does() -> None:
    import vas_lifecycle.store.base

    for module in (vas_lifecycle, vas_lifecycle.testing, vas_lifecycle.store.base):
        assert _undocumented(module) == [], module.__name__
