"""Every ```python block in README.md and docs/*.md runs, in order, one namespace per file.

A block may assert its claims; a failing block fails the test with the file and line.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path):
    text = path.read_text()
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        yield line, match.group(1)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_document_code_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace = {"__name__": f"doc_{path.stem}"}
    blocks = list(python_blocks(path))
    for line, code in blocks:
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"{path.name}, block at line {line}: {type(error).__name__}: {error}")
