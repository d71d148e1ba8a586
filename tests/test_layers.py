"""The package's layers: no module imports a layer above its own, and no import cycles."""

import ast
from pathlib import Path

import bluesky_timelapse

PACKAGE = Path(bluesky_timelapse.__file__).parent

LAYERS = [
    {"_files", "_child", "_checks", "_lazy", "specs", "data_dir", "plugins"},
    {"storage"},
    {"sources"},
    {"devices", "async_devices"},
    {"schedules"},
    {"suspenders"},
    {"persistence"},
    {"plans"},
    {"tiled"},
    {"products"},
    {"callbacks"},
    {"session"},
    {"demo", "run_config", "qserver", "ipython_profile", "cli"},
]
"""Bottom first: a module may import its own layer's and the layers below."""


def _layer(part: str) -> int:
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"{part!r} is in no layer; add it to LAYERS")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if not all(part.isidentifier() for part in parts):
            continue  # data shipped in the package, not a module
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(("bluesky_timelapse", *parts))] = path
    return modules


def _imports(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports, lazy (function-level) imports included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {target for target in found if target.startswith("bluesky_timelapse.")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {target for target in _imports(name, path) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_every_subpackage_has_a_layer():
    tops = {name.split(".")[1] for name in _modules() if name.count(".") >= 1}
    for top in tops - {"__main__"}:
        _layer(top)


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for name, targets in _graph().items():
        if name == "bluesky_timelapse":
            continue  # the curated surface names everything, lazily
        own = _layer(name.split(".")[1])
        upward += [
            f"{name} -> {target}" for target in targets if _layer(target.split(".")[1]) > own
        ]
    assert upward == []


def test_there_is_no_import_cycle_between_subpackages():
    """Within a subpackage modules may lean on each other; across them, never both ways."""
    edges = set()
    for name, targets in _graph().items():
        if name == "bluesky_timelapse":
            continue
        source = name.split(".")[1]
        edges |= {(source, target.split(".")[1]) for target in targets}
    both_ways = sorted(
        f"{source} <-> {target}"
        for source, target in edges
        if source < target and (target, source) in edges
    )
    assert both_ways == []


def test_there_is_no_import_cycle_between_modules():
    graph = _graph()
    graph.pop("bluesky_timelapse")
    # Importing a package runs its __init__, so a module importing its own package's
    # __init__ is a cycle only if that __init__ imports it back; keep the edges as they are.
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if target in stack and _is_package_of(target, node):
                continue  # a submodule reaching into its own package's other modules
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def _is_package_of(package: str, module: str) -> bool:
    return module.startswith(package + ".")
