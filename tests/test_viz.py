"""mg.viz: DOT text of a graph, and drawings through Graphviz."""

import re
import shutil
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

NODE = re.compile(r'^  (\w+) \[shape=(\w+), label="((?:[^"\\]|\\.)*)"', re.M)
EDGE = re.compile(r"^  (\w+) -> (\w+);$", re.M)


def parse(dot):
    """{node: (shape, label lines)} and the edges as (source label, target label) pairs."""
    nodes = {name: (shape, label.split("\\n")) for name, shape, label in NODE.findall(dot)}
    edges = [(nodes[a][1][0], nodes[b][1][0]) for a, b in EDGE.findall(dot)]
    return nodes, edges


def known_graph():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = mg.tensor([4.0, 5.0, 6.0])
    return x, c, (x * c).sum()


def test_known_graph_has_exactly_its_op_nodes_and_edges():
    x, c, out = known_graph()
    nodes, edges = parse(mg.viz.to_dot(out))
    ops = sorted(label[0] for shape, label in nodes.values() if shape == "box")
    assert ops == ["Mul", "Sum"]
    tensors = sorted(label for shape, label in nodes.values() if shape == "ellipse")
    assert tensors == [["(3,) float32"], ["constant", "(3,) float32"],
                       ["leaf", "(3,) float32"], ["output", "() float32"]]
    assert sorted(edges) == sorted([
        ("leaf", "Mul"), ("constant", "Mul"), ("Mul", "(3,) float32"),
        ("(3,) float32", "Sum"), ("Sum", "output"),
    ])


def test_leaves_that_require_grad_are_marked_apart_from_constants():
    x, c, out = known_graph()
    dot = mg.viz.to_dot(out)
    leaf = next(line for line in dot.splitlines() if '"leaf' in line)
    constant = next(line for line in dot.splitlines() if '"constant' in line)
    assert "dashed" in constant and "dashed" not in leaf
    assert re.search(r'fillcolor="([^"]+)"', leaf)[1] != re.search(r'fillcolor="([^"]+)"', constant)[1]


def test_gradient_norms_appear_once_backward_has_run():
    x, c, out = known_graph()
    assert "|grad|" not in mg.viz.to_dot(out)
    out.backward()
    nodes, _ = parse(mg.viz.to_dot(out))
    leaf = next(label for _, label in nodes.values() if label[0] == "leaf")
    assert leaf[-1] == f"|grad| = {np.linalg.norm([4.0, 5.0, 6.0]):.4g}"
    assert "|grad|" not in mg.viz.to_dot(out, show_grads=False)


def test_a_reused_tensor_is_one_node_with_two_edges():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = parse(mg.viz.to_dot(x * x))
    assert len(nodes) == 3 and edges.count(("leaf", "Mul")) == 2


def test_parameters_are_named_from_their_module():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    out = model(mg.randn(5, 3)).sum()
    labels = [label[0] for _, label in parse(mg.viz.to_dot(out, params=model))[0].values()]
    for name in ("0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"):
        assert labels.count(name) == 1, name
    named = mg.viz.to_dot(out, params=dict(model.named_parameters()))
    assert '"3.weight\\n(2, 4) float32"' in named


def test_the_dot_text_is_deterministic():
    def build():
        mg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        out = model(mg.randn(2, 3)).sum()
        out.backward()
        return mg.viz.to_dot(out, params=model)

    assert build() == build()




@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
@pytest.mark.parametrize("suffix, magic", [("svg", b"<?xml"), ("png", b"\x89PNG")])
def test_draw_writes_the_file(tmp_path, suffix, magic):
    pytest.importorskip("graphviz")
    x, c, out = known_graph()
    path = tmp_path / f"graph.{suffix}"
    assert mg.viz.draw(out, path) == str(path)
    assert path.read_bytes().startswith(magic)
    if suffix == "svg":
        text = path.read_text()
        assert len(re.findall(r"<title>op\d+</title>", text)) == 2 and ">Mul<" in text and ">Sum<" in text


def test_draw_without_dot_says_how_to_install_it(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot on it
    x, c, out = known_graph()
    with pytest.raises(RuntimeError, match="apt-get install graphviz") as caught:
        mg.viz.draw(out, tmp_path / "graph.svg")
    assert "minigrad[viz]" in str(caught.value)
    assert not (tmp_path / "graph.svg").exists()


def test_draw_without_the_python_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now fails
    x, c, out = known_graph()
    with pytest.raises(ImportError, match=r"minigrad\[viz\]"):
        mg.viz.draw(out, tmp_path / "graph.png")


def test_draw_rejects_an_unknown_format(tmp_path):
    x, c, out = known_graph()
    with pytest.raises(ValueError, match="svg"):
        mg.viz.draw(out, tmp_path / "graph.gif")
