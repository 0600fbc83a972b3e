"""Room to grow and the boot partition's size steps."""

from __future__ import annotations

from lkcloud.disk import layout
from lkcloud.disk.ids import MIB


def test_room_rounds_up_to_the_growth_step() -> None:
    assert layout.room(1) == layout.room(layout.GROWTH) == layout.GROWTH
    assert layout.room(layout.GROWTH + 1) == 2 * layout.GROWTH
    assert layout.room(10, layout.BLOCK) == layout.BLOCK
    assert layout.room(0) == layout.GROWTH


def test_partition_size_moves_in_steps_and_fits_the_disk() -> None:
    step = layout.PARTITION_STEP
    assert layout.partition_size(41 * MIB, 1000 * MIB) == step
    assert layout.partition_size(step - MIB, 1000 * MIB) == layout.partition_size(MIB, 1000 * MIB)
    assert layout.partition_size(step + 1, 1000 * MIB) == 2 * step
    assert layout.partition_size(100 * MIB, 110 * MIB + 5) == 110 * MIB  # the step does not fit: all there is
    assert layout.partition_size(120 * MIB, 110 * MIB) == 2 * step  # too big: the caller reports it
