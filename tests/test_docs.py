"""Every ```python block in README.md and docs/*.md runs on its own, in a fresh namespace.

A reader can paste any one block into a REPL: each imports what it uses. A block may
assert its claims; a failing block fails the test with the file and line. A block whose
first line is ``# requires: onnx, torch`` (optional packages) is skipped where one of
them is missing.
"""

import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
REQUIRES = re.compile(r"# requires: (.+)")


def missing_packages(code):
    """The packages a ``# requires:`` first line names that are not installed."""
    match = REQUIRES.fullmatch(code.split("\n", 1)[0].strip())
    if match is None:
        return []
    names = [name.strip() for name in match.group(1).split(",")]
    return [name for name in names if importlib.util.find_spec(name) is None]


def python_blocks(path):
    text = path.read_text()
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        yield line, match.group(1)


BLOCKS = [(path, line, code) for path in DOCUMENTS for line, code in python_blocks(path)]


@pytest.mark.parametrize("path, line, code", BLOCKS,
                         ids=[f"{path.name}:{line}" for path, line, _ in BLOCKS])
def test_document_block_runs_on_its_own(path, line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace = {"__name__": f"doc_{path.stem}"}
    missing = missing_packages(code)
    if missing:
        pytest.skip(f"{path.name}, block at line {line}: needs {', '.join(missing)}")
    try:
        exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
    except Exception as error:
        pytest.fail(f"{path.name}, block at line {line}: {type(error).__name__}: {error}")


def test_no_document_uses_a_private_attribute():
    private = re.compile(r"\.\_[a-z]\w*")  # t._ctx, module._parameters, ...
    found = [
        f"{path.name}:{line + code[:m.start()].count(chr(10))}: {m.group()}"
        for path, line, code in BLOCKS for m in private.finditer(code)
    ]
    assert not found, "docs should use the public API only:\n" + "\n".join(found)
