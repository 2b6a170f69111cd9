"""Imports run one way: config <- storage <- connectors <- gateway's services <- http / cli.

Read from the code itself (every `import`, also those inside functions), so a new arrow
that runs back up, or a new circle of modules, fails here with its file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGES = ("config", "storage", "connectors", "gateway")

# Lowest first; a module may import its own layer and those below, never one above.
LAYERS = (
    ("config",),
    ("storage",),
    ("connectors",),
    (
        "gateway",  # the package itself: its version
        "gateway.embeddings",
        "gateway.schemas",
        "gateway.telemetry",
        "gateway.services",
        "gateway.charts",
        "gateway.evaluation",
    ),
    ("gateway.http", "gateway.cli", "gateway.app"),
)


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    where: str  # file:line


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _arrows(modules: dict[str, Path]) -> list[Arrow]:
    def resolve(name: str) -> str | None:
        # `from a.b import c`: c may be a module or a name in a.b.
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    arrows = []
    for source, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in PACKAGES:
                    continue
                target = resolve(name)
                if target is not None and target != source:
                    arrows.append(Arrow(source, target, f"{path.name}:{node.lineno}"))
    return arrows


def _layer(module: str) -> int:
    best, depth = -1, -1
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = level, len(prefix)
    assert best >= 0, f"{module} belongs to no layer: add its room to LAYERS"
    return best


def test_every_module_belongs_to_a_layer():
    for module in _modules():
        _layer(module)


def test_no_import_runs_back_up_the_layers():
    back = [
        f"{a.source} ({a.where}) imports {a.target}"
        for a in _arrows(_modules())
        if _layer(a.target) > _layer(a.source)
    ]
    assert not back, "imports that run back up:\n" + "\n".join(back)


def test_no_modules_import_each_other_in_a_circle():
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for arrow in _arrows(modules):
        graph[arrow.source].add(arrow.target)

    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
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
                circle = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    circle.append(member)
                    if member == node:
                        break
                if len(circle) > 1:
                    circles.append(sorted(circle))
    assert not circles, f"modules that import each other: {circles}"


def test_the_checks_see_a_back_arrow_and_a_circle(tmp_path, monkeypatch):
    """The two checks above fail on the mistakes they are for."""
    import tests.test_layers as layers

    root = tmp_path
    for package in PACKAGES:
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    (root / "storage" / "low.py").write_text("from gateway.services.high import x\n")
    (root / "gateway" / "services").mkdir()
    (root / "gateway" / "services" / "__init__.py").write_text("")
    (root / "gateway" / "services" / "high.py").write_text(
        "x = 1\n\ndef f():\n    from gateway.services import other\n"
    )
    (root / "gateway" / "services" / "other.py").write_text("from gateway.services.high import x\n")
    monkeypatch.setattr(layers, "REPO_ROOT", root)

    arrows = layers._arrows(layers._modules())
    back = [a for a in arrows if layers._layer(a.target) > layers._layer(a.source)]
    assert [(a.source, a.target) for a in back] == [("storage.low", "gateway.services.high")]
    with pytest.raises(AssertionError, match=r"gateway\.services\.high") as raised:
        layers.test_no_modules_import_each_other_in_a_circle()
    assert "gateway.services.other" in str(raised.value)
