"""The show memory (installed as `studio.memory`): canon, continuity, aired premises, prompts and lessons, over the
station store, findable by meaning through a Chroma index embedded with a packaged MiniLM (no download).

Importing it loads neither chromadb nor the embedding model: the index opens when a station (or `studio memory`)
asks for it.
"""

from __future__ import annotations

from studio.memory.store import PremiseCheck, ShowMemory

__all__ = ["PremiseCheck", "ShowMemory"]
