"""Retention on a real station: real renders, a real checkpoints database, passes while production and playout run."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from studio import events as ev
from studio.agents.llm import OfflineBackedDirector
from studio.checkpoint_retention import prune_checkpoints
from studio.production import Production, open_station
from studio.retention import MediaIndex, plan_prune
from studio.runtime import StationRuntime
from studio.show import Show, load_show
from studio.state import StudioContext
from studio.station import Station
from studio.tools.registry import build_toolkit
from tests.integration.test_runtime import SHOW, events_of, of_type, settings_for, wait_for


@pytest.fixture
def show() -> Show:
    return load_show(SHOW)


def rows(path: Path) -> dict[str, dict[str, int]]:
    """Checkpoints and writes per thread."""
    db = sqlite3.connect(path)
    try:
        return {
            table: dict(db.execute(f"SELECT thread_id, COUNT(*) FROM {table} GROUP BY thread_id").fetchall())
            for table in ("checkpoints", "writes")
        }
    finally:
        db.close()


@pytest.mark.slow
def test_a_station_over_a_tiny_budget_prunes_only_what_has_aired_oldest_first(tmp_path: Path, show: Show) -> None:
    """Each pass is checked against the log as it stood when the pass was recorded: nothing deleted had not yet
    aired (or, for a take, was part of a segment still to air), nothing of the latest aired episode, no picture."""
    data_dir = tmp_path / "data"
    settings = settings_for(
        data_dir, playout_realtime=False, media_budget_gb=1e-9, rerun_keep_episodes=1, retention_interval_s=0.5
    )
    runtime = StationRuntime(show, settings, episodes=3)
    runtime.start()
    try:
        assert runtime.wait(900)
    finally:
        runtime.stop()
    station = Station(data_dir / "station.sqlite")
    root = (data_dir / "media").resolve()
    logged = station.events()
    passes = [item for item in logged if isinstance(item.event, ev.MediaPruned)]
    assert passes, "a 1-byte budget is exceeded by the first render"
    first_at: dict[tuple[str, str], int] = {}  # (event type, segment id) → log id of the first such event
    for item in logged:
        segment_id = getattr(item.event, "segment_id", None)
        if segment_id:
            first_at.setdefault((item.event.type, segment_id), item.id)
    segments = {entry.segment_id: entry for entry in station.rundown()}
    deleted_order: list[int] = []
    for item in passes:
        pruned = item.event
        assert isinstance(pruned, ev.MediaPruned)
        aired_before = {sid for (kind, sid), at in first_at.items() if kind == "SegmentAired" and at < item.id}
        episodes_aired = {n for n in {s.episode for s in segments.values()}
                          if all(s.segment_id in aired_before for s in segments.values() if s.episode == n)}  # fmt: skip
        for name in pruned.files:
            assert not name.endswith(".png") and "/ident/" not in name, name
            path = root / name
            assert not path.exists(), f"{name} is said to be deleted"
            episode = int(path.parts[-3 if "/shots/" in name or "/segments/" in name else -2][1:])
            if "/shots/" in name:
                segment_id = f"{station.shows()[0]}-e{episode:04d}-s{name.split('-s')[1][:2]}"
                assert first_at[("SegmentApproved", segment_id)] < item.id, f"{name}: its segment was not made yet"
                if segment_id not in aired_before:
                    made_of = {Path(shot["clip"]).name for shot in station.recipe(segment_id)["shots"]}
                    assert path.name not in made_of, f"{name}: the segment, not aired yet, is made of it"
            else:
                # Segment and episode files only of episodes aired through, and not of the latest one (reruns).
                assert episode in episodes_aired and episode < max(episodes_aired), (name, sorted(episodes_aired))
                deleted_order.append(episode)
    assert deleted_order == sorted(deleted_order), "aired episodes are pruned oldest first"
    assert deleted_order, "episodes beyond the one kept for reruns were pruned"
    # What is left: the last episode whole (reruns), every picture the critic wrote, the ident; nothing else spare.
    assert all(entry.path is not None and entry.path.exists() for entry in station.rundown(episode=3))
    for verdict in events_of(station, ev.VerdictGiven):
        assert Path(verdict.thumbnail).exists() and Path(verdict.contact_sheet).exists()
    assert list(root.glob("*/ident/*.mp4"))
    assert plan_prune(station, MediaIndex(root).files(), budget=1, keep_episodes=1).delete == []
    # Checkpoints were pruned while production wrote them (every half second here), and it made every episode.
    assert events_of(station, ev.CheckpointsPruned)
    assert [e.episode for e in events_of(station, ev.EpisodeAssembled)] == [1, 2, 3]
    assert rows(data_dir / "checkpoints.sqlite")["checkpoints"] == {}
    print(f"\n{len(passes)} pruning passes freed {sum(p.event.bytes_freed for p in passes) / 1e6:.2f} MB; media holds"
          f" {passes[-1].event.kept_bytes / 1e6:.2f} MB")  # fmt: skip
    station.close()


def test_checkpoints_of_finished_and_running_episodes_are_pruned_and_the_episode_still_resumes(
    tmp_path: Path, show: Show, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    settings = settings_for(data_dir)
    station = open_station(settings)
    context = StudioContext(
        show=show, settings=settings, toolkit=build_toolkit(settings), director=OfflineBackedDirector(),
        station=station, seed=show.channel.seed,
    )  # fmt: skip
    first = Production(context)
    # Episode 1 finishes, but its thread is left behind (as by a crash between its last step and its deletion).
    monkeypatch.setattr(first.checkpointer, "delete_thread", lambda thread_id: None)
    assert first.make_episode(1) is not None
    # Episode 2 stops once its first segment is approved: a thread with many steps behind it.
    station.subscribe(
        lambda logged: [first.stop_event.set() for e in logged if isinstance(e.event, ev.SegmentApproved)
                        and e.event.episode == 2 and e.event.segment == 0]
    )  # fmt: skip
    assert first.make_episode(2) is None
    # As a stopping station does: its workers end at their next step. Left running, a segment made beside the first
    # (pipeline depth 3) went on in this process while the second production resumed it: approved twice.
    first.close()
    path = data_dir / "checkpoints.sqlite"
    finished = [first._thread_id(1), first.segment_thread_id(1, 0), first.segment_thread_id(1, 1)]
    running = first.segment_thread_id(2, 0)
    before = rows(path)
    assert all(before["checkpoints"][thread] >= 2 for thread in finished), before
    assert before["checkpoints"][running] > 3, before

    # The window a kill can leave: the last node's writes saved, the checkpoint after it not.
    db = sqlite3.connect(path)
    newest = db.execute(
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_id DESC LIMIT 1", (running,)
    ).fetchone()
    db.execute("DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id = ?", (running, newest[0]))
    db.commit()
    db.close()
    monkeypatch.setattr("studio.checkpoint_retention.VACUUM_MIN_BYTES", 0)  # a small database is vacuumed too
    result = prune_checkpoints(path, station, keep=1, grace_s=0.0)
    after = rows(path)
    assert sorted(result.threads) == sorted(finished), "the finished episode's planning and segment threads"
    assert not set(finished) & (set(after["checkpoints"]) | set(after["writes"]))
    assert after["checkpoints"][running] == 1
    assert after["writes"].get(running, 0) > 0, "the writes pending on the latest checkpoint are kept"
    others = [thread for thread in before["checkpoints"] if thread not in finished]
    assert set(after["checkpoints"]) == set(others) and set(after["checkpoints"].values()) == {1}
    assert result.checkpoints_deleted == sum(before["checkpoints"].values()) - len(others) - 1
    assert result.vacuumed and result.bytes_after < result.bytes_before
    print(f"\ncheckpoints {sum(before['checkpoints'].values())} → 1, writes {sum(before['writes'].values())} →"
          f" {sum(after['writes'].values())}; {result.bytes_before} → {result.bytes_after} bytes")  # fmt: skip

    production = Production(context)
    config = {"configurable": {"thread_id": running}}
    snapshot = production.segment_graph.get_state(config)
    assert snapshot.next == () and [task.name for task in snapshot.tasks] == ["post"], "in the window"
    assert production.make_episode(2) is not None
    [resumed] = [e for e in events_of(station, ev.EpisodeResumed) if e.episode == 2]
    assert resumed.next_step.startswith("segment 1: post"), resumed.next_step
    assert len([e for e in events_of(station, ev.EpisodePlanned) if e.episode == 2]) == 1, "not planned again"
    approved = [e.segment_id for e in events_of(station, ev.SegmentApproved) if e.episode == 2]
    assert len(approved) == len(set(approved)) == 2
    assert rows(path)["checkpoints"] == {}, "the finished episode's thread is gone"
    station.close()


def test_a_station_stopped_mid_episode_after_its_checkpoints_were_pruned_resumes_it(tmp_path: Path, show: Show) -> None:
    """The runtime's own passes cut the running episode's thread down to its latest checkpoints while production
    writes it; a station stopped then resumes the episode from what is left instead of planning it again."""
    data_dir = tmp_path / "data"
    # One segment at a time: side by side, the second segment can be approved while the pause lands, and the
    # episode finishes instead of stopping in its middle.
    settings = settings_for(data_dir, playout_realtime=False, retention_interval_s=0.2, pipeline_depth=1)
    runtime = StationRuntime(show, settings, episodes=1)
    runtime.start()
    client = Station(data_dir / "station.sqlite")
    try:
        wait_for(client, of_type(ev.SegmentApproved, episode=1))
        pause = client.add_command(runtime.show_key, "pause")
        wait_for(client, of_type(ev.CommandApplied, command_id=pause))
        time.sleep(3.0)  # the step in progress ends; passes every 0.2 s trim the thread after it
    finally:
        runtime.stop()
    assert not events_of(client, ev.EpisodeAssembled), "stopped in the middle of the episode"
    assert sum(e.checkpoints_deleted for e in events_of(client, ev.CheckpointsPruned)) > 0
    thread = f"{runtime.show_key}-seed{show.channel.seed}-e0001"
    counts = rows(data_dir / "checkpoints.sqlite")["checkpoints"]
    # The episode's planning thread and its segments' threads, each cut down to its latest 3.
    assert {thread, f"{thread}-s01"} <= set(counts) and set(counts.values()) == {3}, counts
    client.add_command(runtime.show_key, "resume")
    runtime = StationRuntime(show, settings, episodes=1)
    runtime.start()
    try:
        assert runtime.wait(600)
    finally:
        runtime.stop()
    [resumed] = [e for e in events_of(client, ev.EpisodeResumed) if e.episode == 1]
    assert len([e for e in events_of(client, ev.EpisodePlanned) if e.episode == 1]) == 1, "not planned again"
    made = [e.segment_id for e in events_of(client, ev.SegmentApproved) if e.episode == 1]
    assert len(made) == len(set(made)) == 2
    assert [e.episode for e in events_of(client, ev.EpisodeAssembled)] == [1]
    assert [e.segment_id for e in events_of(client, ev.SegmentAired)] == sorted(made), "aired in rundown order"
    client.close()
