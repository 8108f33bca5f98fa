"""How many glibc malloc arenas a process keeps (`limit_malloc_arenas`): a station's threads and a one-shot
`studio critique`'s each allocate large frame arrays, and by default glibc gives every thread that allocates an arena
of its own (up to 8 per core), where the memory it frees waits for that thread alone."""

from __future__ import annotations

from typing import Any

MALLOC_ARENAS = 2
"""glibc malloc arenas a station keeps. By default glibc gives each thread that allocates its own arena (up to 8 per
core), and the threads of a station (decoding, OCR, checks, segment jobs) each hold freed frames in theirs: over
6 minutes aired the station's RSS climbed from 1.1 to 1.27 GB (peak 1.5 GB). With 2 arenas it stayed at 0.64–0.70 GB
(peak 0.9 GB) and made the show faster (`benchmarks/channel_hour.py`)."""


def _mallopt() -> Any:
    """glibc's `mallopt`, or None off glibc."""
    import ctypes

    try:
        # The process's own symbols, libc's among them (finding libc by name runs ldconfig: 20 ms).
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas at `arenas` for the threads started from now on (`MALLOC_ARENA_MAX`, when set,
    wins); a no-op off glibc."""
    import os

    mallopt = _mallopt()
    if os.environ.get("MALLOC_ARENA_MAX") or mallopt is None:
        return
    m_arena_max = -8  # <malloc.h>: M_ARENA_MAX
    mallopt(m_arena_max, arenas)


def keep_freed_memory(largest: int = 256 << 20) -> None:
    """For a short-lived process: glibc serves blocks up to `largest` bytes from its heap, not from a mapping of
    their own, and gives freed memory back to the system only above 1 GB free at the top (`MALLOC_MMAP_THRESHOLD_`,
    `MALLOC_TRIM_THRESHOLD_`, when set, win); a no-op off glibc.

    By default a block of 32 MB or more gets its own mapping, unmapped when freed, and the heap's free top is
    returned to the system: the next array of the same size is faulted in again, page by page. A one-shot
    `studio critique` allocates and frees the same frame-sized arrays over and over (OCR tensors, the checks'
    working copies): this keeps them (a quarter fewer page faults, 30–70 ms less system time per clip).
    Not for a station: what the heap keeps, it keeps for good."""
    import os

    mallopt = _mallopt()
    if mallopt is None:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    if not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        mallopt(m_mmap_threshold, largest)
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        mallopt(m_trim_threshold, 1 << 30)
