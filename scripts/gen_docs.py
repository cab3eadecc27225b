"""Regenerate the generated parts of docs/ (the lifecycle diagram).

Run: python scripts/gen_docs.py  (tests fail when docs/lifecycle.md is stale)
"""

from __future__ import annotations

import re
from pathlib import Path

from vas_lifecycle import mermaid_diagram

DOC = Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md"
BLOCK = re.compile(r"(<!-- diagram:start -->\n```mermaid\n).*?(```\n<!-- diagram:end -->)", re.S)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + mermaid_diagram() + m.group(2), text)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {DOC.name}")
