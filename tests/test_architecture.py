"""The package's shape: no import cycles, no module reading another's private names, one place that
picks a follow kernel, modules of a readable size."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kgqa"
MAX_LINES = 420  # "about 400": past it a module usually holds more than one idea
LONG_ON_PURPOSE = {
    "kgqa.kg": "one class, KnowledgeGraph: its vocabulary and lookups; reading, writing (kg_io) and "
               "statistics (kg_stats) already live apart",
}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports when it runs (``if TYPE_CHECKING`` blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for b in tree.body if isinstance(b, ast.If) and "TYPE_CHECKING" in ast.dump(b.test)
                   for n in ast.walk(b)}
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and id(node) not in typing_only:
            if node.level:
                target = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for cand in [target] + [f"{target}.{a.name}" for a in node.names]:
                if cand in known and cand != name and not name.startswith(cand + "."):
                    out.add(cand)
    return out


def test_no_import_cycles():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    assert cycles == []


def test_no_module_imports_or_reads_another_modules_private_names():
    bad = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("kgqa")):
                bad += [f"{name}: imports {a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
        # the objects other modules hand around: graphs, reified graphs, systems, models, outputs
        bad += [f"{name}: {m.group(0)}" for m in re.finditer(r"\b(kg|kb|system|model|encoder|resolver|res|out|slots)"
                                                           r"\._[a-z]\w*", text)
                if not (name == "kgqa.kg" and m.group(1) == "kg")]  # a graph method reading another graph
    assert bad == []


def test_one_place_picks_the_follow_kernel():
    callers = [name for name, path in modules().items()
               if re.search(r"\bfused\.(supports|dense_hop|sparse_hop)\(", path.read_text(encoding="utf-8"))]
    assert callers == ["kgqa.follow"]


def test_modules_stay_readable():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES and name not in LONG_ON_PURPOSE}
    assert long == {}
