"""benchmarks/gpu_stages.py: the full-size configurations it builds, and its whole run on tiny configs on the CPU.

The configurations are built on the meta device (no memory) and their sizes checked against the published ones;
the `--random-weights --tiny --device cpu` run goes through the same code as the CUDA run, per-stage error capture
included, so a later session with an accelerator can run the full-size benchmark in one go.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")
accelerate = pytest.importorskip("accelerate")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parameters(module: Any) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def test_zeroscope_configs_have_the_published_sizes() -> None:
    random_models = load("random_models")
    configs = random_models.zeroscope_configs()
    with accelerate.init_empty_weights():
        unet = diffusers.UNet3DConditionModel.from_config(configs["unet"])
        vae = diffusers.AutoencoderKL.from_config(configs["vae"])
        text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(**configs["text_encoder"]))
    assert parameters(unet) == pytest.approx(1.41e9, rel=0.01), "text-to-video-ms-1.7b / Zeroscope v2 UNet"
    assert parameters(vae) == pytest.approx(83.65e6, rel=0.01), "the SD VAE"
    assert parameters(text_encoder) == pytest.approx(340.4e6, rel=0.01), "OpenCLIP ViT-H text tower, 23 layers"
    assert text_encoder.config.max_position_embeddings == 77
    assert diffusers.DDIMScheduler.from_config(configs["scheduler"]).config.beta_schedule == "scaled_linear"


@pytest.mark.parametrize(("size", "core", "decoder"), [("small", 302e6, 419.6e6), ("medium", 1.359e9, 1.838e9)])
def test_musicgen_configs_have_the_published_sizes(size: str, core: float, decoder: float) -> None:
    random_models = load("random_models")
    config = transformers.MusicgenConfig(**random_models.musicgen_config_dict(size))
    with accelerate.init_empty_weights():
        model = transformers.MusicgenForConditionalGeneration(config)
    layers = model.decoder.model.decoder.layers
    # The model cards' 300M / 1.5B: self-attention and feed-forward of the decoder; cross-attention comes on top.
    self_and_ffn = sum(parameters(layer.self_attn) + parameters(layer.fc1) + parameters(layer.fc2) for layer in layers)
    assert self_and_ffn == pytest.approx(core, rel=0.01)
    assert parameters(model.decoder) == pytest.approx(decoder, rel=0.01)
    assert model.decoder.num_codebooks == 4 and config.audio_encoder.frame_rate == 50
    assert config.audio_encoder.sampling_rate == 32_000 and config.text_encoder.d_model == 768


def test_tiny_random_weights_run_goes_through_every_stage_and_records_a_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu_stages = load("gpu_stages")
    random_models = load("random_models")

    def broken_musicgen(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the music stage fell over")

    monkeypatch.setattr(random_models, "musicgen", broken_musicgen)
    status = gpu_stages.main(
        ["--random-weights", "--tiny", "--device", "cpu", "--clips", "1", "--json",
         "--stages", "zeroscope,xl,film,musicgen"]
    )  # fmt: skip

    figures = {figure["stage"]: figure for figure in json.loads(capsys.readouterr().out)}
    assert status == 1, "a failed stage makes the run fail, after the others ran"
    assert list(figures) == ["zeroscope", "xl", "film", "musicgen"]
    for stage in ("zeroscope", "xl"):
        assert figures[stage]["error"] == "" and len(figures[stage]["seconds_per_clip"]) == 1
        assert figures[stage]["mean_s"] > 0 and figures[stage]["output_seconds"] == 1.0
    assert "window(s)" in figures["zeroscope"]["note"] and "2 steps" in figures["zeroscope"]["note"]
    assert "strength" in figures["xl"]["note"] and "128x64" in figures["xl"]["note"]
    assert figures["film"]["note"].startswith("skipped: FILM ships only as TorchScript")
    assert figures["musicgen"]["error"] == "RuntimeError: the music stage fell over"


def test_tiny_music_stage_reports_audio_seconds_per_second(capsys: pytest.CaptureFixture[str]) -> None:
    gpu_stages = load("gpu_stages")
    status = gpu_stages.main(["--random-weights", "--tiny", "--device", "cpu", "--clips", "1", "--stages", "musicgen"])
    out = capsys.readouterr().out
    assert status == 0, out
    (row,) = [line for line in out.splitlines() if line.startswith("musicgen ")]
    assert "small, 1 s of audio" in row


def test_without_cuda_the_real_run_is_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    gpu_stages = load("gpu_stages")
    assert gpu_stages.main(["--random-weights"]) == 0
    assert capsys.readouterr().out.startswith("skipped: no CUDA")
    with pytest.raises(SystemExit):
        gpu_stages.main(["--device", "cpu"])


def test_clip_tokenizer_is_built_from_an_openclip_bpe_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    random_models = load("random_models")
    vocab = tmp_path / "bpe_simple_vocab_16e6.txt.gz"
    vocab.write_bytes(gzip.compress(b'"bpe_simple_vocab_16e6.txt#version: 0.2\nh e\nhe l\nhel l\nhell o</w>\n'))
    monkeypatch.setattr(random_models, "CLIP_VOCAB", vocab)
    tokenizer, kind = random_models.clip_tokenizer()
    assert kind == "OpenCLIP BPE vocabulary" and tokenizer.model_max_length == 77
    ids = tokenizer("hello", add_special_tokens=False).input_ids
    assert tokenizer.convert_ids_to_tokens(ids) == ["hello</w>"], "merges apply as in OpenAI CLIP's SimpleTokenizer"
