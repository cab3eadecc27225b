"""The shape docs/architecture.md describes, checked: layers, sizes, no caches in
the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "vas_lifecycle"

#: Every module of the package, lowest layer first (docs/architecture.md). A module
#: may import from its own layer and the ones before it, never from a later one.
LAYERS: list[tuple[str, set[str]]] = [
    ("basics", {"errors", "privacy", "values", "states", "records"}),
    (
        "model",
        {
            "catalog",
            "clock",
            "machine",
            "notices",
            "policy",
            "regimes",
            "presets",
            "sms",
            "order",
            "commands",
        },
    ),
    (
        "decisions",
        {"consent", "charging", "refunds", "ordering", "timers", "rendering", "feed", "evidence"},
    ),
    ("ports", {"store.base", "notify"}),
    (
        "application",
        {
            "unit_of_work",
            "handlers",
            "outbox",
            "publisher",
            "sms_channel",
            "arguments",
            "queries",
            "deliveries",
            "sp_platform",
            "sp_keys",
            "verification",
        },
    ),
    (
        "adapters",
        {
            "store.memory",
            "store.sql.schema",
            "store.sql.codec",
            "store.sql.transaction",
            "store.sql",
            "store.sqlite",
            "store.postgres",
            "store",
        },
    ),
    ("facade", {"lifecycle", ""}),
    # HTTP: the gateway endpoints and the SP API, on the facade
    (
        "edges",
        {
            "wsgi",
            "gateways",
            "gateways.group_commit",
            "gateways.kannel",
            "sp_api",
            "health",
            "metrics",
            "server",
            "worker",
        },
    ),
    (
        "outside",
        {
            "__main__",
            "cli",
            "cli.app",
            "cli.simulation",
            "cli.serve",
            "cli.settings",
            "testing",
            "testing.catalogs",
            "testing.explorer",
            "testing.invariants",
            "testing.stateful",
            "testing.store_contract",
            "testing.strategies",
        },
    ),
]
LAYER = {module: n for n, (_, modules) in enumerate(LAYERS) for module in modules}
DOMAIN = {
    "records",
    "order",
    "consent",
    "charging",
    "refunds",
    "ordering",
    "timers",
    "feed",
    "notices",
    "rendering",
    "policy",
    "catalog",
    "sms",
    "states",
    "machine",
    "evidence",
    "regimes",
    "presets",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every vas_lifecycle module ``path`` imports, at any depth of the code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "vas_lifecycle":
                modules = {a.name for a in node.names if a.name in LAYER}
                names |= modules
                if len(modules) < len(node.names):  # names of the package itself
                    names.add("")
            elif node.module.startswith("vas_lifecycle."):
                names.add(node.module.removeprefix("vas_lifecycle."))
        elif isinstance(node, ast.Import):
            names |= {
                a.name.removeprefix("vas_lifecycle.")
                for a in node.names
                if a.name.startswith("vas_lifecycle.")
            }
    return names


def test_every_module_has_a_layer() -> None:
    assert set(_modules()) == set(LAYER)


@pytest.mark.parametrize("module", sorted(LAYER))
def test_no_module_imports_from_a_higher_layer(module: str) -> None:
    path = _modules()[module]
    upward = {
        name for name in _imports(path) if name != module and LAYER.get(name, -1) > LAYER[module]
    }
    assert not upward, f"{module} ({LAYERS[LAYER[module]][0]}) imports {sorted(upward)}"


def test_the_library_proper_imports_neither_the_cli_nor_the_test_kit() -> None:
    for module, path in _modules().items():
        if LAYER[module] < LAYER["testing"]:
            outside = {n for n in _imports(path) if n.startswith(("cli", "testing"))}
            assert not outside, f"{module} imports {sorted(outside)}"


def _sizes(path: Path, kinds: type | tuple[type, ...]) -> dict[str, int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, kinds) and node.end_lineno is not None
    }


def test_no_function_is_longer_than_60_lines() -> None:
    long = [
        f"{module}.{name}: {lines}"
        for module, path in _modules().items()
        for name, lines in _sizes(path, (ast.FunctionDef, ast.AsyncFunctionDef)).items()
        if lines > 60
    ]
    assert not long


def _facade_methods() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(_modules()["lifecycle"].read_text(encoding="utf-8"))
    (facade,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Lifecycle"]
    return {f.name: f for f in facade.body if isinstance(f, ast.FunctionDef)}


def _code_lines(function: ast.FunctionDef) -> int:
    """Lines of a function's body after its docstring."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return 0 if not body else (body[-1].end_lineno or 0) - body[0].lineno + 1


def test_each_facade_method_is_checks_one_record_and_one_run() -> None:
    """The facade stays thin per command, not by moving its commands elsewhere: each
    method is its argument checks, one command record and one run (at most 15 lines
    after its docstring), and only ``_run`` and the SMS entry points reach the runner."""
    methods = _facade_methods()
    long = {name: n for name, f in methods.items() if (n := _code_lines(f)) > 15}
    assert not long
    runner = {
        name
        for name, f in methods.items()
        if any(isinstance(n, ast.Attribute) and n.attr == "_runner" for n in ast.walk(f))
    }
    assert runner <= {"__init__", "_run", "handle_sms", "handle_sms_many"}


def test_the_facade_is_at_most_450_lines() -> None:
    """The total grows by one short method (with its reference docstring) per command;
    docs/architecture.md says why the cap is per method."""
    sizes = _sizes(_modules()["lifecycle"], ast.ClassDef)
    assert sizes["Lifecycle"] <= 450


@pytest.mark.parametrize("module", sorted(DOMAIN))
def test_no_cache_in_a_domain_module(module: str) -> None:
    text = _modules()[module].read_text(encoding="utf-8")
    for word in ("functools", "lru_cache", "@cache", "sys.intern", "weakref"):
        assert word not in text, f"{module} uses {word}"
