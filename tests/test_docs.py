"""Docs and examples cannot rot: they are executed or checked here."""

from __future__ import annotations

import ast
import importlib
import re
import runpy
from pathlib import Path

import pytest

import vas_lifecycle

ROOT = Path(__file__).resolve().parent.parent
#: every rule id of the specification (docs/specification.md): its tables' first column
RULE_IDS = re.findall(
    r"^\| ([A-Z]+[0-9]+[a-z]?) \|",
    (ROOT / "docs" / "specification.md").read_text(encoding="utf-8"),
    flags=re.MULTILINE,
)


def test_the_specification_lists_every_rule_once() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS)) >= 51
    for expected in ("C1", "C18", "C1a", "IN8", "UK8", "US4", "AU3", "CT1", "EU1", "CN25c"):
        assert expected in RULE_IDS


def test_lifecycle_diagram_is_fresh() -> None:
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_docs.py"))
    text = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert gen["render"](text) == text, "docs/lifecycle.md is stale: run scripts/gen_docs.py"
    assert vas_lifecycle.mermaid_diagram() in text


def test_regimes_page_is_fresh() -> None:
    """docs/regimes.md is generated from the presets' data: it cannot drift from them."""
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_docs.py"))
    text = (ROOT / "docs" / "regimes.md").read_text(encoding="utf-8")
    assert gen["regimes_page"]() == text, "docs/regimes.md is stale: run scripts/gen_docs.py"
    for name in vas_lifecycle.Policy.presets():
        assert f"## `{name}`" in text
    assert "| UK4 |  |  | 2022-04-05 – 2025-01-31 |" in text  # the date switch, as data


def _rules_table() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in (ROOT / "docs" / "rules.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[A-Z]+\d+[a-z]?(–[A-Z]+\d+)?", cells[0]):
            rows[cells[0]] = cells
    return rows


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _test_exists(ref: str) -> bool:
    path, _, name = ref.partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    names = {
        n.name if not isinstance(n, ast.Assign) else n.targets[0].id  # type: ignore[attr-defined]
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.ClassDef)
        or (isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name))
    }
    return name in names


def test_rules_doc_covers_every_rule_and_its_references_resolve() -> None:
    rows = _rules_table()
    assert set(RULE_IDS) <= rows.keys()
    for rule_id, (_, _rule, status, code, tests) in rows.items():
        code_refs = re.findall(r"`([\w.]+)`", code)
        test_refs = re.findall(r"`([\w/.]+::\w+)`", tests)
        for ref in code_refs:
            assert _resolve(ref) is not None, ref
        for ref in test_refs:
            assert _test_exists(ref), f"{rule_id}: {ref} does not exist"
        if status.startswith("enforced"):
            assert code_refs, f"{rule_id} is enforced but names no code"
            named = [r for r in test_refs if f"_{rule_id.lower()}_" in r.split("::")[1] + "_"]
            assert named, f"{rule_id} is enforced but no test named after it is listed"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_enforced_rule_has_a_test_named_after_it(rule_id: str) -> None:
    status = _rules_table()[rule_id][2]
    if not status.startswith("enforced"):
        pytest.xfail(f"{rule_id}: {status}")
    pattern = re.compile(rf"def test_{rule_id.lower()}_\w+")
    assert any(pattern.search(p.read_text(encoding="utf-8")) for p in (ROOT / "tests").glob("*.py"))


def test_readme_code_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """Every python block of the README, in order, in one namespace."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "二次确认" in out and "awaiting_confirmation" in out and "consent_granted" in out
    assert "1.星辰科技“新闻早报”5元/月" in out
    assert "['help']\n['list_empty']" in out  # the burst's replies, one list per text


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vas_"):
            found += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("vas_")]
    return found


DOC_CODE = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("path", DOC_CODE, ids=lambda p: p.name)
def test_examples_import_only_public_names(path: Path) -> None:
    for name in _imports(path):
        module, _, attr = name.rpartition(".")
        assert module in {"vas_lifecycle", "vas_lifecycle.testing"}, name
        public = importlib.import_module(module).__all__
        assert attr in public, f"{path.name} imports non-public {name}"


def test_readme_imports_only_public_names() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", readme, re.S):
        for match in re.finditer(
            r"from (vas_lifecycle[\w.]*) import \(?([^)]*?)\)?\n", block, re.S
        ):
            public = importlib.import_module(match.group(1)).__all__
            for name in re.findall(r"\w+", match.group(2)):
                assert name in public, name


def test_public_names_are_exported() -> None:
    for name in vas_lifecycle.__all__:
        assert getattr(vas_lifecycle, name) is not None


@pytest.mark.parametrize("doc", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_docs_code_runs_and_imports_only_public_names(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    namespace: dict[str, object] = {}
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        for match in re.finditer(r"from (vas_lifecycle[\w.]*) import \(?([^)]*?)\)?\n", block):
            public = importlib.import_module(match.group(1)).__all__
            for name in re.findall(r"\w+", match.group(2)):
                assert name in public, f"{doc.name} imports non-public {name}"
        exec(compile(block, str(doc), "exec"), namespace)
