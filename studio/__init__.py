"""studio: an AI TV studio.

Importing this package loads no heavy dependency (textual, torch, chromadb, diffusers); those are imported by the
backends that need them, when they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"
