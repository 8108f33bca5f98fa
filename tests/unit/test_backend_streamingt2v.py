"""StreamingT2V adapter against a real subprocess: a small script, written here, that keeps the same command-line
contract (`--input --prompt --negative-prompt --new-frames --fps --seed --output`) and misbehaves on request."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from studio.config import Settings
from studio.errors import BackendUnavailable, ToolError
from studio.plan import MotionSpec
from studio.tools.base import Clip, Extender, SceneHint, VideoRequest
from studio.tools.extend_streamingt2v import ADAPTER_SOURCE, StreamingT2VExtender, StreamingT2VOptions
from studio.tools.media import ffmpeg_exe, probe, read_video, write_video

FAKE_STREAMINGT2V = r"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

parser = argparse.ArgumentParser()
for name in ("--input", "--prompt", "--negative-prompt", "--output"):
    parser.add_argument(name, required=True)
parser.add_argument("--new-frames", type=int, required=True)
parser.add_argument("--fps", type=float, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()
Path("calls.jsonl").open("a").write(json.dumps({**vars(args), "cwd": os.getcwd()}) + "\n")
mode = os.environ.get("FAKE_STREAMINGT2V_MODE", "ok")
if mode == "crash":
    print("Traceback (most recent call last):\nRuntimeError: the model fell over", file=sys.stderr)
    sys.exit(3)
if mode == "oom":
    print("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 9 GiB", file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    Path("child.pid").write_text(str(child.pid))
    time.sleep(120)
if mode == "no-output":
    sys.exit(0)
frames = args.new_frames - (2 if mode == "short" else 0)
assert Path(args.input).is_file()
subprocess.run([os.environ["FAKE_FFMPEG"], "-loglevel", "error", "-y", "-f", "lavfi",
                "-i", f"color=c=0x00ff00:s=64x48:r={args.fps:g}", "-frames:v", str(frames),
                "-pix_fmt", "yuv420p", args.output], check=True)
"""


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "StreamingT2V"
    directory.mkdir()
    (directory / "fake_inference.py").write_text(FAKE_STREAMINGT2V)
    monkeypatch.setenv("FAKE_FFMPEG", ffmpeg_exe())
    return directory


def extender(checkout: Path, timeout_s: float = 60.0) -> StreamingT2VExtender:
    options = StreamingT2VOptions(
        checkout=checkout, python=Path(sys.executable), entry=checkout / "fake_inference.py", timeout_s=timeout_s
    )
    return StreamingT2VExtender(SimpleNamespace(device="auto"), options=options)  # type: ignore[arg-type]


@pytest.fixture
def red_clip(tmp_path: Path) -> Clip:
    path = tmp_path / "first.mkv"
    frames = [np.full((32, 48, 3), (255, 0, 0), dtype=np.uint8) for _ in range(8)]
    write_video(frames, 8.0, path, width=48, height=32)
    return Clip(path, 8.0, 8, 48, 32, "zeroscope")


def make_request() -> VideoRequest:
    return VideoRequest(
        prompt="a paper boat drifts left on a pond",
        negative_prompt="text, watermark",
        motion=MotionSpec(),
        width=1024,
        height=576,
        num_frames=20,
        fps=8.0,
        seed=11,
        scene=SceneHint(place="pond", place_palette=("#336699",)),
    )


def test_extends_through_the_subprocess_contract(checkout: Path, red_clip: Clip, tmp_path: Path) -> None:
    backend = extender(checkout)
    assert isinstance(backend, Extender)

    extended = backend.extend(red_clip, make_request(), 20, tmp_path / "extended.mkv")

    assert extended == Clip(tmp_path / "extended.mkv", 8.0, 20, 48, 32, "streamingt2v")
    info = probe(extended.path)
    assert (info.video_frames, info.width, info.height, info.fps) == (20, 48, 32, 8.0)
    frames, _ = read_video(extended.path)
    assert (frames[:8, :, :, 0] > 200).all(), "the original clip comes first, untouched"
    assert (frames[8:, :, :, 1] > 200).all(), "then the new frames, resized to the clip's size"
    call = json.loads((checkout / "calls.jsonl").read_text().splitlines()[0])
    assert call["prompt"] == "a paper boat drifts left on a pond"
    assert call["negative_prompt"] == "text, watermark"
    assert (call["new_frames"], call["fps"], call["seed"]) == (12, 8.0, 11)
    assert Path(call["cwd"]) == checkout


def test_no_subprocess_when_the_clip_is_long_enough(checkout: Path, red_clip: Clip, tmp_path: Path) -> None:
    clip = extender(checkout).extend(red_clip, make_request(), 6, tmp_path / "trimmed.mkv")
    assert clip.num_frames == 6 and probe(clip.path).video_frames == 6
    assert not (checkout / "calls.jsonl").exists()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("crash", r"exit status 3: .*RuntimeError: the model fell over"),
        ("oom", r"exit status 1: .*CUDA out of memory.*out of GPU memory"),
        ("no-output", "wrote no output video"),
        ("short", "wrote 10 new frames, 12 were needed"),
    ],
)
def test_failures_are_tool_errors_with_the_reason(
    checkout: Path, red_clip: Clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str
) -> None:
    monkeypatch.setenv("FAKE_STREAMINGT2V_MODE", mode)
    with pytest.raises(ToolError, match=message):
        extender(checkout).extend(red_clip, make_request(), 20, tmp_path / "never.mkv")
    assert not (tmp_path / "never.mkv").exists()


def test_timeout_kills_the_whole_process_group(
    checkout: Path, red_clip: Clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STREAMINGT2V_MODE", "hang")
    started = time.monotonic()
    with pytest.raises(ToolError, match="took longer than 2 s"):
        extender(checkout, timeout_s=2.0).extend(red_clip, make_request(), 20, tmp_path / "never.mkv")
    assert time.monotonic() - started < 15
    child = int((checkout / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the script's child process survived the timeout")


def test_missing_checkout_is_reported(tmp_path: Path, red_clip: Clip) -> None:
    missing = StreamingT2VOptions(checkout=tmp_path / "nowhere", python=Path(sys.executable))
    backend = StreamingT2VExtender(SimpleNamespace(), options=missing)  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailable, match="does not exist"):
        backend.extend(red_clip, make_request(), 20, tmp_path / "never.mkv")


def test_availability_reasons(tmp_path: Path, checkout: Path) -> None:
    def status(**fields: object) -> tuple[bool, str]:
        return StreamingT2VExtender.availability(Settings(data_dir=tmp_path / "data", **fields))  # type: ignore[arg-type]

    assert status() == (
        False,
        "streamingt2v_dir not set (a StreamingT2V checkout with its own environment; see README)",
    )
    assert status(streamingt2v_dir=tmp_path / "nowhere")[1].endswith("does not exist")
    assert status(streamingt2v_dir=checkout)[1].startswith("no Python for StreamingT2V")
    available, reason = status(streamingt2v_dir=checkout, streamingt2v_python=sys.executable)
    assert not available and "streaming_t2v.ckpt missing" in reason
    assert status(
        streamingt2v_dir=checkout, streamingt2v_python=sys.executable, streamingt2v_entry=checkout / "fake_inference.py"
    ) == (True, f"{checkout} with {sys.executable}")


def test_adapter_source_keeps_the_contract() -> None:
    compile(ADAPTER_SOURCE, "studio_streamingt2v_adapter.py", "exec")
    for flag in ("--input", "--prompt", "--negative-prompt", "--new-frames", "--fps", "--seed", "--output"):
        assert f'"{flag}"' in ADAPTER_SOURCE
