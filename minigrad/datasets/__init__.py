"""Datasets minigrad ships or reads: the 8x8 digits (shipped), IDX files such as MNIST's."""
