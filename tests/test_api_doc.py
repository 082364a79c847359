"""docs/api.md cannot drift from the code.

Every name a public module exports (its ``__all__``, or else the public functions and
classes it defines), and every public member of Tensor, nn.Module and optim.Optimizer,
has a row in docs/api.md; every documented name exists, with the documented argument
names, kinds and defaults.

A row is checked when its first cell holds code spans that start with one of the
prefixes below (``mg.``, ``nn.``, ``F.``, ``optim.``, ``data.``, ``Tensor.``,
``Module.``, ``Optimizer.``): ``prefix.name(signature)`` for anything callable,
``prefix.name`` for a property, attribute or module.
"""

import ast
import importlib
import inspect
import pathlib
import re
import types

import pytest

import minigrad

ROOT = pathlib.Path(__file__).resolve().parent.parent
API_DOC = ROOT / "docs" / "api.md"

PREFIXES = {
    "mg": "minigrad",
    "nn": "minigrad.nn",
    "F": "minigrad.nn.functional",
    "optim": "minigrad.optim",
    "data": "minigrad.data",
}
CLASS_PREFIXES = {
    "Tensor": ("minigrad", "Tensor"),
    "Module": ("minigrad.nn", "Module"),
    "Optimizer": ("minigrad.optim", "Optimizer"),
}
SPAN = re.compile(r"`([^`]+)`")
ENTRY = re.compile(r"^(?P<path>[A-Za-z_][\w.]*)(?:\((?P<params>.*)\))?$", re.S)


# ---- what the code exports -----------------------------------------------------------
def exported_names(module):
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    ]


def doc_prefix(module_name):
    """How docs/api.md spells a module: its alias, or the nearest alias plus the rest."""
    best = max((p for p in PREFIXES.items() if module_name == p[1]
                or module_name.startswith(p[1] + ".")), key=lambda p: len(p[1]))
    alias, full = best
    return alias + module_name[len(full):]


def public_modules():
    """minigrad and every minigrad module reachable through exported names."""
    found, todo = {}, [minigrad]
    while todo:
        module = todo.pop()
        if module.__name__ in found:
            continue
        found[module.__name__] = module
        for name in exported_names(module):
            value = getattr(module, name, None)
            if isinstance(value, types.ModuleType) and value.__name__.startswith("minigrad"):
                todo.append(value)
    for full in PREFIXES.values():  # a module named in the contract, once it exists
        try:
            found.setdefault(full, importlib.import_module(full))
        except ImportError:
            pass
    return found


def required_entries():
    """Every documented path the code asks for, e.g. ``F.linear`` or ``Tensor.sum``."""
    required = []
    for module_name, module in sorted(public_modules().items()):
        prefix = doc_prefix(module_name)
        for name in exported_names(module):
            if not hasattr(module, name):
                continue  # __all__ naming something missing fails elsewhere
            if isinstance(getattr(module, name), types.ModuleType):
                continue  # its names are listed instead
            required.append(f"{prefix}.{name}")
    for alias, (module_name, class_name) in CLASS_PREFIXES.items():
        owner = getattr(importlib.import_module(module_name), class_name)
        for name in vars(owner):
            if not name.startswith("_"):
                required.append(f"{alias}.{name}")
    return required


# ---- what the document says ----------------------------------------------------------
def documented_entries():
    """(line, path, params or None) for each checked code span in a first table cell."""
    entries = []
    for number, line in enumerate(API_DOC.read_text().splitlines(), start=1):
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        first_cell = line.strip("|").split(" | ")[0]
        for span in SPAN.findall(first_cell):
            match = ENTRY.match(span.strip())
            if match and match["path"].split(".")[0] in {**PREFIXES, **CLASS_PREFIXES}:
                entries.append((number, match["path"], match["params"]))
    return entries


def resolve(path):
    """The object a documented path names; raises AttributeError/ImportError if none."""
    head, *rest = path.split(".")
    if head in CLASS_PREFIXES:
        module_name, class_name = CLASS_PREFIXES[head]
        owner = getattr(importlib.import_module(module_name), class_name)
        (name,) = rest
        if name in vars(owner) or hasattr(owner, name):
            return owner, name, inspect.getattr_static(owner, name)
        raise AttributeError(f"{class_name} has no attribute {name!r}")
    value = importlib.import_module(PREFIXES[head])
    for i, name in enumerate(rest):
        if not hasattr(value, name) and isinstance(value, types.ModuleType):
            # a submodule not imported by its package's __init__
            importlib.import_module(f"{value.__name__}.{name}")
        value = getattr(value, name)
    return None, rest[-1], value


def documented_parameters(params):
    tree = ast.parse(f"def f({params}): pass")
    args = tree.body[0].args
    result = []
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    kinds = ["POSITIONAL_ONLY"] * len(args.posonlyargs) + ["POSITIONAL_OR_KEYWORD"] * len(args.args)
    for arg, default, kind in zip(positional, defaults, kinds):
        result.append((arg.arg, kind, default))
    if args.vararg:
        result.append((args.vararg.arg, "VAR_POSITIONAL", None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        result.append((arg.arg, "KEYWORD_ONLY", default))
    if args.kwarg:
        result.append((args.kwarg.arg, "VAR_KEYWORD", None))
    return result


def code_parameters(owner, static):
    """The parameters a user passes: without ``self`` for a method."""
    if isinstance(static, (staticmethod, classmethod)):
        function = getattr(owner, static.__func__.__name__)
        return list(inspect.signature(function).parameters.values())
    signature = inspect.signature(static)
    parameters = list(signature.parameters.values())
    if owner is not None and inspect.isfunction(static):
        parameters = parameters[1:]
    return parameters


def same_default(node, value):
    if node is None:
        return value is inspect.Parameter.empty
    if value is inspect.Parameter.empty:
        return False
    try:
        literal = ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node) == repr(value)
    return type(literal) is type(value) and literal == value or (
        isinstance(literal, (int, float)) and not isinstance(literal, bool)
        and isinstance(value, (int, float)) and not isinstance(value, bool) and literal == value
    )


def format_parameters(parameters):
    return str(inspect.Signature(parameters))[1:-1]


def check_entry(path, params):
    """None if the documented entry matches the code, else what is wrong."""
    try:
        owner, name, value = resolve(path)
    except (AttributeError, ImportError) as error:
        return f"`{path}` does not exist in the code ({error})"
    callable_thing = inspect.isclass(value) or inspect.isfunction(value) or isinstance(
        value, (staticmethod, classmethod, types.BuiltinFunctionType))
    if params is None:
        if callable_thing:
            try:
                actual = format_parameters(code_parameters(owner, value))
            except (TypeError, ValueError):
                return None
            return f"`{path}` is callable: write its signature, `{path}({actual})`"
        return None
    if not callable_thing:
        return f"`{path}` is not callable (a {type(value).__name__}): document it without parentheses"
    parameters = code_parameters(owner, value)
    actual = format_parameters(parameters)
    try:
        documented = documented_parameters(params)
    except SyntaxError:
        return f"`{path}({params})`: the signature does not parse; the code has `{path}({actual})`"
    same = len(documented) == len(parameters) and all(
        name == p.name and kind == p.kind.name and same_default(default, p.default)
        for (name, kind, default), p in zip(documented, parameters)
    )
    if not same:
        return f"`{path}({params})` but the code has `{path}({actual})`"
    return None


def test_every_documented_name_exists_with_its_signature():
    problems = [
        f"docs/api.md line {line}: {problem}"
        for line, path, params in documented_entries()
        if (problem := check_entry(path, params)) is not None
    ]
    assert not problems, "docs/api.md disagrees with the code:\n" + "\n".join(problems)


def test_every_exported_name_is_documented():
    documented = {path for _, path, _ in documented_entries()}
    missing = [path for path in required_entries() if path not in documented]
    hints = []
    for path in missing:
        try:
            owner, _, value = resolve(path)
            signature = f"({format_parameters(code_parameters(owner, value))})"
        except (TypeError, ValueError, AttributeError, ImportError):
            signature = ""
        hints.append(f"  | `{path}{signature}` | ... |")
    assert not missing, (
        "names exported by minigrad but missing from docs/api.md; add a row for each "
        "(first cell: the name as a user types it, with its signature), e.g.:\n" + "\n".join(hints)
    )


def test_checker_catches_a_wrong_signature():
    assert check_entry("F.linear", "x, weight, bias=None") is None
    assert "the code has" in check_entry("F.linear", "x, w, bias=None")
    assert "the code has" in check_entry("F.linear", "x, weight, bias=0")
    assert "does not exist" in check_entry("F.no_such_function", "x")
    assert "write its signature" in check_entry("F.linear", None)
    assert "not callable" in check_entry("Tensor.shape", "")
    assert check_entry("Tensor.sum", "axis=None, keepdims=False") is None
    assert check_entry("mg.zeros", "*shape, dtype=None, requires_grad=False") is None
