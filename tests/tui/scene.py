"""A station store at a fixed moment, for the TUI's view and snapshot tests: one episode of three segments, the
first on air, the second being repaired after a failed verdict, the third planned; two commands answered.

Every event carries a fixed time, the pictures are drawn by numpy, and the app gets a fixed clock, so a screen
drawn from it is the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from studio import events as ev
from studio.station import Station

SHOW = "station-test"
T0 = 1_780_000_000.0
NOW = T0 + 103.5
SEGMENTS = ("station-test-e0001-s01", "station-test-e0001-s02", "station-test-e0001-s03")


def picture(path: Path, width: int = 192, height: int = 108, *, hue: int = 20) -> Path:
    """A small deterministic scene: a sky gradient, a floor, an orange disc (the robot)."""
    rows = np.linspace(0, 1, height)[:, None, None]
    image = (np.array([250, 200, 120]) * (1 - rows) + np.array([255, 240, 220]) * rows).astype(np.uint8)
    image = np.repeat(image, width, axis=1)
    image[int(height * 0.7) :, :] = (90, 110, 200)
    cv2.circle(image, (width // 3, int(height * 0.6)), height // 5, (hue, 120, 255), -1)
    cv2.rectangle(image, (width // 2, height // 3), (width // 2 + 30, int(height * 0.7)), (230, 230, 230), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


def build(data_dir: Path) -> Path:
    """Write the scene's store under `data_dir`; returns the store's path."""
    media = data_dir / "media"
    thumb = picture(media / "e0001-s01-sh01.thumb.png")
    thumb2 = picture(media / "e0001-s01-sh02.thumb.png", hue=200)
    sheet = picture(media / "e0001-s02-sh01.sheet.png", 576, 330)
    station = Station(data_dir / "station.sqlite")
    steer = station.add_command(SHOW, "steer", {"note": "topic: lamps"})
    pin = station.add_command(SHOW, "pin", {"kind": "character", "name": "Zed", "trait": "wears a hat"})
    at = iter(T0 + step for step in range(1000))

    def event(cls: type[ev.Event], **fields: object) -> ev.Event:
        return cls(show=SHOW, at=next(at), **fields)  # type: ignore[arg-type]

    shots = {
        0: [("e0001-s01-sh01", 1.0), ("e0001-s01-sh02", 1.0)],
        1: [("e0001-s02-sh01", 1.0), ("e0001-s02-sh02", 1.0)],
    }
    designed = {
        index: tuple(
            ev.DesignedShot(
                shot_id,
                f"flat bright colours. Bo, a small round orange robot, rolls right ({shot_id})",
                "text, watermark",
                seconds,
                7,
                ("Bo",),
                "Lab",
            )  # fmt: skip
            for shot_id, seconds in shots[index]
        )
        for index in shots
    }
    recorded = [
        event(
            ev.StationStarted,
            version="0.1.0",
            writer="offline-director",
            backends={"video": "procedural"},
            seed=3,
            data_dir=str(data_dir),
            player_url="http://127.0.0.1:8090/",
            outputs=("hls", "rtmp://host/live/***"),
            buffer_target_s=120.0,
        ),  # fmt: skip
        event(ev.CommandReceived, command_id=steer, kind="steer", args={"note": "topic: lamps"}),
        event(
            ev.EpisodePlanned,
            episode=1,
            title="The Lamps Episode",
            topic="lamps",
            logline="Bo and Mia fix lamps",
            segments=tuple(
                ev.PlannedSegment(segment_id, f"Part {n + 1}: lamps", "opening", 2.0)
                for n, segment_id in enumerate(SEGMENTS)
            ),
            planned_seconds=6.0,
            steering=("topic: lamps",),
            backend="offline-director",
        ),  # fmt: skip
        event(ev.CommandApplied, command_id=steer, kind="steer", effect="followed in the plan of episode 1"),
        event(ev.CommandReceived, command_id=pin, kind="pin", args={"kind": "character", "name": "Zed"}),
        event(ev.CommandRejected, command_id=pin, kind="pin", reason="no character 'Zed' (characters: Bo, Mia)"),
    ]
    for index in (0, 1):
        where = {"episode": 1, "segment": index}
        recorded += [
            event(
                ev.SegmentWritten,
                **where,
                title=f"Part {index + 1}: lamps",
                format="opening",
                mood="calm",
                beats=("Bo rolls right",),
                seconds=2.0,
                backend="offline-director",
            ),  # fmt: skip
            event(ev.ShotsDesigned, **where, segment_title=f"Part {index + 1}: lamps", shots=designed[index]),
        ]
        for number, (shot_id, seconds) in enumerate(shots[index]):
            passed = index == 0 or number == 1
            recorded += [
                event(ev.RenderStarted, **where, shot=shot_id, attempt=0, seconds=seconds),
                event(
                    ev.ClipRendered,
                    **where,
                    shot=shot_id,
                    attempt=0,
                    path=str(media / f"{shot_id}.mp4"),
                    seconds=seconds,
                    seed=7,
                    backend="procedural → ffmpeg",
                    duration_ms=850.0,
                ),  # fmt: skip
                event(
                    ev.VerdictGiven,
                    **where,
                    shot=shot_id,
                    attempt=0,
                    passed=passed,
                    score=0.93 if passed else 0.41,
                    failures=() if passed else ("motion (moves left, asked right)",),
                    repair="" if passed else "reverse",
                    repair_note="" if passed else "play it backwards",
                    contact_sheet=str(sheet) if not passed else "",
                    thumbnail=str(thumb if number == 0 else thumb2),
                    backend="measured checks",
                    duration_ms=410.0,
                ),  # fmt: skip
            ]
        if index == 0:
            recorded.append(
                event(
                    ev.SegmentApproved,
                    **where,
                    segment_id=SEGMENTS[0],
                    path=str(media / "s01.mp4"),
                    seconds=2.0,
                    shots=2,
                )  # fmt: skip
            )
    recorded += [
        event(
            ev.ShotRepaired,
            episode=1,
            segment=1,
            shot="e0001-s02-sh01",
            attempt=1,
            action="reverse",
            note="play it backwards",
            prompt="flat bright colours. Bo rolls right",
            negative_prompt="",
            seed=7,
        ),  # fmt: skip
        event(ev.RenderStarted, episode=1, segment=1, shot="e0001-s02-sh01", attempt=1, seconds=1.0),
        event(ev.FillerStarted, reason="nothing approved yet: production is making the first episode"),
    ]
    station.record_many(recorded)
    # The first segment went on air 1.5 s before NOW: its second shot (of two, 1 s each) is on screen.
    station.record(ev.SegmentOnAir(show=SHOW, episode=1, segment_id=SEGMENTS[0], seconds=2.0, at=NOW - 1.5))
    station.close()
    return data_dir / "station.sqlite"
