"""The package's layers: a lower layer never imports a higher one.

modeling language < distributions < inference kernels < driver and diagnostics
< applications (``pop``) < command line. Every ``import`` in every module is
checked, including imports inside functions.
"""

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "hierax"

LAYERS = [
    ("modeling language", ["_messenger", "_files", "primitives", "handlers", "util"]),
    ("distributions", ["distributions"]),
    ("inference kernels", ["infer.kernels"]),
    ("driver and diagnostics", ["infer", "diagnostics", "viz"]),
    ("applications", ["pop"]),
    ("command line", ["cli"]),
]


def layer_of(module: str) -> int | None:
    """The layer index of a dotted module name below ``hierax`` (None for the package root)."""
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return None if best is None else best[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path):
    tree = ast.parse(path.read_text())
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(["hierax", *base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno


MODULES = sorted(p for p in SOURCE.rglob("*.py") if module_name(p))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_upward_imports(path):
    own = layer_of(module_name(path))
    assert own is not None, f"{module_name(path)} is in no layer: add it to LAYERS"
    for target, line in imported_modules(path):
        if target == "hierax":
            pytest.fail(f"{module_name(path)}:{line} imports the whole package 'hierax'")
        if not target.startswith("hierax."):
            continue
        other = layer_of(target[len("hierax."):])
        if other is not None and other > own:
            pytest.fail(
                f"{module_name(path)}:{line} ({LAYERS[own][0]}) imports {target} "
                f"({LAYERS[other][0]})"
            )


def test_layer_table_is_complete():
    assert layer_of("infer.kernels.nuts") == 2
    assert layer_of("infer.mcmc") == 3
    assert layer_of("distributions.transforms") == 1
