"""The package's layers: the ops and the engine sit below tensor.py and never import it.

tensor.py imports the ops (its methods call them) and the engine; the engine makes
Tensors from the class tensor.py hands it once. If an op imported tensor.py again, at
the top or inside a function, the import circle would be back: these tests read the
sources (imports inside functions count) and follow every import within minigrad.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "minigrad"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _path_of(module):
    base = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path):
    """The minigrad modules that ``path`` imports anywhere in its source."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module
            # ``from .. import dtypes`` imports a module; ``from ..tensor import Tensor``
            # (or ``from minigrad import Tensor``) the module or package named before it
            modules = [f"{base}.{alias.name}" for alias in node.names]
            if all(_path_of(name) is not None for name in modules):
                found.update(modules)
            else:
                found.add(base)
    found = {name for name in found if name == "minigrad" or name.startswith("minigrad.")}
    # a subpackage's __init__ runs before its modules (the top package's is the whole API)
    for name in list(found):
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(2, len(parts)))
    return found


def _reached(start):
    """Every minigrad module that importing ``start`` can import, but the top package's
    __init__ (it runs first whatever is imported, and is the whole API)."""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _path_of(module)
        if path is not None:
            todo.extend(_imports(path) - seen)
    return seen - {start}


OPS = sorted(_module_name(p) for p in (PACKAGE / "ops").glob("*.py"))


def test_the_reader_finds_a_local_import():
    # the reader itself must see an import made inside a function
    reached = _reached("minigrad.nn.functional")
    assert "minigrad.tensor" in reached and "minigrad.ops.batchnorm" in reached


@pytest.mark.parametrize("module", OPS + ["minigrad.autograd"])
def test_no_op_module_and_not_the_engine_imports_tensor(module):
    reached = _reached(module)
    assert "minigrad.tensor" not in reached, f"{module} imports minigrad.tensor (through {sorted(reached)})"
    assert "minigrad" not in reached, f"{module} imports the whole package"
