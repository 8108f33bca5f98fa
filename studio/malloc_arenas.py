"""How many glibc malloc arenas a process keeps (`limit_malloc_arenas`): a station's threads and a one-shot
`studio critique`'s each allocate large frame arrays, and by default glibc gives every thread that allocates an arena
of its own (up to 8 per core), where the memory it frees waits for that thread alone."""

from __future__ import annotations

MALLOC_ARENAS = 2
"""glibc malloc arenas a station keeps. By default glibc gives each thread that allocates its own arena (up to 8 per
core), and the threads of a station (decoding, OCR, checks, segment jobs) each hold freed frames in theirs: over
6 minutes aired the station's RSS climbed from 1.1 to 1.27 GB (peak 1.5 GB). With 2 arenas it stayed at 0.64–0.70 GB
(peak 0.9 GB) and made the show faster (`benchmarks/channel_hour.py`)."""


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas at `arenas` for the threads started from now on (`MALLOC_ARENA_MAX`, when set,
    wins); a no-op off glibc."""
    import ctypes
    import os

    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        # The process's own symbols, libc's among them (finding libc by name runs ldconfig: 20 ms).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_arena_max = -8  # <malloc.h>: M_ARENA_MAX
    mallopt(m_arena_max, arenas)
