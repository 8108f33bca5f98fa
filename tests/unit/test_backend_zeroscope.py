"""Zeroscope 576w and XL backends run their own loading and calling code on a tiny random pipeline (CPU).

The tiny pipeline follows diffusers' fast tests (UNet3DConditionModel with (4, 8) channels, a one-block VAE, a
two-layer CLIP text encoder) and a byte-level CLIP tokenizer written offline, saved with `save_pretrained` and
loaded back through the backend's real `from_pretrained(..., local_files_only=True)` path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from studio.config import Settings  # noqa: E402
from studio.errors import ToolError  # noqa: E402
from studio.plan import MotionSpec  # noqa: E402
from studio.tools.base import Clip, SceneHint, Upscaler, VideoGenerator, VideoRequest  # noqa: E402
from studio.tools.media import probe, read_video  # noqa: E402
from studio.tools.video_zeroscope import (  # noqa: E402
    ZeroscopeOptions,
    ZeroscopeVideoGenerator,
    ZeroscopeXLUpscaler,
)

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

PROMPT = "a green pumpkin rolls from left to right on a kitchen table"
NEGATIVE = "text, watermark, blurry"


def byte_level_clip_tokenizer(directory: Path) -> Any:
    """A CLIP tokenizer with no merges: every byte is a token. Built offline (the real one comes from the Hub)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    symbols = [chr(code) for code in codes]
    vocab = [*symbols, *(symbol + "</w>" for symbol in symbols), "<|startoftext|>", "<|endoftext|>"]
    directory.mkdir(parents=True)
    (directory / "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(vocab)}))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer.from_pretrained(directory, model_max_length=16)


def tiny_components(directory: Path) -> dict[str, Any]:
    torch.manual_seed(0)
    unet = diffusers.UNet3DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=4,
        attention_head_dim=4,
        norm_num_groups=2,
    )
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=(8,),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D"],
        latent_channels=4,
        sample_size=32,
        norm_num_groups=2,
    )
    text_encoder = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            hidden_size=4,
            intermediate_size=16,
            layer_norm_eps=1e-05,
            num_attention_heads=2,
            num_hidden_layers=2,
            pad_token_id=1,
            vocab_size=600,
            max_position_embeddings=16,
            hidden_act="gelu",
            projection_dim=32,
        )
    )
    tokenizer = byte_level_clip_tokenizer(directory / "tokenizer-source")
    return {"vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer, "unet": unet, "scheduler": scheduler}


@pytest.fixture(scope="module")
def tiny_pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random TextToVideoSDPipeline saved with save_pretrained (also loadable as VideoToVideoSDPipeline)."""
    root = tmp_path_factory.mktemp("tiny-zeroscope")
    pipeline = diffusers.TextToVideoSDPipeline(**tiny_components(root))
    pipeline.save_pretrained(root / "pipeline")
    return root / "pipeline"


def tiny_options(model_dir: Path | str, model_name: str = "zeroscope") -> ZeroscopeOptions:
    return ZeroscopeOptions(
        model_id=str(model_dir),
        model_name=model_name,
        max_frames=6,
        steps=2,
        guidance=9.0,
        strength=0.5,
    )


def make_request(num_frames: int = 6, fps: float = 8.0, seed: int = 7) -> VideoRequest:
    """What the render stage asks of the first pass, scaled down: (576x320 at 8 fps) -> 24x16 at 8 fps."""
    return VideoRequest(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        motion=MotionSpec(),
        width=24,
        height=16,
        num_frames=num_frames,
        fps=fps,
        seed=seed,
        scene=SceneHint(place="kitchen", place_palette=("#ffffff",)),
        shot_id="s1",
    )


@pytest.fixture
def cpu_settings(tmp_path: Path, backend_device: str) -> Settings:
    """Settings on the test device: the CPU, or CUDA in float16 under `pytest --device cuda`."""
    return Settings(device=backend_device, data_dir=tmp_path / "data")


def test_576w_loads_from_disk_renders_and_keeps_the_pipeline(
    tiny_pipeline_dir: Path, cpu_settings: Settings, tmp_path: Path
) -> None:
    generator = ZeroscopeVideoGenerator(cpu_settings, options=tiny_options(tiny_pipeline_dir))
    assert isinstance(generator, VideoGenerator)

    clip = generator.generate(make_request(), tmp_path / "first.mkv")

    assert clip == Clip(tmp_path / "first.mkv", 8.0, 6, 24, 16, "zeroscope")
    info = probe(clip.path)
    assert (info.video_frames, info.width, info.height, info.fps) == (6, 24, 16, 8.0)
    loaded = generator.pipeline
    assert type(loaded).__name__ == "TextToVideoSDPipeline"
    assert loaded.vae.use_slicing

    again = generator.generate(make_request(), tmp_path / "again.mkv")
    assert generator.pipeline is loaded
    first_frames, _ = read_video(clip.path)
    again_frames, _ = read_video(again.path)
    assert (first_frames == again_frames).all(), "the same seed must re-render the same shot"


def test_one_clip_is_at_most_max_frames(tiny_pipeline_dir: Path, cpu_settings: Settings) -> None:
    generator = ZeroscopeVideoGenerator(cpu_settings, options=tiny_options(tiny_pipeline_dir))
    assert generator.frames_for(make_request(num_frames=4)) == 4
    assert generator.frames_for(make_request(num_frames=240)) == 6


def recorded_calls(monkeypatch: pytest.MonkeyPatch, pipeline_class: Any) -> list[dict[str, Any]]:
    """Keyword arguments of every call of `pipeline_class`, which still runs."""
    calls: list[dict[str, Any]] = []
    original_call = pipeline_class.__call__

    def recording_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(pipeline_class, "__call__", recording_call)
    return calls


def test_xl_upscales_with_the_same_prompt(
    tiny_pipeline_dir: Path, cpu_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_calls = recorded_calls(monkeypatch, diffusers.TextToVideoSDPipeline)
    first = ZeroscopeVideoGenerator(cpu_settings, options=tiny_options(tiny_pipeline_dir))
    request = make_request()
    clip = first.generate(request, tmp_path / "first.mkv")

    calls = recorded_calls(monkeypatch, diffusers.VideoToVideoSDPipeline)
    upscaler = ZeroscopeXLUpscaler(cpu_settings, options=tiny_options(tiny_pipeline_dir, "xl"))
    assert isinstance(upscaler, Upscaler)

    upscaled = upscaler.upscale(clip, request, 48, 32, tmp_path / "xl.mkv")

    assert upscaled == Clip(tmp_path / "xl.mkv", 8.0, 6, 48, 32, "zeroscope_xl")
    info = probe(upscaled.path)
    assert (info.video_frames, info.width, info.height, info.fps) == (6, 48, 32, 8.0)
    for key in ("prompt_embeds", "negative_prompt_embeds"):
        assert torch.equal(calls[0][key], first_calls[0][key]), f"XL must read the first pass's {key}"
    assert upscaler.last_prompt == first.last_prompt
    assert calls[0]["strength"] == 0.5
    assert calls[0]["video"].shape == (6, 32, 48, 3)


def test_xl_upscales_a_long_shot_in_overlapping_windows_with_one_seed(
    tiny_pipeline_dir: Path, cpu_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from studio.tools.media import write_video

    ramp = [np.full((16, 24, 3), 10 * index, dtype=np.uint8) for index in range(14)]
    write_video(ramp, 8.0, tmp_path / "long.mkv", width=24, height=16)
    long_clip = Clip(tmp_path / "long.mkv", 8.0, 14, 24, 16, "zeroscope")
    calls = recorded_calls(monkeypatch, diffusers.VideoToVideoSDPipeline)
    upscaler = ZeroscopeXLUpscaler(cpu_settings, options=tiny_options(tiny_pipeline_dir, "xl"))

    upscaled = upscaler.upscale(long_clip, make_request(num_frames=14), 48, 32, tmp_path / "xl.mkv")

    assert probe(upscaled.path).video_frames == upscaled.num_frames == 14
    # max_frames 6 and an overlap of 6 // 3 = 2: windows at frames 0-5, 4-9 and 8-13.
    assert [len(call["video"]) for call in calls] == [6, 6, 6]
    assert [call["video"][0, 0, 0, 0] for call in calls] == pytest.approx([0.0, 40 / 255, 80 / 255], abs=0.02)
    seeds = {call["generator"].initial_seed() for call in calls}
    assert seeds == {7}, "every window is denoised with the shot's seed"
    assert all(torch.equal(call["prompt_embeds"], calls[0]["prompt_embeds"]) for call in calls)


def test_window_helpers() -> None:
    import numpy as np

    from studio.tools.frame_chunks import blend_windows, window_starts

    assert window_starts(24, 24, 8) == [0]
    assert window_starts(80, 24, 8) == [0, 16, 32, 48, 56]
    assert window_starts(14, 6, 2) == [0, 4, 8]
    with pytest.raises(ValueError):
        window_starts(10, 4, 4)
    ones, threes = np.ones((4, 1, 1, 1)), np.full((4, 1, 1, 1), 3.0)
    blended = blend_windows([(0, ones), (2, threes)], 6)[:, 0, 0, 0]
    assert blended.tolist() == pytest.approx([1.0, 1.0, 1 + 2 / 3, 1 + 4 / 3, 3.0, 3.0])


def test_long_prompt_is_read_whole_with_the_motion_first(
    tiny_pipeline_dir: Path, cpu_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """The tiny tokenizer reads 14 bytes a window; the prompt, motion last as the cinematographer writes it, is
    far longer. Before: diffusers truncated it and the encoder never saw the motion."""
    from dataclasses import replace

    motion = MotionSpec.model_validate({"camera": {"kind": "pan", "direction": "left", "speed": "slow"}})
    motion_text = motion.describe()
    prompt = f"warm kitchen. a green pumpkin on a table. {motion_text}."
    generator = ZeroscopeVideoGenerator(
        cpu_settings, options=replace(tiny_options(tiny_pipeline_dir), max_prompt_windows=32)
    )
    encoded: list[list[int]] = []
    encoder = generator.pipeline.text_encoder
    real_forward = encoder.forward

    def spy(input_ids: Any, *args: Any, **kwargs: Any) -> Any:
        encoded.extend(input_ids.tolist())
        return real_forward(input_ids, *args, **kwargs)

    monkeypatch.setattr(encoder, "forward", spy)
    base = make_request()
    request = VideoRequest(prompt, NEGATIVE, motion, base.width, base.height, 2, base.fps, base.seed, base.scene, "s9")
    with caplog.at_level("INFO", logger="studio.tools.video_zeroscope"):
        generator.generate(request, tmp_path / "long.mkv")

    tokenizer = generator.pipeline.tokenizer
    texts = [tokenizer.decode(row, skip_special_tokens=True).replace(" ", "") for row in encoded]
    read = "".join(texts)
    assert motion_text.replace(" ", "").rstrip(".") in read, "the encoder must read the motion"
    assert read.startswith(motion_text.replace(" ", "")[:14]), "the motion comes first"
    assert "greenpumpkin" in read
    windows = generator.last_prompt
    assert windows is not None and windows.dropped == "" and len(windows.windows) > 1
    assert f"prompt of shot s9: {windows.token_count} tokens in {len(windows.windows)} window(s)" in caplog.text


def test_the_render_log_records_the_prompt_tokens_and_what_was_dropped(
    tiny_pipeline_dir: Path, cpu_settings: Settings, tmp_path: Path
) -> None:
    from dataclasses import replace

    from studio.render import StageRunner
    from studio.tools.base import Toolkit

    options = replace(tiny_options(tiny_pipeline_dir), max_prompt_windows=2, steps=1)
    generator = ZeroscopeVideoGenerator(cpu_settings, options=options)
    toolkit = Toolkit(video=generator, upscaler=None, extender=None, interpolator=None, music=None)  # type: ignore[arg-type]
    runner = StageRunner(toolkit)
    runner.run("generate", "video", lambda video: video.generate(make_request(num_frames=2), tmp_path / "g.mkv"))

    facts = runner.stages["generate"]
    assert facts["backend"] == "zeroscope" and facts["prompt_windows"] == 2
    assert facts["prompt_tokens"] == len(PROMPT.replace(" ", ""))  # one token a byte; spaces end words
    assert facts["prompt_dropped"] and PROMPT.replace(" ", "").endswith(facts["prompt_dropped"].replace(" ", ""))


def test_prompt_windows_split_at_punctuation_and_say_what_was_dropped(tmp_path: Path) -> None:
    from studio.tools.prompt_window import motion_first, split_prompt

    tokenizer = byte_level_clip_tokenizer(tmp_path / "tok")
    assert motion_first("style. a cat. the camera pans left.", "the camera pans left") == (
        "the camera pans left. style. a cat."
    )
    assert motion_first("my own words", "the camera pans left") == "my own words"
    windows = split_prompt(tokenizer, "aaaaaaaaaa, bbbbbbbbbbbbbbbbbbbb", max_windows=2)
    assert windows.token_count == len("aaaaaaaaaa,bbbbbbbbbbbbbbbbbbbb")
    assert len(windows.windows[0]) == 11, "a window ends after the comma in its last third"
    assert tokenizer.decode(windows.windows[0]).replace(" ", "") == "aaaaaaaaaa,"
    assert windows.dropped.replace(" ", "") == "bbbbbb"
    assert "dropped: " in windows.describe()
    assert split_prompt(tokenizer, "short", max_windows=2).describe() == "5 tokens in 1 window(s); nothing dropped"


def test_injected_pipeline_is_used_as_is_with_attention_slicing(cpu_settings: Settings, tmp_path: Path) -> None:
    from dataclasses import replace

    pipeline = diffusers.TextToVideoSDPipeline(**tiny_components(tmp_path))
    # The tiny UNet allows only slice size 1 ("auto" divides by zero); it is slow, hence two frames and one step.
    options = replace(tiny_options("not-a-repo"), attention_slice_size=1, steps=1)
    generator = ZeroscopeVideoGenerator(cpu_settings, pipeline=pipeline, options=options)
    clip = generator.generate(make_request(num_frames=2), tmp_path / "injected.mkv")
    assert generator.pipeline is pipeline
    assert (clip.num_frames, clip.width, clip.height) == (2, 24, 16)


def test_corrupt_checkpoint_is_a_tool_error_naming_the_fix(
    tiny_pipeline_dir: Path, cpu_settings: Settings, tmp_path: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_pipeline_dir, broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a checkpoint")
    generator = ZeroscopeVideoGenerator(cpu_settings, options=tiny_options(broken))
    with pytest.raises(ToolError, match="studio models pull zeroscope"):
        generator.generate(make_request(), tmp_path / "never.mkv")


class _OutOfMemoryPipeline:
    """Stands in for a pipeline on a card that is too small."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __call__(self, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_is_a_tool_error_with_advice(cpu_settings: Settings, tmp_path: Path) -> None:
    pipeline = _OutOfMemoryPipeline(diffusers.TextToVideoSDPipeline(**tiny_components(tmp_path)))
    generator = ZeroscopeVideoGenerator(cpu_settings, pipeline=pipeline, options=tiny_options("x"))
    with pytest.raises(ToolError, match="out of GPU memory.*CPU_OFFLOAD") as raised:
        generator.generate(make_request(), tmp_path / "never.mkv")
    advice = str(raised.value)
    assert "FORWARD_CHUNKING=1" in advice and "VAE_TILING=1" in advice
    assert "ATTENTION_SLICING=1" not in advice, "diffusers warns attention slicing slows SDPA down"


def test_memory_options_reach_the_pipeline(tmp_path: Path) -> None:
    from dataclasses import replace

    pipeline = diffusers.TextToVideoSDPipeline(**tiny_components(tmp_path))
    options = replace(tiny_options("x"), vae_tiling=True, forward_chunking=True)
    generator = ZeroscopeVideoGenerator(Settings(device="cpu", data_dir=tmp_path), pipeline=pipeline, options=options)
    assert generator.pipeline.vae.use_tiling
    settings = Settings(device="cpu", data_dir=tmp_path, zeroscope_vae_tiling=True, zeroscope_forward_chunking=True)
    assert ZeroscopeOptions.first_pass(settings).vae_tiling and ZeroscopeOptions.upscale_pass(settings).forward_chunking


class _NaNPipeline(_OutOfMemoryPipeline):
    """Stands in for a pipeline whose fp16 activations overflowed."""

    def __call__(self, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        import numpy as np

        frames = np.full((1, kwargs["num_frames"], kwargs["height"], kwargs["width"], 3), np.nan, dtype=np.float32)
        return SimpleNamespace(frames=frames)


def test_non_finite_frames_are_a_tool_error_not_black(cpu_settings: Settings, tmp_path: Path) -> None:
    pipeline = _NaNPipeline(diffusers.TextToVideoSDPipeline(**tiny_components(tmp_path)))
    generator = ZeroscopeVideoGenerator(cpu_settings, pipeline=pipeline, options=tiny_options("x"))
    with pytest.raises(ToolError, match="non-finite"):
        generator.generate(make_request(), tmp_path / "never.mkv")
    assert not (tmp_path / "never.mkv").exists()


class _StubPipeline:
    """Records where it is moved; enough of a pipeline for loading and offloading."""

    def __init__(self, moves: list[tuple[str, str]], name: str) -> None:
        self.moves, self.name = moves, name
        self.vae = type("Vae", (), {"enable_slicing": lambda self: None})()

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        pass

    def to(self, device: str) -> _StubPipeline:
        self.moves.append((self.name, str(device)))
        return self


def test_idle_pipelines_leave_the_gpu_when_memory_is_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.tools import device

    moves: list[tuple[str, str]] = []
    free = {"bytes": 80 * 10**9}
    monkeypatch.setattr(device, "free_vram_bytes", lambda: free["bytes"])
    settings = Settings(device="cpu", data_dir=tmp_path)
    first = ZeroscopeVideoGenerator(settings, options=tiny_options("x"))
    upscaler = ZeroscopeXLUpscaler(settings, options=tiny_options("x", "xl"))
    first._device = upscaler._device = "cuda"  # the decision under test is device bookkeeping, not CUDA itself
    first._pipeline = first._prepare(_StubPipeline(moves, "576w"))
    assert first.pipeline is not None and moves == [("576w", "cuda")]

    upscaler._pipeline = upscaler._prepare(_StubPipeline(moves, "xl"))
    assert moves[-1] == ("xl", "cuda"), "with memory to spare nothing moves"

    free["bytes"] = 2 * 10**9  # short: each pass now needs the other off the GPU
    assert upscaler.offload() is True
    del moves[:]
    assert upscaler.pipeline is not None
    assert moves == [("576w", "cpu"), ("xl", "cuda")]
    assert first.pipeline is not None
    assert moves[2:] == [("xl", "cpu"), ("576w", "cuda")]
    upscaler._pipeline.to("cuda")  # both on the GPU again, as after loading while there was room for both
    upscaler._on_device = True
    device.register_resident(upscaler)
    del moves[:]
    assert first.pipeline is not None
    assert moves == [("xl", "cpu")], "a pass already on the GPU still makes room for its work"
    assert first.offload() is True and first.offload() is False


def test_availability_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import huggingface_hub.constants

    from studio.tools import video_zeroscope

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    auto = Settings(device="auto", data_dir=tmp_path)

    assert ZeroscopeVideoGenerator.availability(Settings(device="cpu", data_dir=tmp_path))[0] is False

    monkeypatch.setattr(video_zeroscope, "cuda_present", lambda: False)
    assert ZeroscopeVideoGenerator.availability(auto) == (False, "no CUDA")

    monkeypatch.setattr(video_zeroscope, "cuda_present", lambda: True)
    assert ZeroscopeVideoGenerator.availability(auto) == (
        False,
        "weights not in HF cache (run `studio models pull zeroscope`)",
    )
    assert ZeroscopeXLUpscaler.availability(auto) == (False, "weights not in HF cache (run `studio models pull xl`)")

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "diffusers" else real_find_spec(name, *a)
    )
    available, reason = ZeroscopeVideoGenerator.availability(auto)
    assert not available and reason.startswith("missing extra: pip install 'studio[gpu]'")


def test_device_helpers() -> None:
    from studio.errors import BackendUnavailable
    from studio.tools import device

    assert device.resolve_device("cpu") == "cpu"
    assert device.torch_dtype("cpu") == torch.float32 and device.torch_dtype("cuda") == torch.float16
    assert device.pretrained_dtype_kwargs("diffusers", torch.float16) == {"dtype": torch.float16}
    first = torch.randn(3, generator=device.seeded_generator("cpu", 42))
    assert torch.equal(first, torch.randn(3, generator=device.seeded_generator("cpu", 42)))
    if not torch.cuda.is_available():
        assert device.resolve_device("auto") == "cpu"
        with pytest.raises(BackendUnavailable, match="device=cuda"):
            device.resolve_device("cuda")
    with pytest.raises(ToolError, match="out of GPU memory while testing: try less"):
        with device.vram_guard("testing", "try less"):
            raise RuntimeError("CUDA error: out of memory")
    with pytest.raises(ValueError), device.vram_guard("testing", "try less"):
        raise ValueError("not about memory")
