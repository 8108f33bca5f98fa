"""Retention rules over a real store and real files (sizes chosen, contents irrelevant): what a pass deletes, in what
order, and what it never touches."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import events as ev
from studio.retention import LOW_WATER, MediaIndex, plan_prune, prune_media
from studio.station import Station

SHOW = "ret"
TAKE, SEGMENT, EPISODE, PICTURE = 1_000, 5_000, 10_000, 100


class Channel:
    """A store and a media dir filled as production and playout would leave them."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "data" / "media"
        self.station = Station(tmp_path / "data" / "station.sqlite")
        self.outside = tmp_path / "outside"
        self.outside.mkdir()
        self.clock = 1_000.0

    def file(self, relative: str, size: int) -> Path:
        path = self.root / SHOW / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        return path

    def tick(self) -> float:
        self.clock += 10.0
        return self.clock

    def record(self, cls: type[ev.Event], **fields: object) -> None:
        self.station.record(cls(show=SHOW, at=self.tick(), **fields))  # type: ignore[call-arg]

    def episode(self, number: int, *, made: bool = True, path_of: dict[int, Path] | None = None) -> list[str]:
        """Plan episode `number` (two segments), render each a rejected and a passing take with their pictures, and
        (when `made`) approve the segments and assemble the episode. Returns the segment ids."""
        ids = [f"{SHOW}-e{number:04d}-s{index + 1:02d}" for index in range(2)]
        planned = tuple(ev.PlannedSegment(segment_id, f"seg {segment_id}", "opening", 2.0) for segment_id in ids)
        self.record(ev.EpisodePlanned, episode=number, title=f"episode {number}", topic=f"t{number}", logline="",
                    segments=planned, planned_seconds=4.0)  # fmt: skip
        for index, segment_id in enumerate(ids):
            stem = f"e{number:04d}/shots/e{number:04d}-s{index + 1:02d}-sh01"
            self.file(f"{stem}_a1_aaaaaaaaaa.mp4", TAKE)
            passed = self.file(f"{stem}_a2_bbbbbbbbbb.mp4", TAKE)
            for take in ("a1_aaaaaaaaaa", "a2_bbbbbbbbbb"):
                self.file(f"{stem}_{take}.thumb.png", PICTURE)
                self.file(f"{stem}_{take}.sheet.png", PICTURE)
            if not made:
                continue
            segment_path = (path_of or {}).get(index) or self.file(f"e{number:04d}/segments/{segment_id}.mp4", SEGMENT)
            recipe = {"shots": [{"shot": {"id": f"e{number:04d}-s{index + 1:02d}-sh01"}, "clip": str(passed)}],
                      "mood": "calm", "music_seed": 1}  # fmt: skip
            self.record(ev.SegmentApproved, episode=number, segment=index, segment_id=segment_id,
                        path=str(segment_path), seconds=2.0, shots=1, recipe=recipe)  # fmt: skip
        if made:
            episode_path = self.file(f"e{number:04d}/episode-{number:04d}.mp4", EPISODE)
            self.record(ev.EpisodeAssembled, episode=number, title=f"episode {number}", path=str(episode_path),
                        segments=2, video_seconds=4.0, audio_seconds=4.0)  # fmt: skip
        return ids

    def air(self, segment_id: str, *, finish: bool = True) -> None:
        number = int(segment_id.split("-e")[1][:4])
        self.record(ev.SegmentOnAir, episode=number, segment_id=segment_id, seconds=2.0)
        if finish:
            self.record(ev.SegmentAired, episode=number, segment_id=segment_id, seconds=2.0)

    def bytes(self) -> int:
        """What media/ holds, as `du` counts it (links to elsewhere excluded)."""
        return sum(path.stat().st_size for path in self.root.rglob("*") if path.is_file() and not path.is_symlink())

    def names(self) -> set[str]:
        return {str(path.relative_to(self.root)) for path in self.root.rglob("*") if path.is_file()}


@pytest.fixture
def channel(tmp_path: Path) -> Channel:
    """Episodes 1-3 aired (episode 1's second segment recorded at a path outside media/, and a take there linked
    from inside), episode 4 on air (its first segment) with its second re-prompted, episode 5 being made, the ident."""
    channel = Channel(tmp_path)
    outside_segment = channel.outside / "segment.mp4"
    outside_segment.write_bytes(b"o" * SEGMENT)
    outside_take = channel.outside / "take.mp4"
    outside_take.write_bytes(b"o" * TAKE)
    link = channel.root / SHOW / "e0001/shots/e0001-s02-sh01_a3_cccccccccc.mp4"
    for number in (1, 2, 3):
        ids = channel.episode(number, path_of={1: outside_segment} if number == 1 else None)
        for segment_id in ids:
            channel.air(segment_id)
    link.symlink_to(outside_take)
    first, second = channel.episode(4)
    channel.air(first, finish=False)
    channel.station.add_command(SHOW, "reprompt", {"segment_id": second, "shot_id": "e0004-s02-sh01", "prompt": "p"})
    channel.episode(5, made=False)
    channel.file("ident/ident_192x108_12fps_48f_0123456789.mp4", 20_000)
    (channel.root / "playout").mkdir(parents=True)
    (channel.root / "playout" / "encoder.log").write_bytes(b"l" * 50)
    return channel


NEVER = {
    # thumbnails, contact sheets, the ident, the encoder log: all of them
    "ret/ident/ident_192x108_12fps_48f_0123456789.mp4",
    # episode 4: the segment on air, the one being re-prompted, and every take either is made of (or being re-made from)
    "ret/e0004/segments/ret-e0004-s01.mp4",
    "ret/e0004/segments/ret-e0004-s02.mp4",
    "ret/e0004/shots/e0004-s01-sh01_a2_bbbbbbbbbb.mp4",
    "ret/e0004/shots/e0004-s02-sh01_a1_aaaaaaaaaa.mp4",
    "ret/e0004/shots/e0004-s02-sh01_a2_bbbbbbbbbb.mp4",
    "ret/e0004/episode-0004.mp4",
    # episode 5 is being made: its thread may resume and reuse any saved render
    "ret/e0005/shots/e0005-s01-sh01_a1_aaaaaaaaaa.mp4",
    "ret/e0005/shots/e0005-s01-sh01_a2_bbbbbbbbbb.mp4",
    "ret/e0005/shots/e0005-s02-sh01_a1_aaaaaaaaaa.mp4",
    "ret/e0005/shots/e0005-s02-sh01_a2_bbbbbbbbbb.mp4",
}


def test_over_budget_deletes_takes_then_aired_episodes_oldest_first_and_never_what_may_still_air(
    channel: Channel,
) -> None:
    before = channel.names()
    index = MediaIndex(channel.root)
    result = prune_media(channel.station, index, budget=1, keep_episodes=1)
    deleted = [str(item.path.relative_to(index.root)) for item in result.deleted]
    after = channel.names()
    assert before - after == set(deleted)
    assert NEVER <= after
    assert {name for name in before if name.endswith(".png")} <= after, "every thumbnail and contact sheet is kept"
    assert "playout/encoder.log" in after
    # Episode 3 aired last: kept whole for reruns (its takes are not needed for that).
    assert {"ret/e0003/episode-0003.mp4", "ret/e0003/segments/ret-e0003-s01.mp4",
            "ret/e0003/segments/ret-e0003-s02.mp4"} <= after  # fmt: skip
    assert result.plan.kept_for_reruns == ["ret/e0003"]
    # The store's path outside media/ and the link to a file outside: neither touched.
    assert (channel.outside / "segment.mp4").exists() and (channel.outside / "take.mp4").exists()
    assert (channel.root / SHOW / "e0001/shots/e0001-s02-sh01_a3_cccccccccc.mp4").is_symlink()
    # Takes first (oldest episode first; episode 4's rejected take too), then aired episodes' files, oldest first.
    takes = [name for name in deleted if "/shots/" in name]
    assert deleted[: len(takes)] == takes
    assert [name.split("/")[1] for name in takes] == sorted(name.split("/")[1] for name in takes)
    assert "ret/e0004/shots/e0004-s01-sh01_a1_aaaaaaaaaa.mp4" in takes
    assert len(takes) == 3 * 4 + 1
    assert deleted[len(takes) :] == [
        "ret/e0001/episode-0001.mp4", "ret/e0001/segments/ret-e0001-s01.mp4",
        "ret/e0002/episode-0002.mp4", "ret/e0002/segments/ret-e0002-s01.mp4", "ret/e0002/segments/ret-e0002-s02.mp4",
    ]  # fmt: skip
    assert result.bytes_freed == 13 * TAKE + 2 * EPISODE + 3 * SEGMENT
    assert result.kept_bytes == channel.bytes()


def test_a_pass_stops_as_soon_as_media_is_under_budget(channel: Channel) -> None:
    index = MediaIndex(channel.root)
    total = plan_prune(channel.station, index.files(), budget=None, keep_episodes=1).total_bytes
    budget = total - 13 * TAKE - EPISODE - 1  # every spare take and episode 1's file are not quite enough
    result = prune_media(channel.station, index, budget=budget, keep_episodes=1, low_water=1.0)
    assert [item.path.name for item in result.deleted[-2:]] == ["episode-0001.mp4", "ret-e0001-s01.mp4"]
    assert result.kept_bytes <= budget
    assert result.kept_bytes == channel.bytes()
    assert (channel.root / SHOW / "e0002/episode-0002.mp4").exists()
    # Under budget now: the next pass deletes nothing (and reads the unchanged folders from its cache).
    assert prune_media(channel.station, index, budget=budget, keep_episodes=1).deleted == []


def test_over_budget_a_pass_frees_down_to_the_low_water_mark(channel: Channel) -> None:
    index = MediaIndex(channel.root)
    total = plan_prune(channel.station, index.files(), budget=None, keep_episodes=1).total_bytes
    result = prune_media(channel.station, index, budget=total - 1, keep_episodes=1)
    assert result.kept_bytes <= int((total - 1) * LOW_WATER) < result.kept_bytes + result.deleted[-1].size


def test_without_reruns_kept_the_segment_that_aired_last_stays_for_a_hold(channel: Channel) -> None:
    result = prune_media(channel.station, MediaIndex(channel.root), budget=1, keep_episodes=0)
    names = {item.path.name for item in result.deleted}
    assert {"episode-0003.mp4", "ret-e0003-s01.mp4"} <= names
    assert "ret-e0003-s02.mp4" not in names
    assert (channel.root / SHOW / "e0003/segments/ret-e0003-s02.mp4").exists()


def test_under_budget_or_unlimited_nothing_is_deleted_and_a_dry_run_deletes_nothing(channel: Channel) -> None:
    before = channel.names()
    index = MediaIndex(channel.root)
    assert prune_media(channel.station, index, budget=None, keep_episodes=0).deleted == []
    assert prune_media(channel.station, index, budget=10**9, keep_episodes=0).deleted == []
    dry = prune_media(channel.station, index, budget=1, keep_episodes=1, dry_run=True)
    assert dry.deleted and dry.bytes_freed == 13 * TAKE + 2 * EPISODE + 3 * SEGMENT
    assert channel.names() == before


def test_studio_prune_dry_run_deletes_nothing_and_prune_deletes_what_it_printed(
    channel: Channel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.cli import main

    monkeypatch.setenv("STUDIO_RERUN_KEEP_EPISODES", "1")
    data_dir = channel.root.parent
    before = channel.names()
    args = ["prune", "--data-dir", str(data_dir), "--budget-gb", "1e-9"]
    assert main([*args, "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert channel.names() == before
    would = [line.split()[-1] for line in printed if line.startswith("would delete ")]
    assert len(would) == 18 and "ret/e0001/episode-0001.mp4" in would
    assert printed[-2].startswith("media: ") and "would delete 18 file(s), 48.0 kB;" in printed[-2]
    assert "kept for reruns: ret/e0003" in printed[-2]
    assert not channel.station.events(types=["MediaPruned"]), "a dry run records nothing"

    assert main(args) == 0
    deleted = [line.split()[-1] for line in capsys.readouterr().out.splitlines() if line.startswith("deleted ")]
    assert deleted == would
    assert before - channel.names() == set(would)
    [pruned] = [logged.event for logged in channel.station.events(types=["MediaPruned"])]
    assert isinstance(pruned, ev.MediaPruned)
    assert list(pruned.files) == would and pruned.bytes_freed == 13 * TAKE + 2 * EPISODE + 3 * SEGMENT
    assert pruned.kept_bytes == channel.bytes() and pruned.budget_bytes == 1 and pruned.show == SHOW


def test_a_held_segment_keeps_its_file_and_the_takes_it_is_made_of(tmp_path: Path) -> None:
    """The safety gate held episode 2's second segment: a person may still approve it (its file airs) or re-prompt
    a shot (post conforms it again from its other takes), so neither may go, however far over budget."""
    channel = Channel(tmp_path)
    for segment_id in channel.episode(1):
        channel.air(segment_id)
    ids = [f"{SHOW}-e0002-s{index:02d}" for index in (1, 2)]
    planned = tuple(ev.PlannedSegment(segment_id, segment_id, "opening", 2.0) for segment_id in ids)
    channel.record(ev.EpisodePlanned, episode=2, title="episode 2", topic="t2", logline="", segments=planned,
                   planned_seconds=4.0)  # fmt: skip
    takes = [channel.file(f"e0002/shots/e0002-s02-sh01_a{n}_{n * 'c'}{(10 - n) * 'd'}.mp4", TAKE) for n in (1, 2)]
    held = channel.file("e0002/segments/ret-e0002-s02.mp4", SEGMENT)
    recipe = {"shots": [{"shot": {"id": "e0002-s02-sh01"}, "clip": str(takes[1])}], "mood": "calm", "music_seed": 1}
    channel.record(ev.SegmentDropped, episode=2, segment=0, segment_id=ids[0], reason="no shot passed")
    channel.record(ev.SegmentHeld, episode=2, segment=1, segment_id=ids[1], path=str(held), seconds=2.0,
                   reasons=("text in the picture: 'SALE 50%'",), recipe=recipe)  # fmt: skip
    episode_path = channel.file("e0002/episode-0002.mp4", EPISODE)  # the episode is made: its thread is gone
    channel.record(ev.EpisodeAssembled, episode=2, title="episode 2", path=str(episode_path), segments=1,
                   video_seconds=2.0, audio_seconds=2.0)  # fmt: skip
    assert channel.station.segment(ids[1]).status == "held"  # type: ignore[union-attr]
    result = prune_media(channel.station, MediaIndex(channel.root), budget=1, keep_episodes=0)
    assert result.deleted, "episode 1 was pruned: the pass did run"
    assert held.exists() and takes[1].exists()
