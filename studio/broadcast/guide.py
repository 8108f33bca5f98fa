"""What's on: now playing and up next for the web page (`/now.json`), read from the station store, with a picture of
each segment (its first shot's thumbnail, which the critic wrote beside the clip).

"Now" is what playout is feeding the muxer; a viewer of the HLS stream sees it a few seconds later (the page
allows for that by showing when it started).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio import events as ev

if TYPE_CHECKING:
    from studio.station import RundownEntry, Station

UP_NEXT = 3
_ON_AIR_MARKERS = ["SegmentOnAir", "FillerStarted", "PlayoutEnded", "StationStarted", "StationStopped"]


def now_and_next(station: Station, show: str, title: str) -> dict[str, Any]:
    """The page's view of the channel: its title, what is on air (a segment, or the ident and why), up next."""
    episodes = {row["number"]: row["title"] for row in station.episodes(show)}
    now: dict[str, Any] | None = None
    marker = station.events(show=show, types=_ON_AIR_MARKERS, last=1)
    if marker:
        event, since = marker[0].event, marker[0].ts
        if isinstance(event, ev.SegmentOnAir) and (entry := station.segment(event.segment_id)) is not None:
            now = {
                "kind": "segment", **_segment(entry, episodes), "since": since, "repeat": event.repeat,
                "rerun": event.rerun,
            }  # fmt: skip
        elif isinstance(event, ev.FillerStarted):
            now = {"kind": "ident", "title": title, "reason": event.reason, "since": since, "what": event.what}
    on_air = now.get("segment_id") if now else None
    upcoming = [entry for entry in station.queue(show) if entry.segment_id != on_air and entry.status != "on_air"]
    return {
        "title": title,
        "now": now,
        "next": [{**_segment(entry, episodes), "ready": entry.status == "approved"} for entry in upcoming[:UP_NEXT]],
        "ai_generated": True,
        "updated": time.time(),
    }


def channel_now_and_next(station: Station, shows: list[str], title: str) -> dict[str, Any]:
    """`now_and_next` for a channel of several shows (`shows`: their keys): what is on air whichever show it is
    from, and what comes next in that show (the grid on the page says which show follows)."""
    now: dict[str, Any] | None = None
    upcoming: list[RundownEntry] = []
    marker = station.events(show=shows, types=_ON_AIR_MARKERS, last=1)
    if marker:
        event, since = marker[0].event, marker[0].ts
        if isinstance(event, ev.SegmentOnAir) and (entry := station.segment(event.segment_id)) is not None:
            episodes = {row["number"]: row["title"] for row in station.episodes(entry.show)}
            now = {"kind": "segment", **_segment(entry, episodes), "show": entry.show, "since": since,
                   "repeat": event.repeat}  # fmt: skip
            upcoming = [
                e for e in station.queue(entry.show) if e.segment_id != entry.segment_id and e.status != "on_air"
            ]
        elif isinstance(event, ev.FillerStarted):
            now = {"kind": "ident", "title": title, "reason": event.reason, "since": since}
    next_items = []
    for entry in upcoming[:UP_NEXT]:
        episodes = {row["number"]: row["title"] for row in station.episodes(entry.show)}
        next_items.append({**_segment(entry, episodes), "ready": entry.status == "approved"})
    return {"title": title, "now": now, "next": next_items, "ai_generated": True, "updated": time.time()}


def _segment(entry: RundownEntry, episodes: dict[int, str]) -> dict[str, Any]:
    return {
        "segment_id": entry.segment_id,
        "title": entry.title,
        "episode": entry.episode,
        "episode_title": episodes.get(entry.episode, ""),
        "seconds": round(entry.seconds or entry.planned_seconds, 2),
        "picture": f"/picture/{entry.segment_id}.png",
    }


def segment_picture(station: Station, media_root: Path, segment_id: str) -> Path | None:
    """The thumbnail of the segment's first shot that passed the critic, if it exists inside `media_root`."""
    entry = station.segment(segment_id)
    if entry is None:
        return None
    passed: dict[str, str] = {}
    for logged in station.events(show=entry.show, types=["VerdictGiven"], episode=entry.episode):
        verdict = logged.event
        if isinstance(verdict, ev.VerdictGiven) and verdict.segment == entry.segment_index and verdict.thumbnail:
            if verdict.passed:
                passed[verdict.shot or ""] = verdict.thumbnail  # a later pass (a re-prompt) replaces an earlier one
    if not passed:
        return None
    picture = Path(passed[min(passed)]).resolve()
    root = media_root.resolve()
    return picture if picture.is_relative_to(root) and picture.is_file() else None
