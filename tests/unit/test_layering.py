"""The layering, enforced on the import graph of ``ledger`` and ``publicity``.

Every module is parsed with ``ast`` (nothing is imported): every ``import`` and ``from ...
import`` counts, at module level, inside functions and under ``if TYPE_CHECKING:``,
relative or absolute.  The layers, arrows pointing down only (docs/architecture.md):

    pure core  ->  storage  ->  domain (absence, accounts, witness)  ->  publicity  ->  ledger.app

Each failure names the offending edges as ``importer -> imported (file:line)``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "publicity")

CORE = frozenset({
    "ledger", "ledger.jcs", "ledger.merkle", "ledger.note", "ledger.checkpoint", "ledger.tiles",
    "ledger.proof", "ledger.verify", "ledger.verify_cli", "ledger.errors", "ledger.entry",
    "ledger.events",
    "ledger.keys", "ledger.pkcs11uri", "ledger.config", "ledger.jsonread", "ledger.timetext",
    "ledger.ids", "ledger.witness.cosig", "ledger.witness.protocol", "ledger.tlog_policy",
    "ledger.monitor", "ledger.monitor_run", "ledger.webhook_signing",
    "ledger.sm2",
})
# tongsuopy: the 国密 option's SM2 (ledger.sm2 imports it only when an SM2 key is used).
CORE_THIRD_PARTY = frozenset({"cryptography", "rfc8785", "tongsuopy"})
STORAGE = ("ledger.storage", "ledger.migrations")
DOMAIN = ("ledger.absence", "ledger.accounts", "ledger.witness")
APP = "ledger.app"
PUBLICITY = "publicity"
MAX_LINES = 800
MAX_IMPORTS_IN_FUNCTIONS = 15


@dataclass(frozen=True)
class Edge:
    """One import: ``source`` imports ``target`` (a project module or a top-level name)."""

    source: str
    target: str
    path: Path
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = "in a function, " if self.in_function else ""
        return f"{self.source} -> {self.target} ({where}{self.path.relative_to(ROOT)}:{self.line})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


MODULES = _sources()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_project(name: str) -> bool:
    return any(_within(name, p) for p in PACKAGES)


def _project_module(name: str) -> str:
    """The longest prefix of ``name`` that is a module or package of the project."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return name


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, path: Path) -> None:
        self.module, self.path = module, path
        self.depth = 0
        self.edges: list[Edge] = []

    def _add(self, target: str, node: ast.stmt) -> None:
        if _is_project(target):
            target = _project_module(target)
        edge = Edge(self.module, target, self.path, node.lineno, self.depth > 0)
        if edge not in self.edges:  # ``from m import a, b`` is one import of m
            self.edges.append(edge)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function  # noqa: N815
    visit_AsyncFunctionDef = _function  # noqa: N815

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = (self.module if self.path.name == "__init__.py"
                       else self.module.rpartition(".")[0])
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if _is_project(full) and full in MODULES:
                self._add(full, node)  # ``from pkg import submodule``
            else:
                self._add(base, node)


def _edges() -> list[Edge]:
    out: list[Edge] = []
    for module, path in MODULES.items():
        visitor = _Visitor(module, path)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        out.extend(visitor.edges)
    return out


EDGES = _edges()
PROJECT_EDGES = [e for e in EDGES if _is_project(e.target) and e.target != e.source]


def _top(name: str) -> str:
    return name.partition(".")[0]


def _fail_on(edges: list[Edge], what: str) -> None:
    if edges:
        pytest.fail(f"{what} ({len(edges)}):\n  " + "\n  ".join(sorted(map(str, edges))),
                    pytrace=False)


def _cycles() -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in PROJECT_EDGES:
        if e.target in graph:
            graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def test_the_graph_is_read() -> None:
    """The parse finds the layers (a guard against a test that checks nothing)."""
    assert {"ledger.merkle", "ledger.storage.store", "ledger.app.cli", "publicity"} <= set(MODULES)
    assert any(e.source == "ledger.app.cli" and _within(e.target, "ledger") for e in EDGES)


def test_relative_type_checking_and_function_imports_count() -> None:
    """The parse resolves relative imports and sees those under TYPE_CHECKING and in
    functions (on a made-up module of ledger.storage)."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from .. import merkle\n"
        "from .tables import entries\n"
        "if TYPE_CHECKING:\n"
        "    from ledger.absence import projection\n"
        "def f() -> None:\n"
        "    import publicity.report\n")
    visitor = _Visitor("ledger.storage.made_up", MODULES["ledger.storage.store"])
    visitor.visit(ast.parse(source))
    seen = {(e.target, e.in_function) for e in visitor.edges}
    assert {("ledger.merkle", False), ("ledger.storage.tables", False),
            ("ledger.absence.projection", False), ("publicity.report", True)} <= seen


def test_no_import_cycle() -> None:
    messages = []
    for component in _cycles():
        members = set(component)
        inside = [e for e in PROJECT_EDGES if e.source in members and e.target in members]
        messages.append(f"cycle among {', '.join(component)}:\n    "
                        + "\n    ".join(sorted(map(str, inside))))
    if messages:
        pytest.fail("import cycles:\n  " + "\n  ".join(messages), pytrace=False)


def test_only_the_composition_root_imports_publicity() -> None:
    _fail_on([e for e in PROJECT_EDGES if _within(e.target, PUBLICITY)
              and not _within(e.source, PUBLICITY) and not _within(e.source, APP)],
             "imports of publicity outside ledger.app")


def test_publicity_has_no_flask() -> None:
    _fail_on([e for e in EDGES if _within(e.source, PUBLICITY)
              and (_top(e.target) == "flask" or _top(e.target).startswith("flask_"))],
             "publicity imports Flask")


def test_the_core_imports_only_the_standard_library_cryptography_rfc8785_and_the_core() -> None:
    def allowed(target: str) -> bool:
        if _is_project(target):
            return target in CORE
        return _top(target) in sys.stdlib_module_names or _top(target) in CORE_THIRD_PARTY

    _fail_on([e for e in EDGES if e.source in CORE and not allowed(e.target)],
             "pure core imports outside the standard library, cryptography, rfc8785 and the core")


def test_storage_imports_no_domain_publicity_or_app() -> None:
    _fail_on([e for e in PROJECT_EDGES if any(_within(e.source, p) for p in STORAGE)
              and any(_within(e.target, p) for p in (*DOMAIN, PUBLICITY, APP))
              and e.target not in CORE],
             "storage imports the domain, publicity or the composition root")


def test_the_domain_imports_no_publicity_or_app() -> None:
    _fail_on([e for e in PROJECT_EDGES if any(_within(e.source, p) for p in DOMAIN)
              and (_within(e.target, PUBLICITY) or _within(e.target, APP))],
             "the domain imports publicity or the composition root")


def test_nothing_imports_the_composition_root_but_itself() -> None:
    _fail_on([e for e in PROJECT_EDGES if _within(e.target, APP) and not _within(e.source, APP)],
             "imports of ledger.app from outside it")


def test_no_module_over_800_lines() -> None:
    long = {m: n for m, p in MODULES.items()
            if not _within(m, "ledger.migrations.versions")
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, "modules over 800 lines: " + ", ".join(
        f"{MODULES[m].relative_to(ROOT)} ({n})" for m, n in sorted(long.items()))


def test_few_project_imports_inside_functions() -> None:
    """Imports inside functions only where a heavy optional dependency is deferred, and
    those import third-party modules: project imports belong at the top of the module."""
    inside = [e for e in PROJECT_EDGES if e.in_function]
    if len(inside) > MAX_IMPORTS_IN_FUNCTIONS:
        pytest.fail(f"{len(inside)} project imports inside functions (at most "
                    f"{MAX_IMPORTS_IN_FUNCTIONS}):\n  " + "\n  ".join(sorted(map(str, inside))),
                    pytrace=False)


LEDGER_TABLES = frozenset({"entries", "heads", "logs", "keys", "checkpoints", "lock_ddl",
                           "APPEND_ONLY_TABLES"})
"""The ledger's own tables in ``ledger.storage.tables``: only storage (and its
migrations) may touch them; everyone else goes through the store and storage's reads."""


def _imported_names(module: str) -> Iterator[tuple[str, str, str, int]]:
    """``(importer, imported module, name, line)`` for every ``from M import name`` of
    ``module`` in the project, and ``(importer, module, "*module*", line)`` for
    ``import module`` / ``from parent import module``."""
    parent, _, leaf = module.rpartition(".")
    for importer, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and not node.level:
                if node.module == module:
                    for alias in node.names:
                        yield importer, module, alias.name, node.lineno
                elif node.module == parent and any(a.name == leaf for a in node.names):
                    yield importer, module, "*module*", node.lineno
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == module:
                        yield importer, module, "*module*", node.lineno


def test_only_storage_touches_the_ledgers_own_tables() -> None:
    """Outside storage, nobody imports the ledger's own tables (nor the old schema
    module): the store and ``ledger.storage.reads``/``status``/``dump`` answer instead."""
    bad = [f"{imp} -> {mod}.{name} (line {line})"
           for mod in ("ledger.storage.tables", "ledger.storage.schema")
           for imp, _, name, line in _imported_names(mod)
           if not any(_within(imp, p) for p in STORAGE)
           and (name in LEDGER_TABLES or name == "*module*" or mod.endswith("schema"))]
    assert not bad, "the ledger's own tables used outside storage:\n  " + "\n  ".join(bad)


def test_projection_tables_are_read_only_inside_the_domain() -> None:
    """Outside ``ledger.absence`` nobody reads a projection table: the web, publicity and
    ops call ``ledger.absence.queries``.  Only the registry names the tables (for Alembic
    and the backup), and a plan run through ``execute`` may pass the projector ``apply``."""
    bad = [f"{imp} -> {mod}.{name} (line {line})"
           for mod, allowed in (("ledger.absence.projection", {"apply"}),
                                ("ledger.absence.tables", set()))
           for imp, _, name, line in _imported_names(mod)
           if not _within(imp, "ledger.absence") and imp != "ledger.app.registry"
           and name not in allowed]
    assert not bad, "projection tables read outside the domain:\n  " + "\n  ".join(bad)
