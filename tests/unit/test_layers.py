"""The package's shape: layers point down, and no module grows past a readable size.

Layers, lowest first (DESIGN.md, "Layers point down"):

    schema, config  <-  data, features, models  <-  monitoring  <-  serving  <-  pipelines  <-  cli

A module may import its own layer and the layers below it, never one above. ``monitoring``
and ``serving`` share a tier in the design; here ``serving`` sits just above ``monitoring``:
the API reads monitoring's records to export the latest verdict as gauges, and monitoring
never needs anything from the API. The Airflow DAGs (``dags/``) sit beside the CLI, on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "fraudops"

LAYERS: dict[str, int] = {
    "schema": 0,
    "config": 0,
    "data": 1,
    "features": 1,
    "models": 1,
    "monitoring": 2,
    "decisions": 2,
    "cases": 2,
    "serving": 3,
    "console": 3,
    "pipelines": 4,
    "cli": 5,
}
MAX_LINES = 450


def _part(module: str) -> str | None:
    """``fraudops.serving.app`` -> ``serving``; ``fraudops`` itself -> None."""
    parts = module.split(".")
    if parts[0] != "fraudops" or len(parts) < 2:
        return None
    return parts[1]


def _imported_modules(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """Every fraudops module a file imports, at any depth (function-local imports too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from fraudops import serving`` names the subpackage in the alias (and
            # ``from fraudops import __version__`` names the package's own attribute)
            if target == "fraudops":
                found += [
                    (node.lineno, f"fraudops.{alias.name}" if alias.name in LAYERS else target)
                    for alias in node.names
                ]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.startswith("fraudops")]


def upward_imports(root: Path = PACKAGE) -> list[str]:
    """``path:line: <layer> imports <module> (<layer>)`` for each import against the rule."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent)
        module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        own = _part(module)
        if own is None:  # fraudops/__init__.py
            continue
        assert own in LAYERS, f"{relative}: {own!r} has no layer; add it to LAYERS"
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, imported in _imported_modules(tree, package):
            target = _part(imported)
            if target is None or target == own:
                continue
            assert target in LAYERS, f"{relative}:{line}: {imported} has no layer"
            if LAYERS[target] > LAYERS[own]:
                problems.append(f"{relative}:{line}: {own} imports {imported} ({target})")
    return problems


def test_every_package_has_a_layer() -> None:
    parts = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert parts - {"__init__"} == set(LAYERS)


def test_no_module_imports_a_layer_above_it() -> None:
    problems = upward_imports()
    assert not problems, "imports against the layer rule:\n" + "\n".join(problems)


def test_the_check_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    root = tmp_path / "fraudops"
    (root / "models").mkdir(parents=True)
    (root / "serving").mkdir()
    (root / "__init__.py").write_text("")
    (root / "models" / "__init__.py").write_text("")
    (root / "serving" / "__init__.py").write_text("")
    (root / "serving" / "app.py").write_text("")
    (root / "models" / "bad.py").write_text(
        "from fraudops.config import Settings\n"
        "def f():\n"
        "    from fraudops.serving.app import x\n"
        "    from ..serving import app\n"
        "    from fraudops import pipelines\n"
    )
    problems = upward_imports(root)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "models imports fraudops.serving.app (serving)",
        "models imports fraudops.serving (serving)",
        "models imports fraudops.pipelines (pipelines)",
    ]


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them): {too_long}"
