"""Rendering on a real local Ray cluster: a head and a worker node started by the test on 127.0.0.1, each with one
unit of a custom `render` resource standing in for a GPU. `studio run --ray` renders a show's shots on both
workers; a worker node killed mid-run loses its shot to the other worker, the log says so, and nothing approved is
lost.

The cluster is Ray's own processes (`ray start --block`: GCS, raylet, workers), not a mock; the render workers
build their toolkit on the cluster from the station's settings (the CLI test), or from a simulated GPU renderer of
fixed latency (the worker-loss test)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from studio.agents.llm import OfflineBackedDirector
from studio.config import load_settings
from studio.errors import ConfigError
from studio.production import Production, open_station
from studio.show import load_show
from studio.state import StudioContext
from studio.tools.base import MusicRequest
from studio.tools.media import read_wav
from studio.tools.registry import build_toolkit
from tests.conftest import TEST_SHOWS
from tests.integration.test_cli import _one_clean_error_line, studio
from tests.ray_cluster import LocalCluster, free_port, on_node, simulated_toolkit

if TYPE_CHECKING:
    from collections.abc import Iterator


ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'studio[ray]' (the test command does)")

# One worker runs them all (they share the module's local Ray cluster): `--dist loadgroup`, scripts/test.
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("test_ray_cluster")]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    local = LocalCluster()
    try:
        local.start_head()
        local.add_worker()
        local.wait_for(2)
        yield local
    finally:
        local.stop()


@pytest.mark.slow
def test_studio_run_renders_a_shows_shots_on_the_clusters_workers(cluster: LocalCluster, tmp_path: Path) -> None:
    """`studio run SHOW --ray ADDRESS`: one render worker per render unit, on both nodes; every shot of the episode
    rendered by one of them, with the embedded renderer they built from the station's settings, and judged in a
    Ray task on the cluster, its evidence pictures written on the station's machine; each segment conformed in a
    Ray task too."""
    env = {**cluster.env, "STUDIO_DATA_DIR": str(tmp_path / "data"), "STUDIO_RAY_RENDER_RESOURCE": "render"}
    done = subprocess.run(
        [sys.executable, "-m", "studio.cli", "run", str(TEST_SHOWS / "two_segments.yaml"), "--headless",
         "--episodes", "1", "--port", "0", "--ray", cluster.address],
        capture_output=True, text=True, env=env, timeout=500, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:] + cluster.logs()
    log = subprocess.run(
        [sys.executable, "-m", "studio.cli", "log", "--json", "--type", "ClipRendered", "--type", "SegmentApproved",
         "--type", "VerdictGiven"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    events = [json.loads(line) for line in log.stdout.splitlines()]
    rendered = [event for event in events if event["type"] == "ClipRendered"]
    assert rendered and any(event["type"] == "SegmentApproved" for event in events)
    workers = {facts["worker"] for event in rendered for facts in event["stages"].values()}
    assert all(re.fullmatch(r"\d \(\S+ pid \d+\)", worker) for worker in workers), workers
    assert {worker.split()[0] for worker in workers} == {"0", "1"}, "both workers rendered shots"
    assert all(event["stages"]["generate"]["backend"] == "procedural" for event in rendered)
    verdicts = [event for event in events if event["type"] == "VerdictGiven"]
    assert len(verdicts) == len(rendered), "every rendered shot judged"
    assert all(event["backend"].endswith("(on the Ray cluster)") for event in verdicts), verdicts[0]["backend"]
    assert all(Path(event["contact_sheet"]).stat().st_size > 1000 for event in verdicts), "evidence written here"
    approved = [event for event in events if event["type"] == "SegmentApproved"]
    assert all(event["backend"].endswith(" · conform:ffmpeg on the Ray cluster") for event in approved), approved
    assert all(Path(event["path"]).stat().st_size > 10_000 for event in approved), "the segments written here"

    status = subprocess.run([sys.executable, "-m", "studio.cli", "status"], capture_output=True, text=True, env=env,
                            timeout=120, check=True).stdout  # fmt: skip
    line = next(line for line in status.splitlines() if line.startswith("workers"))
    assert line.count(" shots in 15 min (") == 2 and all(worker in line for worker in workers), line
    doctor = subprocess.run([sys.executable, "-m", "studio.cli", "doctor", "--ray", cluster.address],
                            capture_output=True, text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"ray cluster at {cluster.address}: 2 nodes, CPU 2, render 2; 2 render workers (one per render)" in (
        doctor.stdout
    ), doctor.stdout
    doctor = subprocess.run([sys.executable, "-m", "studio.cli", "doctor", "--ray", cluster.client_address],
                            capture_output=True, text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert doctor.returncode == 0 and f"ray cluster at {cluster.client_address}: 2 nodes" in doctor.stdout, (
        doctor.stdout + doctor.stderr
    )  # through Ray Client
    env["STUDIO_RAY_RENDER_RESOURCE"] = "GPU"
    doctor = subprocess.run([sys.executable, "-m", "studio.cli", "doctor", "--ray", cluster.address],
                            capture_output=True, text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert doctor.returncode == 1 and "has no GPU to render on" in " ".join(doctor.stdout.split()), doctor.stdout


def test_a_worker_lost_mid_shot_hands_it_to_another_and_nothing_approved_is_lost(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """A third node joins, its worker takes shots, and it is killed (every process of it) while it renders one:
    that shot is rendered by another worker, `RenderWorkerLost` names the worker, and the episode is made whole."""
    from studio.ray_render import RenderFarm

    extra = cluster.add_worker()  # the node this test kills
    cluster.wait_for(3)
    config = load_settings(data_dir=tmp_path / "data", buffer_target_s=1e6, safety_gate=False, pipeline_depth=3)
    station = open_station(config)
    show = load_show(TEST_SHOWS / "two_segments.yaml")
    farm = RenderFarm(config, cluster.address, resource="render", toolkit_factory=simulated_toolkit)
    stop = threading.Event()
    try:
        farm.start()
        assert farm.slots == 3
        # A render worker scores a segment between its renders (MusicGen would run on its GPU).
        track = farm.music(MusicRequest(prompt="upbeat kitchen", seconds=4.0, seed=3), tmp_path / "music.wav")
        samples, rate = read_wav(track.path)
        assert rate == track.sample_rate == 48000 and len(samples) == 4 * 48000 and np.abs(samples).max() > 0.01
        assert " on worker " in track.backend and track.backend.startswith("synth"), track.backend
        doomed = next(slot for slot, where in enumerate(farm.where) if on_node(extra, where))
        context = StudioContext(show=show, settings=config, toolkit=build_toolkit(config), render_farm=farm,
                                director=OfflineBackedDirector(), station=station, seed=show.channel.seed)  # fmt: skip
        production = Production(context)
        killed, stop = cluster.kill_mid_shot(extra, farm.where[doomed]["pid"])
        made = production.run(1)
        production.close()
    finally:
        stop.set()
        farm.stop()
        ray.shutdown()
    assert killed, "the doomed worker never rendered a shot"
    assert len(made) == 1 and made[0].exists()
    lost = [logged.event for logged in station.events(types=["RenderWorkerLost"])]
    assert [event.shot for event in lost] == [killed["shot"]], "the shot it was rendering"
    assert lost[0].worker == farm.name(doomed) and lost[0].workers_left == 2
    assert "the shot goes to another" in lost[0].summary()
    assert not station.events(types=["RenderFailed"]), "the lost shot was rendered elsewhere, not failed"
    rendered = [logged.event for logged in station.events(types=["ClipRendered"])]
    redone = [event for event in rendered if event.shot == killed["shot"]]
    assert redone and not redone[-1].stages["generate"]["worker"].startswith(f"{doomed} ")
    designed = {shot.shot_id for logged in station.events(types=["ShotsDesigned"]) for shot in logged.event.shots}
    assert designed <= {event.shot for event in rendered}, "every shot designed was rendered"
    written = {(logged.event.episode, logged.event.segment) for logged in station.events(types=["SegmentWritten"])}
    approved = {(logged.event.episode, logged.event.segment) for logged in station.events(types=["SegmentApproved"])}
    assert written and approved == written, "every segment approved"


def test_without_ray_or_a_cluster_the_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from studio.ray_render import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install 'studio\[ray\]'"):
        import_ray()
    monkeypatch.undo()
    nobody = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = studio("run", str(TEST_SHOWS / "two_segments.yaml"), "--headless", "--ray", nobody, data_dir=tmp_path)
    _one_clean_error_line(result, f"no Ray cluster at {nobody}", "ray start --head")
    assert time.monotonic() - started < 60, "answered at once, not after Ray's minutes of retrying"
