from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHOWS = REPO / "shows"
TEST_SHOWS = REPO / "tests" / "data" / "shows"


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data dir, no LLM endpoint from the developer's environment, and a pipeline depth
    of 1 unless it asks for another (`TEST_PIPELINE_DEPTH=3` runs the whole suite at the product's depth)."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data_dir))
    # Stations under test make one segment at a time unless a test asks for more (the pipeline's own tests and
    # the soaks run the default 3). The whole suite at depth 3 (2026-12-07, seventh session) failed four tests, each
    # assuming one segment at a time, not a fault of the station; all four are fixed and pass at depth 3. In one,
    # the retention test, a first production's workers went on while a second resumed the episode, and a segment
    # was approved twice (most likely the "approved twice across a stop and resume" seen once before); two expected
    # an order or a timing that segments made side by side do not keep; one asked for one episode and re-prompted
    # after it was made. Since then (eighth session) two whole runs at depth 3 were green (994 passed, 863 s and
    # 892 s on two cores, against 768-843 s at depth 1): depth 1 stays the default only for the suite's time on CI.
    # Run TEST_PIPELINE_DEPTH=3 before landing a change to production or playout.
    monkeypatch.setenv("STUDIO_PIPELINE_DEPTH", os.environ.get("TEST_PIPELINE_DEPTH", "1"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STUDIO_OPENAI_API_KEY", "STUDIO_OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return data_dir


def require_system_tool(name: str) -> str:
    """Path of a system tool the test needs. Skips with the reason when absent (a failure under CI=true)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (the README's test command installs it when run as root)")
    return path


RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


@dataclass(frozen=True)
class RtmpServer:
    """A real RTMP server (Debian's nginx with the RTMP module) on loopback, run as a user-level process."""

    port: int
    root: Path

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def rtmp_server(tmp_path: Path) -> Iterator[RtmpServer]:
    nginx = require_system_tool("nginx")
    if not RTMP_MODULE.exists():
        message = (
            f"{RTMP_MODULE} is missing (Debian's libnginx-mod-rtmp; the README's test command installs it as root)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path / "nginx"
    for name in ("b", "p", "f", "u", "s"):
        (root / name).mkdir(parents=True, exist_ok=True)
    port, http_port = _free_port(), _free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        f"load_module {RTMP_MODULE};\n"
        f"daemon off; pid {root}/nginx.pid; error_log {root}/error.log;\n"
        "events { worker_connections 64; }\n"
        f"rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; record off; }} }} }}\n"
        f"http {{ access_log off; client_body_temp_path {root}/b; proxy_temp_path {root}/p; fastcgi_temp_path {root}/f;"
        f" uwsgi_temp_path {root}/u; scgi_temp_path {root}/s; server {{ listen 127.0.0.1:{http_port}; }} }}\n"
    )
    process = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(f"nginx-rtmp did not start: {errors} {(root / 'error.log').read_text(errors='replace')}")
            time.sleep(0.1)
        yield RtmpServer(port, root)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- under CI=true nothing may skip --------------------------------------------------------------------------------
# A missing optional dependency (torch, huggingface_hub, rapidocr …) or system tool would otherwise turn a broken
# install green: every skip, from `importorskip`, a `skipif` or `pytest.skip`, becomes a failure naming why.


def _ci() -> bool:
    return os.environ.get("CI") == "true"


def _as_ci_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where nothing may skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _as_ci_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _as_ci_failure(outcome.get_result())


def pytest_configure(config: pytest.Config) -> None:
    if _ci():  # every missing dependency is named in one run, not only the first module's
        config.option.continue_on_collection_errors = True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` run first (in their own order), so that the workers share them out at the start
    instead of one worker running a minute-long soak alone at the end while the others have finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the GPU backends' tiny-model tests run; cuda (float16) shows dtype and device bugs",
    )


@pytest.fixture(scope="session")
def backend_device(pytestconfig: pytest.Config) -> str:
    """`cpu` by default, `cuda` under `pytest --device cuda` (a failure, not a skip, when there is no CUDA)."""
    device = str(pytestconfig.getoption("--device"))
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.fail(f"--device cuda, but torch {torch.__version__} sees no CUDA device")
    return device
