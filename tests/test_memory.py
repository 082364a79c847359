"""minigrad/runtime/memory.py: reuse only what nobody can read; debug mode poisons."""

import numpy as np
import pytest

from minigrad.runtime import memory

pytestmark = pytest.mark.skipif(memory.debugging(), reason="checks reuse, which debug mode turns off")


def address(array):
    return array.__array_interface__["data"][0]


def test_an_outliving_array_still_referenced_is_never_handed_out_again():
    memory.clear()
    first = memory.empty((512, 1024), np.float32)
    second = memory.empty((512, 1024), np.float32)
    assert not np.shares_memory(first, second)  # `first` is still held here
    view = first[:10]
    del first
    third = memory.empty((512, 1024), np.float32)
    assert not np.shares_memory(third, view)  # a view keeps its array in use
    del view, second, third
    assert memory.empty((512, 1024), np.float32).shape == (512, 1024)


def test_a_released_array_comes_back_and_small_ones_are_not_kept():
    memory.clear()
    array = memory.empty((256, 1024), np.float64)
    first = address(array)
    del array
    again = memory.empty((256, 1024), np.float64)
    if memory.UNUSED is not None:  # None: reference counts are not exact here, no reuse
        assert address(again) == first
    memory.empty((4,), np.float32)
    assert all(a.nbytes >= memory.OUTLIVING_MIN_BYTES for a in memory.held())


def test_scratch_comes_back_by_role_shape_and_dtype():
    memory.clear()
    a = memory.scratch("a", (256, 256), np.float64)
    assert memory.scratch("a", (256, 256), np.float64) is a
    assert memory.scratch("b", (256, 256), np.float64) is not a
    assert memory.scratch("a", (256, 256), np.float32) is not a
    zeros = memory.scratch("z", (256, 256), np.float64, zeros=True)
    assert not zeros.any()


def test_debug_mode_reuses_nothing_and_poisons():
    with memory.debug():
        a = memory.scratch("a", (256, 256), np.float64)
        assert np.isnan(a).all() and memory.scratch("a", (256, 256), np.float64) is not a
        assert not memory.scratch("z", (8,), np.float64, zeros=True).any()
        out = memory.empty((512, 1024), np.float32)
        assert np.isnan(out).all()
        del out
        assert (memory.empty((4,), np.int64).view(np.uint8) == 0xA5).all()
        assert memory.held() == []
    assert not memory.debugging()
