"""Sphinx configuration of the documentation site (``scripts/docs.sh`` builds it).

The pages are Markdown (MyST); the reference is generated from the docstrings by
autodoc. The build runs with ``-W -n --keep-going``: a warning, a broken link or a
reference to nothing fails it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from vas_lifecycle import __version__  # noqa: E402 - after the path is set

project = "vas_lifecycle"
author = "the vas_lifecycle authors"
copyright = "2026, the vas_lifecycle authors"
release = __version__
version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinxcontrib.mermaid",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "conf.py"]
myst_heading_anchors = 3
myst_fence_as_directive = ["mermaid"]
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = f"vas_lifecycle {__version__}"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_class_signature = "separated"
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

nitpicky = True
#: types of other libraries and of the standard library: not ours to document
nitpick_ignore_regex = [
    (r"py:.*", r"(pendulum|attrs|decimal|datetime|dt|typing|collections|zoneinfo|enum|abc)\b.*"),
    (r"py:.*", r"(psycopg|sqlite3|random|threading|pathlib|types|io|logging)\b.*"),
    (r"py:.*", r"(prometheus_client)\b.*"),
    (r"py:.*", r"(hypothesis|contextlib|os|json|hashlib|string|wsgiref|http)\b.*"),
    (r"py:class", r"(Decimal|Path|Any|Callable|Iterable|Iterator|Mapping|Sequence|T|Self)"),
    # type variables and aliases: their definitions are not API
    (r"py:(class|obj)", r"(vas_lifecycle\.store\.base\.ItemT|Values)"),
    # the HTTP plumbing's WSGI application: used as any WSGI application, not API
    (r"py:class", r"vas_lifecycle\.wsgi\.Routes"),
]

# Names our docstrings use unqualified in "Raises:" and types: where each is documented.
import vas_lifecycle  # noqa: E402
import vas_lifecycle.testing  # noqa: E402

napoleon_preprocess_types = True
napoleon_type_aliases = {
    name: f"{getattr(module, name).__module__}.{name}"
    for module in (vas_lifecycle, vas_lifecycle.testing)
    for name in module.__all__
    if isinstance(getattr(module, name), type)
}


def _no_inline_type(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """An attribute's comment that starts "UK1: what it does" names a rule, not a type:
    napoleon reads the words before the colon as the attribute's type (a ``:type:``
    line); put them back in front of the text (the annotation gives the type)."""
    if what not in ("attribute", "data", "property"):
        return
    typed = [n for n, line in enumerate(lines) if line.startswith(":type: ")]
    for n in reversed(typed):
        words = lines.pop(n).removeprefix(":type: ")
        first = next((k for k, line in enumerate(lines) if line.strip()), 0)
        lines[first] = f"{words}: {lines[first]}" if lines else words


def _short_reference(app: object, env: object, node: object, contnode: object) -> object:
    """A reference our docstrings write short (``Policy``, ``Lifecycle.spend``,
    ``vas_lifecycle.ReasonCode``, where the object is documented in its own module)
    goes to the one documented object whose name ends with it; none, or several,
    leave it missing (and the build fails)."""
    if node.get("refdomain") != "py":  # type: ignore[attr-defined]
        return None
    target = node["reftarget"].removeprefix("vas_lifecycle.")  # type: ignore[index]
    python = env.get_domain("py")  # type: ignore[attr-defined]
    found = [name for name in python.objects if name.endswith("." + target)]
    if len(found) != 1:
        return None
    return python.resolve_xref(
        env,
        node["refdoc"],  # type: ignore[index]
        app.builder,  # type: ignore[attr-defined]
        node["reftype"],  # type: ignore[index]
        found[0],
        node,
        contnode,
    )


def setup(app: object) -> None:
    # after napoleon (priority 500), which makes the ``:type:`` lines
    app.connect("autodoc-process-docstring", _no_inline_type, priority=600)  # type: ignore[attr-defined]
    app.connect("missing-reference", _short_reference)  # type: ignore[attr-defined]
