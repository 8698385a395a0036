"""Allocator settings that keep peak RSS flat however big the account."""
from __future__ import annotations

import ctypes

import pyarrow as pa

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def flat_memory() -> None:
    """Allocators that give memory back: peak RSS must not grow with the account.

    Arrow's default allocator and glibc both keep an arena per fetch thread
    (together about doubling the peak); use the system allocator for Arrow and
    let glibc share two arenas among all threads.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune
