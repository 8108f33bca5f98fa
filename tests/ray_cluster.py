"""A Ray cluster of this machine's processes, and a simulated GPU renderer for its workers: what the Ray tests and
`benchmarks/scale.py` run the render farm (`studio.ray_render`) on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.tools.registry import build_toolkit
from studio.tools.video_procedural import ProceduralVideoGenerator

if TYPE_CHECKING:
    from studio.tools.base import Clip, Toolkit

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalCluster:
    """A Ray cluster of this machine's processes: `ray start --block` for the head and for each worker node."""

    def __init__(self, **env: str) -> None:
        """`env`: more environment for the cluster's processes (`SIMULATED_RENDER_S`)."""
        # Short: Ray's unix sockets live under it, and a socket path may not pass 107 characters.
        self.temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.client_port = free_port()
        self.client_address = f"ray://127.0.0.1:{self.client_port}"
        """The head's Ray Client server (`ray://` addresses)."""
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.marks = self.temp / "marks"
        self.marks.mkdir()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "RAY_USAGE_STATS_ENABLED": "0",
            MARKS: str(self.marks),
            **env,
        }

    def _start(self, *args: str, render: int = 1) -> subprocess.Popen[bytes]:
        log = open(self.temp / f"node-{len(self.nodes)}.log", "wb")  # noqa: SIM115 - the node's lifetime
        node = subprocess.Popen(
            # `python -m` the CLI's module: the `ray` script need not be on PATH (a venv not activated).
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1",
             "--num-gpus=0", "--resources", json.dumps({"render": render}), "--disable-usage-stats", *args],
            stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )  # fmt: skip
        self.nodes.append(node)
        return node

    def start_head(self, *, render: int = 1) -> None:
        """The head node (GCS, raylet), with `render` units of the render resource."""
        self._start("--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp}",
                    f"--ray-client-server-port={self.client_port}", render=render)  # fmt: skip

    def add_worker(self, *, render: int = 1) -> subprocess.Popen[bytes]:
        """A worker node joining the head, with `render` units of the render resource."""
        return self._start(f"--address={self.address}", render=render)

    def wait_for(self, render_units: int, timeout_s: float = 120.0) -> None:
        """Until the cluster has `render_units` of the render resource (each node's `ray start` has joined)."""
        code = (
            "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
            "print(int(ray.cluster_resources().get('render', 0)))"
        )
        deadline = time.monotonic() + timeout_s
        seen = ""
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.poll() is not None:
                    raise AssertionError(f"a Ray node exited: {self.logs()}")
            done = subprocess.run([sys.executable, "-c", code, self.address], capture_output=True, text=True,
                                  env=self.env, timeout=120, check=False)  # fmt: skip
            seen = done.stdout.strip() or done.stderr.strip()[-300:]
            if done.returncode == 0 and seen.isdigit() and int(seen) >= render_units:
                return
            time.sleep(1)
        raise AssertionError(f"the cluster never had {render_units} render units ({seen}): {self.logs()}")

    def kill(self, node: subprocess.Popen[bytes]) -> None:
        """Kill a node and every process it started (its raylet, its workers): a machine lost."""
        os.killpg(node.pid, signal.SIGKILL)
        node.wait(30)

    def kill_mid_shot(self, node: subprocess.Popen[bytes], pid: int) -> tuple[dict[str, Any], threading.Event]:
        """Watch, in a thread, for worker process `pid`'s simulated renderer to mark a shot, and kill `node` then
        (`FixedLatencyRenderer`: the mark is there while it renders). Returns what was killed (`shot`, `at`: its id
        and the time), filled in when it happens, and the event that ends the watch."""
        killed: dict[str, Any] = {}
        stop = threading.Event()
        mark = self.marks / str(pid)

        def watch() -> None:
            while not stop.is_set():
                if mark.exists():
                    killed["shot"], killed["at"] = mark.read_text(), time.time()
                    self.kill(node)
                    return
                time.sleep(0.05)

        threading.Thread(target=watch, name="kill-mid-shot", daemon=True).start()
        return killed, stop

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-1500:] for path in sorted(self.temp.glob("node-*.log")))

    def stop(self) -> None:
        """Kill every node (a test cluster keeps nothing)."""
        for node in self.nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGKILL)
            node.wait(30)
        shutil.rmtree(self.temp, ignore_errors=True)


MARKS = "RENDER_MARKS_DIR"
"""Where a simulated renderer on the cluster marks the shot it is rendering (a file named by its process id)."""


class FixedLatencyRenderer(ProceduralVideoGenerator):
    """A simulated GPU: the procedural picture, delivered after a fixed time, marked while it renders."""

    name = "simulated-gpu"

    @property
    def latency_s(self) -> float:
        """Seconds a shot takes: `SIMULATED_RENDER_S` in the worker's environment, else 1.5."""
        return float(os.environ.get("SIMULATED_RENDER_S", "1.5"))

    def generate(self, request: Any, output_path: Path) -> Clip:
        mark = Path(os.environ[MARKS]) / str(os.getpid()) if MARKS in os.environ else None
        if mark is not None:
            mark.write_text(request.shot_id)
        try:
            started = time.perf_counter()
            clip = super().generate(request, output_path)
            time.sleep(max(0.0, self.latency_s - (time.perf_counter() - started)))
            return clip
        finally:
            if mark is not None:
                mark.unlink(missing_ok=True)


def simulated_toolkit(settings: Any) -> Toolkit:
    """What each render worker builds: the embedded toolkit with the simulated GPU renderer."""
    toolkit = build_toolkit(settings)
    toolkit.video = FixedLatencyRenderer(settings)
    return toolkit


def on_node(node: subprocess.Popen[bytes], where: dict[str, Any]) -> bool:
    """Whether the worker process `where` describes is a descendant of the node process `node`."""
    pid = int(where["pid"])
    while pid > 1:
        if pid == node.pid:
            return True
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        pid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
    return False
