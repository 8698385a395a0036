"""Allocator settings that keep peak RSS flat however big the account."""
from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
# Allocations from this size up get their own mapping, returned to the system
# when freed. glibc's default threshold grows with the biggest block freed (up
# to 32 MB), so after a few big pages every page's buffers stay in the heap,
# where a long-lived object above them keeps the whole heap from shrinking.
MMAP_THRESHOLD = 256 * 1024


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None  # not glibc: nothing to tune


def flat_memory() -> None:
    """Allocators that give memory back: peak RSS must not grow with the account.

    Arrow's default allocator and glibc both keep an arena per fetch thread
    (together about doubling the peak); use the system allocator for Arrow and
    let glibc share two arenas among all threads.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, 2)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def give_back() -> None:
    """Return the free pages in glibc's heaps to the system (after a big write):
    freed memory otherwise stays counted in RSS until the heap's top is free."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


class _WithoutPandas:
    """Arrow (and DuckDB) import pandas, when they can, on their first use of
    it: 40-60 MB that a sync never needs and never gives back."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] == "pandas":  # as if it were not installed
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None  # any other module: the usual finders


def without_pandas() -> None:
    """For a process that only syncs (`python -m etl sync`, the page converter);
    never for one that shows data (the dashboard, the updater's dependents)."""
    if _WithoutPandas not in sys.meta_path:
        sys.meta_path.insert(0, _WithoutPandas)
