"""StreamingT2V extender against real subprocesses.

First half: a small script, written here, that keeps the command-line contract (`--input --prompt
--negative-prompt --new-frames --fps --seed --output`) and misbehaves on request.

Second half: studio's REAL built-in adapter (`ADAPTER_SOURCE`) run by the extender, exactly as in production,
inside a checkout whose `t2v_enhanced` package is a contract double of the `StreamingModelscope` branch: the same
module names, `init_streamingt2v_model(ckpt_file, result_fol, device)`, `stream_long_gen(...)` with the branch's
parameter list (it stores seed/steps/guidance in `trainer.predict_cfg`, where the model never reads them), an
`InferenceParams` object the model reads them from, and the branch's frame arithmetic (the first chunk is the
16-frame seed video; every further autoregressive generation adds `video_length // 2` = 8 frames). Its model
makes frames deterministically from `inference_params.seed` and records what it was given.
"""

from __future__ import annotations

import json
import os
import subprocess
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


def test_idle_models_leave_the_gpu_before_the_subprocess_loads_its_own(
    checkout: Path, red_clip: Clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.tools import device

    events: list[str] = []

    class Resident:
        name = "zeroscope"

        def offload(self) -> bool:
            events.append("offloaded")
            return True

    resident = Resident()
    device.register_resident(resident)
    monkeypatch.setattr(device, "free_vram_bytes", lambda: 3 * 10**9)
    backend = extender(checkout)
    real_run = backend._run
    monkeypatch.setattr(backend, "_run", lambda argv, work: (events.append("subprocess"), real_run(argv, work)))

    backend.extend(red_clip, make_request(), 20, tmp_path / "extended.mkv")

    assert events == ["offloaded", "subprocess"]


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


# --- studio's built-in adapter against a contract double of the StreamingModelscope branch -----------------------

CONTRACT_PARAMS = r'''
"""Contract double of t2v_enhanced/model/pl_module_params_controlnet.py: InferenceParams, same constructor."""


class InferenceParams:
    def __init__(self, width, height, video_length, guidance_scale=7.5, use_dec_scaling=True, frame_rate=2,
                 num_inference_steps=50, eta=0.0, n_autoregressive_generations=1, mode="long_video",
                 start_from_real_input=True, eval_loss_metrics=False, scheduler_cls="", negative_prompt="",
                 conditioning_from_all_past=False, validation_samples=80, conditioning_type="last_chunk",
                 result_formats=("eval_gif", "gif", "mp4"), concat_video=True, seed=33):
        self.width, self.height, self.video_length = width, height, int(video_length)
        self.guidance_scale, self.use_dec_scaling, self.frame_rate = guidance_scale, use_dec_scaling, frame_rate
        self.num_inference_steps, self.eta, self.negative_prompt = num_inference_steps, eta, negative_prompt
        self.n_autoregressive_generations, self.mode = n_autoregressive_generations, mode
        self.start_from_real_input, self.eval_loss_metrics = start_from_real_input, eval_loss_metrics
        self.scheduler_cls, self.conditioning_from_all_past = scheduler_cls, conditioning_from_all_past
        self.validation_samples, self.conditioning_type = validation_samples, conditioning_type
        self.result_formats, self.concat_video, self.seed = list(result_formats), concat_video, seed

    def to_dict(self):
        return {key: getattr(self, key) for key in dir(self) if not key.startswith("__") and not callable(getattr(self, key))}
'''

CONTRACT_MODEL_INIT = r'''
"""Contract double of t2v_enhanced/model_init.py (branch StreamingModelscope): init_streamingt2v_model only."""
import json
import subprocess
import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch

from t2v_enhanced.model.pl_module_params_controlnet import InferenceParams

RECORDS = Path(__file__).resolve().parents[1]


def record(entry):
    with (RECORDS / "contract.jsonl").open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


class Trainer:
    """The part of the Lightning trainer stream_long_gen uses."""

    def __init__(self):
        self.predict_cfg = None
        self.limit_predict_batches = None

    def predict(self, model, datamodule):
        model.predict_step(self.predict_cfg)


class ContractCLI:
    def __init__(self, config):
        self.config, self.trainer, self.datamodule = config, Trainer(), object()


class ContractVideoLDM:
    """Reads what the branch's VideoLDM reads: predict_cfg for prompt, video, stem, folder and the number of
    generations; inference_params for seed, steps, guidance and negative prompt. Chunk 0 is the seed video; each
    further generation makes video_length frames conditioned on the last half of the previous chunk and keeps its
    new half."""

    def __init__(self, inference_params):
        self.inference_params = inference_params

    def predict_step(self, cfg):
        params = self.inference_params
        video = cfg["video"].to("cpu")
        assert video.dtype == torch.float32, video.dtype
        assert tuple(video.shape) == (params.video_length, 3, params.height, params.width), tuple(video.shape)
        assert float(video.min()) >= 0.0 and float(video.max()) <= 1.0
        generator = torch.Generator().manual_seed(params.seed)
        half = params.video_length // 2
        chunks, forward_calls = [video], []
        for _ in range(1, cfg["n_autoregressive_generations"]):
            forward_calls.append({key: params.to_dict()[key] for key in
                                  ("seed", "num_inference_steps", "guidance_scale", "negative_prompt", "eta")})
            context = chunks[-1][-half:]
            tint = torch.rand(half, 3, 1, 1, generator=generator)
            chunks.append(torch.cat([context, (0.6 * context[-1:] + 0.4 * tint).clamp(0, 1)]))
        merged = torch.cat([chunks[0], *(chunk[half:] for chunk in chunks[1:])])
        index = sum(1 for _ in (RECORDS / "contract.jsonl").open()) if (RECORDS / "contract.jsonl").exists() else 0
        np.save(RECORDS / f"seed_video_{index}.npy", video.numpy())
        record({
            "call": "predict", "index": index, "prompt": cfg["prompt"],
            "n_autoregressive_generations": cfg["n_autoregressive_generations"],
            "predict_cfg_seed": cfg["seed"], "predict_cfg_steps": cfg["num_inference_steps"],
            "predict_cfg_guidance": cfg["guidance_scale"], "forward_calls": forward_calls,
            "frames_written": len(merged),
        })
        if params.concat_video and any(f.replace("eval_", "") == "mp4" for f in params.result_formats):
            path = Path(cfg["predict_dir"]) / (cfg["result_file_stem"] + ".mp4")
            frames = (merged.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
            writer = imageio_ffmpeg.write_frames(str(path), (params.width, params.height), fps=params.frame_rate,
                                                 quality=10, macro_block_size=16)
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(frame).tobytes())
            writer.close()


def init_streamingt2v_model(ckpt_file, result_fol, device):
    accelerator = "gpu" if device.startswith("cuda") else "cpu"
    # The branch opens its config relative to the working directory and calls .as_posix() on both paths.
    assert Path("configs/text_to_video/config.yaml").is_file(), f"run from t2v_enhanced, not {os.getcwd()}"
    ckpt, results = Path(ckpt_file.as_posix()), Path(result_fol.as_posix())
    assert ckpt.is_file(), ckpt
    record({"call": "init", "ckpt_file": str(ckpt), "result_fol": str(results), "device": device,
            "accelerator": accelerator, "cwd": os.getcwd()})
    params = InferenceParams(width=256, height=256, video_length=16, guidance_scale=7.5, frame_rate=8,
                             num_inference_steps=50, eta=1.0, n_autoregressive_generations=4,
                             conditioning_type="fixed", start_from_real_input=False,
                             result_formats=["eval_mp4"], concat_video=True)
    return ContractCLI({"result_fol": results, "ckpt": ckpt}), ContractVideoLDM(params)
'''

CONTRACT_MODEL_FUNC = r'''
"""Contract double of t2v_enhanced/model_func.py: stream_long_gen with the branch's parameters and behaviour."""


def stream_long_gen(prompt, short_video, n_autoreg_gen, negative_prompt, seed, t, image_guidance, result_file_stem,
                    stream_cli, stream_model):
    trainer = stream_cli.trainer
    trainer.limit_predict_batches = 1
    # As on the branch, seed, t and image_guidance only land in predict_cfg, which the model does not read them from.
    trainer.predict_cfg = dict(predict_dir=stream_cli.config["result_fol"].as_posix(),
                               result_file_stem=result_file_stem, prompt=prompt, video=short_video, seed=seed,
                               num_inference_steps=t, guidance_scale=image_guidance,
                               n_autoregressive_generations=n_autoreg_gen)
    stream_model.inference_params.negative_prompt = negative_prompt
    trainer.predict(model=stream_model, datamodule=stream_cli.datamodule)
'''

CONTRACT_FILES = {
    "t2v_enhanced/__init__.py": "",
    "t2v_enhanced/model/__init__.py": "",
    "t2v_enhanced/model/pl_module_params_controlnet.py": CONTRACT_PARAMS,
    "t2v_enhanced/model_init.py": CONTRACT_MODEL_INIT,
    "t2v_enhanced/model_func.py": CONTRACT_MODEL_FUNC,
    "t2v_enhanced/configs/text_to_video/config.yaml": "model: {}\n",
    "t2v_enhanced/thirdparty/.keep": "",
    "t2v_enhanced/checkpoints/streaming_t2v.ckpt": "not a real checkpoint\n",
}


@pytest.fixture
def branch(tmp_path: Path) -> Path:
    directory = tmp_path / "StreamingT2V-branch"
    for relative, text in CONTRACT_FILES.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(text)
    return directory


def builtin_adapter(branch: Path, tmp_path: Path) -> StreamingT2VExtender:
    """The extender exactly as `studio run` builds it: no entry override, so the built-in adapter runs."""
    settings = Settings(
        data_dir=tmp_path / "data", streamingt2v_dir=branch, streamingt2v_python=Path(sys.executable),
        streamingt2v_timeout_s=180.0,
    )  # fmt: skip
    backend = StreamingT2VExtender(settings)
    assert backend.options.entry is None and backend.options.problem() is None
    return backend


def records(branch: Path, call: str) -> list[dict[str, object]]:
    lines = (branch / "contract.jsonl").read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if entry["call"] == call]


@pytest.fixture
def continuations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """(frames, width, height) of every file the adapter wrote, as the extender reads it back."""
    import studio.tools.extend_streamingt2v as module

    seen: list[tuple[int, int, int]] = []
    real_read_video = module.read_video

    def spy(path: Path, *, width: int | None = None, height: int | None = None) -> tuple[np.ndarray, float]:
        if path.name == "continuation.mp4":
            info = probe(path)
            seen.append((info.video_frames, info.width, info.height))
        return real_read_video(path, width=width, height=height)

    monkeypatch.setattr(module, "read_video", spy)
    return seen


def clip_of(frames: list[np.ndarray], path: Path) -> Clip:
    height, width = frames[0].shape[:2]
    write_video(frames, 8.0, path, width=width, height=height)
    return Clip(path, 8.0, len(frames), width, height, "zeroscope")


def split_clip(tmp_path: Path, count: int = 8) -> Clip:
    """A bright left third on a dark ground, 128x72 (16:9)."""
    frame = np.full((72, 128, 3), 30, dtype=np.uint8)
    frame[:, :42] = 220
    return clip_of([frame.copy() for _ in range(count)], tmp_path / "split.mkv")


def request_with(seed: int) -> VideoRequest:
    base = make_request()
    return VideoRequest(base.prompt, base.negative_prompt, base.motion, base.width, base.height, base.num_frames,
                        base.fps, seed, base.scene)  # fmt: skip


def test_builtin_adapter_loads_the_branch_with_its_three_argument_init(branch: Path, tmp_path: Path) -> None:
    extended = builtin_adapter(branch, tmp_path).extend(split_clip(tmp_path), make_request(), 20, tmp_path / "e.mkv")

    assert extended.num_frames == 20 and probe(extended.path).video_frames == 20
    (init,) = records(branch, "init")
    assert init["device"] == "cuda" and init["accelerator"] == "gpu"
    assert init["ckpt_file"] == str(branch / "t2v_enhanced" / "checkpoints" / "streaming_t2v.ckpt")
    assert Path(str(init["cwd"])) == branch / "t2v_enhanced", "the branch opens configs/ relative to t2v_enhanced"
    (predict,) = records(branch, "predict")
    assert predict["prompt"] == "a paper boat drifts left on a pond"


@pytest.mark.parametrize(("new_frames", "generations"), [(8, 2), (12, 3), (17, 4)])
def test_builtin_adapter_writes_exactly_the_new_frames_asked(
    branch: Path, tmp_path: Path, continuations: list[tuple[int, int, int]], new_frames: int, generations: int
) -> None:
    clip = split_clip(tmp_path)
    extended = builtin_adapter(branch, tmp_path).extend(clip, make_request(), 8 + new_frames, tmp_path / "e.mkv")

    (predict,) = records(branch, "predict")
    # Chunk 0 is the 16-frame seed; each further generation adds 8: 16 + 8 * (generations - 1) frames in all.
    assert predict["n_autoregressive_generations"] == generations
    assert predict["frames_written"] == 16 + 8 * (generations - 1)
    assert [frames for frames, _, _ in continuations] == [new_frames], "exactly K new frames"
    assert continuations[0][1:] == (clip.width, clip.height), "written at the shot's own size"
    assert extended.num_frames == 8 + new_frames


def new_frames_of(clip: Clip) -> np.ndarray:
    frames, _ = read_video(clip.path)
    return frames[8:].astype(np.float64)


def test_builtin_adapter_continues_differently_for_another_seed(branch: Path, tmp_path: Path) -> None:
    backend = builtin_adapter(branch, tmp_path)
    clip = split_clip(tmp_path)
    first = backend.extend(clip, request_with(11), 20, tmp_path / "seed11.mkv")
    again = backend.extend(clip, request_with(11), 20, tmp_path / "seed11-again.mkv")
    other = backend.extend(clip, request_with(12), 20, tmp_path / "seed12.mkv")

    seeds = [[call["seed"] for call in entry["forward_calls"]] for entry in records(branch, "predict")]
    assert seeds == [[11, 11], [11, 11], [12, 12]], "the model reads its seed from inference_params"
    assert np.abs(new_frames_of(first) - new_frames_of(again)).mean() < 2, "the same seed repeats itself"
    assert np.abs(new_frames_of(first) - new_frames_of(other)).mean() > 15, "a re-render with a new seed differs"


def test_steps_and_guidance_reach_the_inference_params(branch: Path, tmp_path: Path) -> None:
    builtin_adapter(branch, tmp_path).extend(split_clip(tmp_path), make_request(), 20, tmp_path / "e.mkv")
    (predict,) = records(branch, "predict")
    expected = {"seed": 11, "num_inference_steps": 50, "guidance_scale": 9.0, "negative_prompt": "text, watermark",
                "eta": 1.0}  # fmt: skip
    # The adapter's defaults (inference.py's: 50 steps, guidance 9), not the config's guidance 7.5 and seed 33.
    assert predict["forward_calls"] == [expected, expected]

    # The adapter's own flags, beyond studio's contract, reach the same place.
    adapter = tmp_path / "adapter.py"
    adapter.write_text(ADAPTER_SOURCE)
    clip = split_clip(tmp_path)
    input_path = tmp_path / "input.mp4"
    write_video(read_video(clip.path)[0], 8.0, input_path, width=clip.width, height=clip.height)
    argv = [sys.executable, str(adapter), "--input", str(input_path), "--prompt", "waves", "--negative-prompt", "",
            "--new-frames", "3", "--fps", "8", "--seed", "5", "--output", str(tmp_path / "out.mp4"),
            "--num-steps", "7", "--image-guidance", "4.5"]  # fmt: skip
    completed = subprocess.run(argv, cwd=branch, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert records(branch, "predict")[-1]["forward_calls"] == [
        {"seed": 5, "num_inference_steps": 7, "guidance_scale": 4.5, "negative_prompt": "", "eta": 1.0}
    ]
    assert probe(tmp_path / "out.mp4").video_frames == 3


def checkerboard_clip(tmp_path: Path) -> Clip:
    """One-pixel checkerboard at 640x360: every frequency in it is above what 256x256 can hold."""
    y, x = np.mgrid[0:360, 0:640]
    board = np.repeat(((x + y) % 2 * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    return clip_of([board.copy() for _ in range(16)], tmp_path / "checker.mkv")


def test_builtin_adapter_downscales_with_antialiasing(
    branch: Path, tmp_path: Path, continuations: list[tuple[int, int, int]]
) -> None:
    clip = checkerboard_clip(tmp_path)
    builtin_adapter(branch, tmp_path).extend(clip, make_request(), 24, tmp_path / "e.mkv")

    seed_video = np.load(branch / "seed_video_1.npy")
    assert seed_video.shape == (16, 3, 256, 256)
    assert seed_video.mean() == pytest.approx(0.5, abs=0.03)
    # Unfiltered bilinear sampling turns the board into moiré bands (std ~0.14); a filtered resize gives flat grey.
    worst = float(seed_video.reshape(16, -1).std(axis=1).max())
    assert worst < 0.05, f"aliasing: std {worst:.3f} across the downscaled checkerboard"
    assert continuations == [(8, 640, 360)], "the continuation comes back at the shot's aspect (640x360)"


def test_builtin_adapter_keeps_the_pictures_geometry(branch: Path, tmp_path: Path) -> None:
    """Squashed to 256x256 and restored: the bright third stays where it was (no crop, no letterbox)."""
    extended = builtin_adapter(branch, tmp_path).extend(split_clip(tmp_path), make_request(), 20, tmp_path / "e.mkv")
    frames, _ = read_video(extended.path)
    last_input = frames[7].mean(axis=(0, 2))
    for frame in frames[8:]:
        profile = frame.mean(axis=(0, 2))
        assert np.corrcoef(last_input, profile)[0, 1] > 0.95
        assert profile[:38].mean() - profile[46:].mean() > 60, "bright left third, dark right"
