"""Sphinx configuration of the documentation site (``scripts/docs.sh`` builds it).

The pages are Markdown (MyST); the reference is generated from the docstrings by
autodoc. The build runs with ``-W --keep-going -n``: a warning, a broken link or a
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
autodoc_class_signature = "separated"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

nitpicky = False
#: types of other libraries and of the standard library: not ours to document
nitpick_ignore_regex = [
    (r"py:.*", r"(pendulum|attrs|decimal|datetime|dt|typing|collections|zoneinfo|enum|abc)\b.*"),
    (r"py:.*", r"(psycopg|sqlite3|random|threading|pathlib|types|io|logging)\b.*"),
    (r"py:class", r"(Decimal|Path|Any|Callable|Iterable|Iterator|Mapping|Sequence|T|Self)"),
]
