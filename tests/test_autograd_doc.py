"""docs/autograd_graph.svg is the drawing of docs/autograd.md's network, and is current.

The network is built by the doc's own code block (the first that defines ``model`` and
``loss``); its graph is drawn after ``loss.backward()``. To redraw the picture after a
change: ``MINIGRAD_REDRAW_DOCS=1 python -m pytest tests/test_autograd_doc.py``.
"""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

import minigrad as mg

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "autograd.md"
SVG = ROOT / "docs" / "autograd_graph.svg"


def network_from_the_doc():
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.S | re.M)
    code = next(b for b in blocks if "model = nn.Sequential" in b and "loss = F.mse_loss" in b)
    namespace = {}
    exec(compile(code, "autograd.md", "exec"), namespace)
    namespace["loss"].backward()
    return namespace["loss"], namespace["model"]


def drawn_text(svg):
    """What a reader sees: every node's and edge's title and text, in order."""
    return re.findall(r"<(?:title|text)[^>]*>([^<]*)</", svg)


def test_the_doc_shows_the_drawing():
    assert "](autograd_graph.svg)" in DOC.read_text()
    assert SVG.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_the_committed_drawing_is_current(tmp_path):
    pytest.importorskip("graphviz")
    loss, model = network_from_the_doc()
    fresh = tmp_path / "graph.svg"
    mg.viz.draw(loss, fresh, params=model)
    if os.environ.get("MINIGRAD_REDRAW_DOCS"):
        shutil.copyfile(fresh, SVG)
    committed, redrawn = SVG.read_text(), fresh.read_text()
    version = subprocess.run(["dot", "-V"], capture_output=True, text=True).stderr
    same_graphviz = re.search(r"version ([\d.]+)", version)[1] in committed
    if same_graphviz:
        assert redrawn == committed, "docs/autograd_graph.svg is stale: redraw it (see this file's docstring)"
    else:  # another Graphviz lays it out differently; what it says must still agree
        assert drawn_text(redrawn) == drawn_text(committed)


def test_the_drawing_is_deterministic():
    (loss1, model1), (loss2, model2) = network_from_the_doc(), network_from_the_doc()
    assert mg.viz.to_dot(loss1, params=model1) == mg.viz.to_dot(loss2, params=model2)
