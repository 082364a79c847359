"""PyTorch's argument names (``dim``, ``keepdim``) accepted next to NumPy's (``axis``, ``keepdims``).

minigrad documents NumPy's names; a PyTorch user's ``x.sum(dim=1, keepdim=True)`` works
too. Giving both spellings of one argument is a TypeError, as a repeated argument is.
"""

import functools

TORCH_AXIS_NAMES = {"dim": "axis", "keepdim": "keepdims"}


def torch_names(function=None, **mapping):
    """Decorate ``function`` so each PyTorch name in ``mapping`` (alias -> NumPy name) is
    accepted as a keyword for the NumPy one; by default ``dim`` -> ``axis`` and
    ``keepdim`` -> ``keepdims``.

    >>> @torch_names
    ... def total(values, axis=None, keepdims=False):
    ...     return axis, keepdims
    >>> total([], dim=1, keepdim=True)
    (1, True)
    """
    mapping = mapping or TORCH_AXIS_NAMES

    def decorate(function):
        name = function.__qualname__.replace("Tensor.", "")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if kwargs:
                for alias, numpy_name in mapping.items():
                    if alias in kwargs:
                        if numpy_name in kwargs:
                            raise TypeError(
                                f"{name}: got both {numpy_name}= and its PyTorch spelling "
                                f"{alias}=; give one of them"
                            )
                        kwargs[numpy_name] = kwargs.pop(alias)
            return function(*args, **kwargs)

        return wrapper

    return decorate if function is None else decorate(function)
