"""Render on a Ray cluster: one long-lived actor per GPU, each holding its own loaded models, fed by the render stage.

`studio run SHOW --ray ADDRESS` (or `STUDIO_RAY_ADDRESS`) connects this station to a running Ray cluster and starts
a render worker (`RenderWorker`) for every unit of the render resource the cluster has: `GPU` by default, or the
custom resource `STUDIO_RAY_RENDER_RESOURCE` names (how a test stands in for GPUs, or how a cluster keeps some GPUs
for other work). A worker builds its toolkit once (`studio.tools.registry.build_toolkit` on the worker, from this
station's settings), so its models stay loaded between shots, and renders whole shots (`studio.render.render_shot`:
generation, extension, the upscaling pass, interpolation) in a scratch folder of its own; the finished shot comes
back through Ray's object store and is written to the episode's folder here. Between renders the workers also score
the segments (`RenderFarm.music`: MusicGen on their GPUs, beside the video models). The critic judges each clip in a Ray
task on one of the cluster's CPUs (`judge_on_worker`), its evidence pictures written here, and each segment's
conform encode runs in one too (`conform_on_worker`). The station store, the agents' decisions and checkpoints,
the on-air safety gate and playout stay on this machine.

Each worker is one slot of the render stage (`studio.pipeline.RenderStage`): the stage hands the next shot by
priority to whichever worker is free. A worker that dies mid-shot (its machine lost, its process killed) is
retired: its shot goes back to the front of the queue for another worker, and `RenderWorkerLost` says so in the
log. With every worker lost, shots render on this machine's own toolkit rather than not at all.

Ray is an optional extra (`pip install 'studio[ray]'`); without it, `--ray` is an error saying what to install.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import ConfigError
from studio.pipeline import RenderWorkerLost

if TYPE_CHECKING:
    from collections.abc import Callable

    from studio.config import Settings
    from studio.plan import Shot, Verdict
    from studio.show import Show
    from studio.tools.base import AudioTrack, MusicRequest, Toolkit

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'studio[ray]'"
NAMESPACE = "studio"


def import_ray() -> Any:
    """The `ray` module, or a `ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


class RenderWorker:
    """The body of a Ray actor (`RenderFarm` wraps it with `ray.remote`): a toolkit built once, rendering shots."""

    def __init__(self, settings: Settings, toolkit_factory: Callable[[Settings], Toolkit] | None = None) -> None:
        from studio.tools.registry import build_toolkit

        self.toolkit = (toolkit_factory or build_toolkit)(settings)
        self.scratch = Path(tempfile.mkdtemp(prefix="studio-render-worker-"))

    def describe(self) -> dict[str, Any]:
        """Where this worker runs: its node's address, its process, the GPUs Ray gave it, its video backend."""
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        # The address the node joined the cluster with (`ray start --node-ip-address`), else this machine's.
        node = next((n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id), None)
        return {
            "node": node or ray.util.get_node_ip_address(),
            "node_id": node_id,
            "pid": os.getpid(),
            "gpus": [str(gpu) for gpu in ray.get_gpu_ids()],
            "video": self.toolkit.video.name,
        }

    def music(self, request: MusicRequest) -> tuple[bytes, dict[str, Any]]:
        """Score a segment with this worker's music backend (on its GPU, beside the video models): the WAV's bytes
        and the track's facts (`AudioTrack` without its path)."""
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            track = self.toolkit.music.generate(request, folder / "music.wav")
            facts = {"sample_rate": track.sample_rate, "channels": track.channels, "seconds": track.seconds,
                     "backend": track.backend}  # fmt: skip
            return track.path.read_bytes(), facts
        finally:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)

    def render(self, show: Show, shot: Shot, previous: bytes | None) -> tuple[bytes, dict[str, Any], list[Any]]:
        """Render `shot` (`studio.render.render_shot`) and return the shot file's bytes, what each stage did and
        the stages that fell back. `previous`: the bytes of the shot's earlier render (a reversal needs it)."""
        import shutil

        from studio.render import render_shot

        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            before = None
            if previous is not None:
                before = folder / "previous.mp4"
                before.write_bytes(previous)
            path, runner = render_shot(self.toolkit, show, shot, folder / "work", folder / f"{shot.id}.mp4", before)
            return path.read_bytes(), runner.stages, list(runner.fallbacks)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


_worker_checks: list[Any] | None = None


def judge_on_worker(settings: Settings, clip: bytes, suffix: str, shot: Shot) -> tuple[Verdict, dict[str, bytes]]:
    """A Ray task: judge a clip's bytes with the critic's checks (built once per worker process from the station's
    settings, the vision check included when configured); the verdict and its evidence pictures' bytes."""
    global _worker_checks
    from studio.critic.judge import judge_clip

    if _worker_checks is None:
        from studio.tools.registry import critic_checks

        _worker_checks = critic_checks(settings)
    with tempfile.TemporaryDirectory(prefix="studio-critic-") as folder:
        path = Path(folder) / f"clip{suffix}"
        path.write_bytes(clip)
        verdict, evidence = judge_clip(path, shot, _worker_checks)
        return verdict, {key: Path(picture).read_bytes() for key, picture in evidence.items()}


def conform_on_worker(clips: list[tuple[bytes, str]], music: bytes, recipe: dict[str, Any]) -> bytes:
    """A Ray task: the segment's conform encode (`studio.broadcast.commands.conform_segment_argv`, the same argv the
    station would run) over the clips' and music's bytes; the segment file's bytes."""
    from studio.broadcast import commands
    from studio.tools.media import run_ffmpeg

    with tempfile.TemporaryDirectory(prefix="studio-conform-") as name:
        folder = Path(name)
        paths = []
        for index, (data, suffix) in enumerate(clips):
            paths.append(folder / f"clip{index:03d}{suffix}")
            paths[-1].write_bytes(data)
        music_path, output = folder / "music.wav", folder / "segment.mp4"
        music_path.write_bytes(music)
        run_ffmpeg(["-y", *commands.conform_segment_argv(paths, music_path, output, **recipe)])
        return output.read_bytes()


@dataclass
class RenderFarm:
    """Render workers on a Ray cluster, one per unit of the render resource, each a slot of the render stage."""

    settings: Settings
    address: str
    resource: str = "GPU"
    toolkit_factory: Callable[[Settings], Toolkit] | None = None
    """Builds each worker's toolkit (default `build_toolkit`); a benchmark or test passes a simulated one."""
    workers: list[Any] = field(default_factory=list)
    """Actor handles; None where a worker was lost."""
    where: list[dict[str, Any]] = field(default_factory=list)
    """Each worker's `RenderWorker.describe()`."""
    _critic: Any = None
    """`judge_on_worker` as a Ray task (made on first use)."""
    _conform: Any = None
    """`conform_on_worker` as a Ray task (made on first use)."""
    _turn: int = 0
    """Whose turn it is to score the next segment (`music`)."""

    def start(self, *, timeout_s: float = 120.0) -> RenderFarm:
        """Connect to the cluster and start one worker per unit of `resource`; raise `ConfigError` when there is
        no cluster at `address` or it has none of `resource`."""
        ray, _ = _connect(self.address)
        units = int(ray.cluster_resources().get(self.resource, 0))
        if units < 1:
            found = ", ".join(f"{name} {amount:g}" for name, amount in sorted(ray.cluster_resources().items()))
            raise ConfigError(f"{missing_resource(self.address, self.resource)} (it has {found})")
        options: dict[str, Any] = {"num_cpus": 0, "max_restarts": 0}
        if self.resource == "GPU":
            options["num_gpus"] = 1
        else:
            options["resources"] = {self.resource: 1}
        actor = ray.remote(RenderWorker).options(**options)
        self.workers = [actor.remote(self.settings, self.toolkit_factory) for _ in range(units)]
        try:
            self.where = ray.get([worker.describe.remote() for worker in self.workers], timeout=timeout_s)
        except Exception as error:
            self.stop()
            raise ConfigError(
                f"the render workers on the Ray cluster at {self.address} did not start: {error}"
            ) from error
        for slot in range(self.slots):
            log.info("render worker %s", self.name(slot))
        return self

    @property
    def slots(self) -> int:
        return len(self.workers)

    def name(self, slot: int) -> str:
        """`0 (10.0.0.5 pid 4242, GPU 0)`: how the log names a worker."""
        where = self.where[slot] if slot < len(self.where) else {}
        gpus = f", GPU {','.join(where['gpus'])}" if where.get("gpus") else ""
        return f"{slot} ({where.get('node', '?')} pid {where.get('pid', '?')}{gpus})"

    def alive(self) -> int:
        return sum(worker is not None for worker in self.workers)

    def render_shot(
        self, slot: int, show: Show, shot: Shot, output_path: Path, previous: Path | None
    ) -> tuple[Path, dict[str, Any], list[Any]]:
        """Render `shot` on worker `slot` into `output_path` (whole or not at all). Raises `RenderWorkerLost` when
        the worker dies meanwhile (it is retired), the render's own error otherwise."""
        import ray

        worker = self.workers[slot]
        if worker is None:
            raise RenderWorkerLost(self.name(slot), "retired earlier")
        before = previous.read_bytes() if previous is not None and previous.exists() else None
        try:
            data, stages, fallbacks = ray.get(worker.render.remote(show, shot, before))
        except ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        except ray.exceptions.RayError as error:  # the actor, its process or its node is gone
            self.workers[slot] = None
            ray.kill(worker, no_restart=True)
            raise RenderWorkerLost(self.name(slot), _first_line(error)) from None
        _write_whole(output_path, data)
        stages = {name: {**facts, "worker": self.name(slot)} for name, facts in stages.items()}
        return output_path, stages, fallbacks

    def music(self, request: MusicRequest, output_path: Path) -> AudioTrack:
        """Score a segment on a render worker (the next alive one in turn; it scores between its renders) into
        `output_path`. Raises `ToolError` when no worker could (the caller's own backend, or its fallback, then
        scores it)."""
        import ray

        from studio.errors import ToolError
        from studio.tools.base import AudioTrack

        alive = [slot for slot, worker in enumerate(self.workers) if worker is not None]
        if not alive:
            raise ToolError("no render worker left to score the segment")
        self._turn += 1
        slot = alive[self._turn % len(alive)]
        try:
            data, facts = ray.get(self.workers[slot].music.remote(request))
        except ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        except ray.exceptions.RayError as error:
            raise ToolError(
                f"render worker {self.name(slot)} could not score the segment: {_first_line(error)}"
            ) from None
        output_path.parent.mkdir(parents=True, exist_ok=True)
        output_path.write_bytes(data)
        return AudioTrack(path=output_path, **{**facts, "backend": f"{facts['backend']} on worker {self.name(slot)}"})

    def conform(self, clips: list[Path], music: Path, output_path: Path, recipe: dict[str, Any]) -> bool:
        """Run a segment's conform encode in a Ray task on one of the cluster's CPUs, the file written to
        `output_path` here; False when the cluster could not (the caller encodes it itself)."""
        import ray

        if self._conform is None:
            self._conform = ray.remote(num_cpus=1)(conform_on_worker)
        sources = [(clip.read_bytes(), clip.suffix) for clip in clips]
        try:
            data = ray.get(self._conform.remote(sources, music.read_bytes(), recipe))
        except ray.exceptions.RayError as error:
            log.warning("conform on the Ray cluster failed for %s (%s): encoding it here", output_path.name,
                        _first_line(error))  # fmt: skip
            return False
        output_path.write_bytes(data)
        return True

    def critique(self, clip: Path, shot: Shot) -> tuple[Verdict, dict[str, str]] | None:
        """Judge `clip` as production does (`studio.critic.judge.judge_clip`) in a Ray task on one of the cluster's
        CPUs, its evidence pictures written beside it here. None when the cluster could not (Ray retries a task
        whose worker died; past that, the caller judges the clip itself)."""
        import ray

        from studio.critic.judge import EVIDENCE_SUFFIXES

        if self._critic is None:
            self._critic = ray.remote(num_cpus=1)(judge_on_worker)
        try:
            verdict, pictures = ray.get(self._critic.remote(self.settings, clip.read_bytes(), clip.suffix, shot))
        except ray.exceptions.RayError as error:
            log.warning("critic on the Ray cluster failed for %s (%s): judging it here", clip.name, _first_line(error))
            return None
        evidence: dict[str, str] = {}
        for key, data in pictures.items():
            path = clip.with_suffix(EVIDENCE_SUFFIXES[key])
            _write_whole(path, data)
            evidence[key] = str(path)
        return verdict, evidence

    def stop(self) -> None:
        """End the workers (the cluster itself keeps running)."""
        try:
            import ray
        except ImportError:
            return
        for worker in self.workers:
            if worker is not None:
                ray.kill(worker, no_restart=True)
        self.workers = [None for _ in self.workers]


def cluster_summary(address: str, resource: str = "GPU") -> tuple[list[str], int]:
    """What `studio doctor` says of the Ray cluster at `address` (its nodes and their resources), and how many render
    workers `studio run --ray` would start there. Raises `ConfigError` as `RenderFarm.start` would."""
    ray, connected = _connect(address)
    try:
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        total = ray.cluster_resources()
    finally:
        if connected:
            ray.shutdown()

    def shown(resources: dict[str, float]) -> str:
        kept = {name: amount for name, amount in resources.items() if not name.startswith("node:") and amount}
        order = sorted(kept, key=lambda name: (name not in ("CPU", "GPU", resource), name))
        return ", ".join(f"{name} {kept[name]:g}" for name in order if name not in ("memory", "object_store_memory"))

    units = int(total.get(resource, 0))
    workers = f"{units} render worker{'s' if units != 1 else ''} (one per {resource})" if units else f"no {resource}"
    lines = [f"ray cluster at {address}: {len(nodes)} node{'s' if len(nodes) != 1 else ''}, {shown(total)}; {workers}"]
    lines += [f"  node {node.get('NodeManagerAddress', '?')}: {shown(node.get('Resources', {}))}" for node in nodes]
    return lines, units


def missing_resource(address: str, resource: str) -> str:
    """Why `studio run --ray` cannot render on the cluster at `address`, and what to do about it."""
    return (
        f"the Ray cluster at {address} has no {resource} to render on: start its nodes with GPUs, or name the "
        "resource that stands for them in STUDIO_RAY_RENDER_RESOURCE"
    )


def _connect(address: str) -> tuple[Any, bool]:
    """The `ray` module connected to the cluster at `address`, and whether this call connected it (False: it
    already was). Raises `ConfigError` when Ray is missing or no cluster answers there."""
    ray = import_ray()
    _reachable(address)
    if ray.is_initialized():
        return ray, False
    attempt = 1
    while True:
        try:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
            return ray, True
        except (ConnectionError, RuntimeError, ValueError) as error:
            if attempt == CLIENT_ATTEMPTS or not _client_server_died(address, error):
                raise ConfigError(f"no Ray cluster at {address}: {error}") from None
        log.warning(
            "the Ray Client server at %s failed to start this connection's own server (attempt %d of %d; Ray's"
            " race, ray-project/ray#63202): connecting again", address, attempt, CLIENT_ATTEMPTS,
        )  # fmt: skip
        ray.shutdown()
        attempt += 1


CLIENT_ATTEMPTS = 3
"""Connections tried through Ray Client when the head's proxy fails to start the server of this connection."""


def _client_server_died(address: str, error: BaseException) -> bool:
    """Whether `error`, from connecting to a `ray://` address, is the head's proxy failing to start this
    connection's own server: the specific server is forked from the proxy's threaded gRPC process and now and then
    dies at birth (ray-project/ray#63202; on a 2-core machine, 2 of 25 first connections to a head just started,
    none of 80 later ones). Another connection gets another server, so it is worth trying again; any other error
    is not."""
    text = str(error)
    return address.startswith("ray://") and (
        "Initialization failure from server" in text or "Starting Ray client server failed" in text
    )


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """Raise `ConfigError` when nothing answers at a `HOST:PORT` address (Ray itself would retry for minutes);
    `auto` and `ray://` addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray {address}: give auto, HOST:PORT of the cluster's head, or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise ConfigError(
            f"no Ray cluster at {address}: nothing answers there ({error.strerror or error}); start one with "
            f"`ray start --head --port {port}`, or give its head's address"
        ) from None


def _write_whole(path: Path, data: bytes) -> None:
    """`data` into `path`, whole or not at all (a `.partial` file renamed into place, as the station's own renders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    partial.write_bytes(data)
    os.replace(partial, path)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:300]}" if text else type(error).__name__
