"""The report's "what aired" timeline tells a rerun from a hold's repeat and from the first airing, says when a
rerun was dropped, and names what filled a gap (the ident or a coming-up card)."""

from __future__ import annotations

from studio import events as ev
from studio.report import _airing
from studio.station import LoggedEvent


def test_reruns_holds_dropped_reruns_and_cards_each_read_as_what_they_were() -> None:
    events: list[ev.Event] = [
        ev.SegmentOnAir(show="x", episode=1, segment_id="s1", seconds=2.0),
        ev.SegmentAired(show="x", episode=1, segment_id="s1", seconds=2.0),
        ev.SegmentOnAir(show="x", episode=1, segment_id="s1", seconds=2.0, repeat=True),
        ev.SegmentAired(show="x", episode=1, segment_id="s1", seconds=2.0, repeat=True),
        ev.FillerAired(show="x", seconds=6.0, reason="waiting for s3 to be made", what="coming-up card"),
        ev.SegmentOnAir(show="x", episode=1, segment_id="s1", seconds=2.0, repeat=True, rerun=True),
        ev.SegmentAired(show="x", episode=1, segment_id="s1", seconds=2.0, repeat=True, rerun=True),
        ev.RerunDropped(show="x", episode=1, segment_id="s2", reason="file is missing"),
    ]
    rows = _airing([LoggedEvent(index, 100.0 + index, event) for index, event in enumerate(events)])
    assert [(row.segment_id, row.status) for row in rows] == [
        ("s1", "aired"), ("s1", "aired again (hold)"), ("", "filler"), ("s1", "aired again (rerun)"),
        ("s2", "rerun dropped"),
    ]  # fmt: skip
    assert rows[2].why == "coming-up card, waiting for s3 to be made" and rows[2].filler_seconds == 6.0
    assert rows[4].why == "file is missing"
