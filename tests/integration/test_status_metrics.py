"""Health: `studio status` (one screen) and the Prometheus metrics endpoint, both read from the station store of a
real running station, and their figures agree with the store."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from studio import events as ev
from studio.errors import ConfigError
from studio.runtime import StationRuntime
from studio.show import load_show
from studio.station import Station
from tests.integration.test_cli import _one_clean_error_line, studio
from tests.integration.test_runtime import SHOW, events_of, settings_for

SHOW_KEY = "station-test"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_status_and_metrics_tell_the_same_story_as_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = StationRuntime(
        load_show(SHOW), settings_for(data_dir, playout_realtime=False, metrics_port=0), episodes=1
    )
    runtime.start()
    try:
        assert runtime.wait(300), "the station made and aired its episode"
        assert runtime.metrics is not None and runtime.metrics.url.startswith("http://127.0.0.1:")
        metrics = scrape(runtime.metrics.url)
        station = Station(data_dir / "station.sqlite")
        aired = len(events_of(station, ev.SegmentAired))
        approved = len(events_of(station, ev.SegmentApproved))
        assert aired >= 1 and metrics[("studio_segments_total", (("outcome", "aired"),))] == aired
        assert metrics[("studio_segments_total", (("outcome", "approved"),))] == approved
        held = len(events_of(station, ev.SegmentHeld))
        assert metrics[("studio_segments_total", (("outcome", "held"),))] == held
        assert metrics[("studio_output_up", (("output", "hls"),))] == 1.0
        assert metrics[("studio_buffer_seconds", ())] == station.buffered_seconds(SHOW_KEY)
        assert metrics[("studio_filler_seconds_total", ())] == sum(
            e.seconds for e in events_of(station, ev.FillerAired)
        )
        failed = {key[1][0][1]: value for key, value in metrics.items() if key[0] == "studio_critic_failures_total"}
        assert failed == station.critic_failures(SHOW_KEY)
        [started] = events_of(station, ev.StationStarted)
        assert started.metrics_url == runtime.metrics.url and started.title == "Station Test"

        shown = studio("status", data_dir=data_dir)
        assert shown.returncode == 0, shown.stderr
        lines = {line[:9].strip(): line[10:] for line in shown.stdout.splitlines()[1:]}
        assert shown.stdout.startswith("Station Test (station-test) running since") and "filler ident" in shown.stdout
        assert lines["so far"].startswith(f"{approved} segments approved, {aired} aired")
        assert f"{held} held by the safety gate" in lines["so far"]
        assert lines["outputs"].startswith("hls live · watch at http://127.0.0.1:")
    finally:
        runtime.stop()
    stopped = json.loads(studio("status", "--json", data_dir=data_dir).stdout)
    assert stopped["running"] is False and stopped["pid"] is None and stopped["counts"]["SegmentAired"] == aired
    assert stopped["outputs"] == {"hls": False}


def test_status_without_a_station_and_a_metrics_port_in_use_are_clean_errors(tmp_path: Path) -> None:
    _one_clean_error_line(studio("status", data_dir=tmp_path / "empty"), "no station in")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        runtime = StationRuntime(load_show(SHOW), settings_for(tmp_path / "data", metrics_port=port), episodes=1)
        with pytest.raises(ConfigError, match=f"metrics port {port} on 127.0.0.1 is in use"):
            runtime.start()
