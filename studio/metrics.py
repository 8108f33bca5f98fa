"""Prometheus metrics of a running station, served on loopback (`STUDIO_METRICS_PORT`): every scrape reads the
station store through `studio.health`, so the figures are the ones `studio status` prints and nothing is counted
twice in memory."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from studio.errors import ConfigError
from studio.health import read_health

if TYPE_CHECKING:
    from collections.abc import Iterator

    from studio.station import Station

SEGMENT_OUTCOMES = {
    "approved": "SegmentApproved", "aired": "SegmentAired", "dropped": "SegmentDropped", "skipped": "SegmentSkipped",
    "rejected": "SegmentRejected", "remade": "SegmentRemade", "held": "SegmentHeld",
}  # fmt: skip


class StationCollector:
    """A prometheus-client collector over one show's store."""

    def __init__(self, station: Station, show: str) -> None:
        self.station = station
        self.show = show

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        health = read_health(self.station, self.show, running=True)
        counts = health.counts
        yield GaugeMetricFamily(
            "studio_buffer_seconds", "Approved seconds queued ahead of the playhead", value=health.buffered_seconds
        )
        yield GaugeMetricFamily(
            "studio_buffer_target_seconds", "The buffer production keeps full", value=health.buffer_target_s
        )
        yield GaugeMetricFamily(
            "studio_production_rate", "On-air seconds approved per wall second over the last 15 minutes",
            value=health.production_rate or 0.0,
        )  # fmt: skip
        pipeline = health.pipeline
        if pipeline is not None and pipeline.render_busy_fraction is not None:
            yield GaugeMetricFamily(
                "studio_render_busy_fraction",
                "Share of the time the render stage (the GPU) rendered while production had work in hand",
                value=pipeline.render_busy_fraction,
            )
        if pipeline is not None:
            stage_time = GaugeMetricFamily(
                "studio_stage_seconds_per_shot", "Each production stage's work per shot attempt", labels=["stage"]
            )
            for stage, ms in sorted(pipeline.per_shot_ms.items()):
                stage_time.add_metric([stage], ms / 1000)
            yield stage_time
        up = GaugeMetricFamily("studio_output_up", "1 while an output is live, 0 while it is lost", labels=["output"])
        for output, live in sorted(health.outputs.items()):
            up.add_metric([output], 1.0 if live else 0.0)
        yield up
        yield GaugeMetricFamily("studio_production_paused", "1 while a person paused production", value=health.paused)
        yield GaugeMetricFamily("studio_commands_waiting", "Commands not answered yet", value=health.commands_waiting)
        segments = CounterMetricFamily("studio_segments", "Segments by what happened to them", labels=["outcome"])
        for outcome, type_name in SEGMENT_OUTCOMES.items():
            segments.add_metric([outcome], counts.get(type_name, 0))
        yield segments
        failures = CounterMetricFamily("studio_critic_failures", "Clips the critic failed, by check", labels=["check"])
        for check, count in sorted(health.critic_failures.items()):
            failures.add_metric([check], count)
        yield failures
        yield CounterMetricFamily(
            "studio_filler_seconds", "Seconds the ident (or card) aired", value=health.filler_seconds
        )
        yield CounterMetricFamily(
            "studio_encoder_restarts", "Times the muxer was started again", value=counts.get("EncoderRestarted", 0)
        )
        yield CounterMetricFamily("studio_render_failures", "Renders that failed", value=counts.get("RenderFailed", 0))
        yield CounterMetricFamily(
            "studio_backend_fallbacks",
            "Tool calls the embedded backend took over",
            value=counts.get("BackendFellBack", 0),
        )


class MetricsServer:
    """`/metrics` in Prometheus text format on 127.0.0.1:`port` (0 picks a free one), on its own thread."""

    def __init__(self, station: Station, show: str, port: int) -> None:
        self.collector = StationCollector(station, show)
        self.port = port
        self._server: Any = None
        self._thread: Any = None

    def start(self) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)  # type: ignore[arg-type]
        try:
            self._server, self._thread = start_http_server(self.port, addr="127.0.0.1", registry=registry)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"the metrics port {self.port} on 127.0.0.1 is in use: choose another with STUDIO_METRICS_PORT"
                    " (0 picks a free one)"
                ) from None
            raise ConfigError(f"cannot serve metrics on 127.0.0.1:{self.port}: {error.strerror or error}") from None
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
