"""Every op as a Function class: forward on NumPy arrays, backward with Tensor ops."""
