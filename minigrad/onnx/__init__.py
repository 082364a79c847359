"""minigrad.onnx: export a trained model to an ONNX file (``mg.onnx.export``).

The ``onnx`` package is imported only when ``export`` runs: ``pip install 'minigrad[onnx]'``
installs it with ONNX Runtime.
"""

from .export import export

__all__ = ["export"]
