"""The terminal UI (installed as `studio.tui`): a client of the station store, nothing else of the core.

`StudioApp` is the Textual app; `StationView` is what it reads, without Textual. Importing `studio` never loads
this package or Textual.
"""

from __future__ import annotations

from studio.tui.view import LogFilter, StationView

__all__ = ["LogFilter", "StationView"]
