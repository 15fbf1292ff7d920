"""The import structure stays a tree that runs downward: no import circles between the app's
modules (imports inside functions included), the wire clients import nothing of the app, and
the outbox core imports neither apps nor the senders registered with it."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "activities", "analytics", "emails", "mailboxes", "people", "reminders",
            "salesactions", "syncing", "unsubscribes")
APPS = ("accounts", "activities", "emails", "mailboxes", "people", "reminders", "unsubscribes")
OUTBOX_CORE = ("syncing.outbox.batch", "syncing.outbox.diagnostics", "syncing.outbox.flush",
               "syncing.outbox.queue", "syncing.outbox.registry", "syncing.outbox.streams")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The first-party modules ``name`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from package import module`` imports the module; else the names are in base.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return cycles


def _under(module: str, prefixes) -> bool:
    return any(module == prefix or module.startswith(f"{prefix}.") for prefix in prefixes)


def test_the_walk_sees_the_imports():
    # A guard on the walker itself: a known downward import and a known relative one.
    assert "syncing.clients.marketo" in GRAPH["syncing.mirror.incremental"]
    assert "syncing.outbox.queue" in GRAPH["syncing.outbox.flush"]


def test_no_import_circles():
    assert _cycles() == []


def test_clients_know_the_wire_only():
    offending = {name: sorted(imported - {m for m in imported if _under(m, ["syncing.clients"])})
                 for name, imported in GRAPH.items() if _under(name, ["syncing.clients"])}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_outbox_core_imports_no_app_and_no_sender():
    # salesactions.bulk_insert: a database helper of the project's, importing only Django.
    allowed = ("syncing.models", "syncing.queueing", "syncing.settings", "syncing.clients",
               "salesactions.bulk_insert", *OUTBOX_CORE)
    offending = {name: sorted(m for m in GRAPH[name] if not _under(m, allowed))
                 for name in OUTBOX_CORE}
    assert {name: found for name, found in offending.items() if found} == {}


def test_nothing_imports_the_celery_tasks():
    # syncing.apps loads them at start-up; the rest enqueue them by name (syncing.queueing).
    assert sorted(name for name, imported in GRAPH.items() if "syncing.tasks" in imported) == []


def test_bulk_insert_imports_nothing_of_the_project():
    assert sorted(GRAPH["salesactions.bulk_insert"]) == []

