"""The shape of the code, computed from the code (``ast``): layers, cycles, file sizes.

- ``billing`` (the domain) never imports ``portal`` (the edge) or ``devtools``; ``portal`` never imports
  ``devtools`` (development tooling is not in the product).
- No import cycle between modules of ``billing/`` or of ``portal/``, except the ones listed in
  ``KNOWN_CYCLES`` (a debt being paid off: shrink the list, never grow it; a new cycle fails).
- The packages in ``INDEPENDENT`` never reach each other, directly or through other modules: what joins
  them lives above both.
- No file outside migrations is over 400 lines unless its first line is a comment saying why.

Every import counts, including the ones inside functions: a lazy import hides a cycle from Python, not
from the next person reading the code.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("billing", "portal", "devtools")
MAX_LINES = 400

# Cycles that exist today, each as the set of modules in one strongly connected component. Each entry says
# why it is there; remove it when the cycle is broken (the test fails on a stale entry, so the list shrinks).
KNOWN_CYCLES: list[frozenset[str]] = []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (the most specific module each import names)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from billing import audit" names the module billing.audit; "from billing.models import
            # Organization" names billing.models.
            submodules = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in modules]
            targets = submodules if len(submodules) == len(node.names) else [*submodules, module]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        graph[name] = imports_of(name, path, modules)
    # An import of a package's submodule runs the package's __init__ first, but the package does not
    # depend on the importer: only the edges written in the code count.
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
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
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(frozenset(component))
    return out


def package_graph(graph: dict[str, set[str]], package: str) -> dict[str, set[str]]:
    inside = {n for n in graph if n == package or n.startswith(package + ".")}
    return {n: {t for t in graph[n] if t in inside} for n in inside}


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def import_path(graph: dict[str, set[str]], source: str, target: str) -> list[str]:
    """The shortest chain of imports from a module of package ``source`` to one of ``target`` ([] if none)."""
    came_from = {name: None for name in graph if inside(name, source)}
    queue = deque(came_from)
    while queue:
        name = queue.popleft()
        if inside(name, target):
            chain = []
            while name is not None:
                chain.append(name)
                name = came_from[name]
            return chain[::-1]
        for imported in sorted(graph.get(name, ())):
            if imported not in came_from:
                came_from[imported] = name
                queue.append(imported)
    return []


# Pairs of domain packages that neither imports the other, not even through a third module. Statements and
# offers both price with billing.rating; the offers a statement's PDF shows and the offer computation that
# issuing queues are plugged in from above (billing/statement_offers.py, into billing/statements/hooks.py).
INDEPENDENT = [("billing.statements", "billing.offers")]


def test_the_graph_is_computed_from_the_code():
    graph = import_graph()
    assert "billing.rating.engine" in graph["billing.offers.engine"]
    assert "billing.audit" in graph["billing.statements.disputes"]
    assert "billing.models.audit" in graph["billing.audit"]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert "billing.statements.hooks" in graph["billing.statement_offers"]
    assert "billing.offers.tasks" in graph["billing.statement_offers"]
    chain = {"s.pdf": {"x"}, "x": {"o.sel"}, "o.sel": set(), "s": set(), "o": set()}
    assert import_path(chain, "s", "o") == ["s.pdf", "x", "o.sel"] and import_path(chain, "o", "s") == []


def test_the_domain_never_imports_the_edge_or_the_tooling():
    graph = import_graph()
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if (source.startswith("billing") and target.split(".")[0] in ("portal", "devtools"))
        or (source.startswith("portal") and target.split(".")[0] == "devtools")
    )
    assert not wrong, "\n".join(wrong)


def test_exports_and_tasks_never_import_the_web_pages():
    """What a Celery task runs (exports, their spreadsheet writer) takes domain queries, not web forms."""
    graph = import_graph()
    wrong = sorted(
        f"{source} imports {target}"
        for source in ("portal.exports", "portal.spreadsheets", "portal.tasks")
        for target in graph[source]
        if target.startswith("portal.web")
    )
    assert not wrong, "\n".join(wrong)


def test_no_new_import_cycles_in_billing_or_portal():
    graph = import_graph()
    cycles = [c for package in ("billing", "portal") for c in strongly_connected(package_graph(graph, package))]
    new = [sorted(c) for c in cycles if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, f"new import cycles (break them; see KNOWN_CYCLES for the ones being paid off): {new}"
    stale = [sorted(known) for known in KNOWN_CYCLES if known not in cycles]
    assert not stale, f"KNOWN_CYCLES lists cycles that shrank or are gone, update them to what remains: {stale}"


def test_independent_packages_never_reach_each_other():
    graph = import_graph()
    wrong = [
        " -> ".join(chain)
        for first, second in INDEPENDENT
        for source, target in ((first, second), (second, first))
        if (chain := import_path(graph, source, target))
    ]
    assert not wrong, "imports between packages that must stay independent:\n" + "\n".join(wrong)


# Long files whose first line does not say why yet, and who is on it (remove an entry when it is done).
LONG_FILES_PENDING: dict[str, str] = {}


def test_no_long_file_without_a_first_line_saying_why():
    long_files = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "var/")) or "/migrations/" in relative:
            continue
        lines = path.read_text().splitlines()
        if len(lines) > MAX_LINES and not lines[0].startswith("#") and relative not in LONG_FILES_PENDING:
            long_files.append(f"{relative} ({len(lines)} lines)")
    assert not long_files, f"over {MAX_LINES} lines without a first-line '# why' comment: {long_files}"
