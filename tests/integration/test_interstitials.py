"""Between episodes the channel airs a coming-up card for the next episode and reruns of what already aired, not
its ident on a loop: made with real ffmpeg, read back with the critic's OCR, aired by the real playout supervisor."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from studio import events as ev
from studio.broadcast import commands
from studio.broadcast.ident import ensure_ident
from studio.broadcast.interstitial import CARD_WHAT, Interstitials
from studio.broadcast.playout import Idle, PlayoutSupervisor, QueuedSegment
from studio.config import load_settings
from studio.runtime import StationQueue
from studio.show import load_show
from studio.station import Station
from studio.tools.checks.text import read_text
from studio.tools.media import measure_loudness, probe, read_video, run_ffmpeg
from studio.tools.registry import build_toolkit

WIDTH, HEIGHT, FPS = 640, 360, 24
SHOW_FILE = Path(__file__).parents[2] / "shows" / "cooking.yaml"


def segment_file(media_dir: Path, name: str, seconds: float = 2.0) -> Path:
    path = media_dir / "segments" / f"{name}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    picture, music = media_dir / f"{name}.picture.mp4", media_dir / f"{name}.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}", "-t", str(seconds),
                "-c:v", "libx264", "-pix_fmt", "yuv420p", str(picture)])  # fmt: skip
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000", "-t", str(seconds), "-ac", "2",
                str(music)])  # fmt: skip
    run_ffmpeg(["-y", *commands.conform_segment_argv(
        [picture], music, path, width=WIDTH, height=HEIGHT, fps=FPS, seconds=seconds)])  # fmt: skip
    return path


def plan(station: Station, episode: int, titles: list[str]) -> list[str]:
    ids = [f"x-e{episode:04d}-s{index + 1:02d}" for index in range(len(titles))]
    station.record(
        ev.EpisodePlanned(
            show="x", episode=episode, title=f"The Episode Of Pears {episode}", topic="t", logline="l",
            planned_seconds=2.0 * len(ids),
            segments=tuple(ev.PlannedSegment(sid, title, "f", 2.0) for sid, title in zip(ids, titles, strict=True)),
        )
    )  # fmt: skip
    return ids


def approve(station: Station, segment_id: str, path: Path) -> None:
    station.record(ev.SegmentApproved(show="x", segment_id=segment_id, path=str(path), seconds=2.0, shots=1))


def air(queue: StationQueue, item: QueuedSegment | Idle) -> QueuedSegment:
    assert isinstance(item, QueuedSegment), item
    queue.started(item)
    queue.aired(item)
    return item


def wait_for_card(between: Interstitials, episode: int) -> Path:
    deadline = time.monotonic() + 120
    while (card := between.card(episode)) is None:
        assert time.monotonic() < deadline, "the coming-up card was not made in 120 s"
        time.sleep(0.2)
    return card


@pytest.fixture
def channel(tmp_path: Path) -> tuple[Station, Interstitials, StationQueue, dict[str, Path]]:
    settings = load_settings(data_dir=tmp_path / "data")
    media_dir = settings.data_dir / "media"
    show = load_show(SHOW_FILE)
    ident = ensure_ident(media_dir, show, build_toolkit(settings), width=WIDTH, height=HEIGHT, fps=FPS, seconds=2.0)
    station = Station(settings.data_dir / "station.sqlite")
    files: dict[str, Path] = {}
    queue = StationQueue(station, "x", rate=lambda: None, margin=1.5, realtime=True)
    for episode, titles in ((1, ["Pears one", "Pears two"]), (2, ["Plums"])):
        ids = plan(station, episode, titles)
        for segment_id in ids:
            files[segment_id] = segment_file(media_dir, segment_id)
            approve(station, segment_id, files[segment_id])
        for _ in ids:
            air(queue, queue.next_item())
    between = Interstitials(station, "x", show, media_dir, ident, width=WIDTH, height=HEIGHT, fps=FPS, card_seconds=3.0)
    # Production far faster than real time: an episode starts once its first segment is made.
    queue = StationQueue(station, "x", rate=lambda: 100.0, margin=1.5, realtime=True, between=between)
    plan(station, 3, ["Quince tart", "Quince jam"])
    return station, between, queue, files


def test_the_gap_before_an_episode_airs_its_card_and_reruns_never_the_episode_just_aired(
    channel: tuple[Station, Interstitials, StationQueue, dict[str, Path]],
) -> None:
    station, between, queue, files = channel
    # The card is still being made: a rerun fills the gap meanwhile — of episode 1, not 2 (it just aired).
    first = air(queue, queue.next_item())
    assert (first.segment_id, first.rerun, first.repeat) == ("x-e0001-s01", True, True)
    assert station.segment("x-e0001-s01").status == "aired", "a rerun changes nothing in the rundown"  # type: ignore[union-attr]
    aired = [logged.event for logged in station.events(types=["SegmentAired"])]
    assert aired[-1].rerun and aired[-1].summary() == "aired x-e0001-s01 (2.00 s) again (rerun)"  # type: ignore[attr-defined]

    card = wait_for_card(between, 3)
    shown = queue.next_item()  # after a rerun, the card
    assert isinstance(shown, Idle) and (shown.filler, shown.what) == (card, CARD_WHAT)
    assert shown.reason == "waiting for x-e0003-s01 to be made" and not shown.inside_episode
    second = air(queue, queue.next_item())  # then the least recently rerun
    assert second.segment_id == "x-e0001-s02"
    again = queue.next_item()
    assert isinstance(again, Idle) and again.filler == card, "card and reruns take turns"
    assert air(queue, queue.next_item()).segment_id == "x-e0001-s01"

    # A rerun that cannot air is dropped for good, and the segment keeps its place in the log.
    broken = queue.next_item()
    broken = queue.next_item() if isinstance(broken, Idle) else broken
    assert isinstance(broken, QueuedSegment) and broken.segment_id == "x-e0001-s02"
    queue.skipped(broken, "file is incomplete or damaged", None)
    [dropped] = [logged.event for logged in station.events(types=["RerunDropped"])]
    assert dropped.segment_id == "x-e0001-s02" and station.segment("x-e0001-s02").status == "aired"  # type: ignore[attr-defined,union-attr]
    # A file gone from disk (retention pruned it) is never chosen either.
    files["x-e0001-s01"].unlink()
    assert between.pick_rerun(3) is None

    # Inside an episode the ident airs, never a card or a rerun.
    approve(station, "x-e0003-s01", files["x-e0002-s01"])
    assert air(queue, queue.next_item()).segment_id == "x-e0003-s01"
    inside = queue.next_item()
    assert isinstance(inside, Idle) and inside.inside_episode and inside.filler is None


def test_the_card_says_what_comes_up_over_the_shows_colours_with_its_music(
    channel: tuple[Station, Interstitials, StationQueue, dict[str, Path]],
) -> None:
    _, between, _, _ = channel
    card = wait_for_card(between, 3)
    info = probe(card)
    assert (info.width, info.height, info.fps, info.video_frames) == (WIDTH, HEIGHT, FPS, 72)
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", 48000, 2)
    loudness = measure_loudness(card, target_lufs=-23.0, true_peak_dbtp=-1.0)
    assert loudness is not None and abs(float(loudness.measured["input_i"]) + 23.0) <= 1.0, loudness
    frames, _ = read_video(card)
    assert frames.mean(axis=(1, 2, 3)).min() > 40, "never dark"
    words = " ".join(found.text for found in read_text(frames[0], min_score=0.5)).upper()
    for expected in ("COMING UP", "EPISODE 3", "PEARS 3", "QUINCE TART", "GENERATED"):
        assert expected in words.replace("  ", " "), f"{expected!r} not read in {words!r}"
    assert between.card(3) == card, "made once, then cached"


def test_the_supervisor_airs_the_card_and_the_rerun_in_real_time(
    channel: tuple[Station, Interstitials, StationQueue, dict[str, Path]], tmp_path: Path
) -> None:
    station, between, queue, _ = channel
    wait_for_card(between, 3)
    supervisor = PlayoutSupervisor(
        show="x", hls_dir=tmp_path / "hls", media_dir=between.media_dir, width=WIDTH, height=HEIGHT, fps=FPS,
        queue=queue, emit=station.record, realtime=True, filler_seconds=2.0, filler_path=between.ident,
    )  # fmt: skip
    supervisor.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            cards = [e for e in station.events(types=["FillerAired"]) if e.event.what == CARD_WHAT]  # type: ignore[attr-defined]
            if cards and len(station.events(types=["SegmentAired"])) > 4:
                break
            time.sleep(0.5)
        # Production over, episode 3 given up: with no card to show, reruns alone would fill the gap forever; the
        # channel ends after what it is airing instead.
        for segment_id in ("x-e0003-s01", "x-e0003-s02"):
            station.record(ev.SegmentDropped(show="x", episode=3, segment_id=segment_id, reason="given up"))
        supervisor.finish()
        assert supervisor.wait(60), "reruns kept a finished channel on air"
    finally:
        supervisor.stop()
    cards = [e.event for e in station.events(types=["FillerAired"]) if e.event.what == CARD_WHAT]  # type: ignore[attr-defined]
    reruns = [e.event for e in station.events(types=["SegmentAired"]) if e.event.rerun]  # type: ignore[attr-defined]
    assert cards and cards[0].seconds == pytest.approx(3.0) and cards[0].reason == "waiting for x-e0003-s01 to be made"
    assert reruns, "a rerun aired"
    assert not [e for e in station.events(types=["FillerAired"]) if e.event.what == "ident"]  # type: ignore[attr-defined]
