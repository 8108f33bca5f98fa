"""MusicGen backend: a tiny random MusicgenForConditionalGeneration built from configs in the test, saved with
`save_pretrained` and loaded back through the backend's real `from_pretrained(..., local_files_only=True)` path.

Its Encodec runs at 32 kHz with a 640-sample hop (50 frames/s, like the real models) and two codebooks; its T5
tokenizer is a small unigram vocabulary made in-process.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("scipy")

from studio.config import Settings  # noqa: E402
from studio.errors import ToolError  # noqa: E402
from studio.tools.base import AudioTrack, MusicGenerator, MusicRequest  # noqa: E402
from studio.tools.media import read_wav  # noqa: E402
from studio.tools.music_musicgen import (  # noqa: E402
    MusicgenGenerator,
    MusicgenOptions,
    crossfade_append,
    describe,
    resample,
)

WORDS = "a the upbeat calm jazz bossa nova piano drums brushed with slow fast music bpm in major minor".split()


def tiny_t5_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("▁" + word, -1.0) for word in WORDS]
    vocab += [(char, -5.0) for char in "abcdefghijklmnopqrstuvwxyz0123456789,▁"]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=2))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    return transformers.T5TokenizerFast(
        tokenizer_object=tokenizer, eos_token="</s>", pad_token="<pad>", unk_token="<unk>", extra_ids=0
    )


@pytest.fixture(scope="module")
def tiny_musicgen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tokenizer = tiny_t5_tokenizer()
    text = transformers.T5Config(
        vocab_size=len(tokenizer), d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2, decoder_start_token_id=0
    )
    audio = transformers.EncodecConfig(
        target_bandwidths=[0.6],  # 1000 * 0.6 // (50 frames/s * 6 bits) = 2 quantizers
        sampling_rate=32_000,
        audio_channels=1,
        hidden_size=8,
        num_filters=4,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=64,
        codebook_dim=8,
        num_lstm_layers=1,
        use_causal_conv=False,
    )
    decoder = transformers.MusicgenDecoderConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        num_codebooks=2,
        max_position_embeddings=4096,
        pad_token_id=64,
        bos_token_id=64,
    )
    config = transformers.MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict()
    )
    torch.manual_seed(0)
    model = transformers.MusicgenForConditionalGeneration(config)
    model.generation_config.decoder_start_token_id = 64
    model.generation_config.pad_token_id = 64
    feature_extractor = transformers.EncodecFeatureExtractor(feature_size=1, sampling_rate=32_000)
    processor = transformers.MusicgenProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer)
    directory = tmp_path_factory.mktemp("tiny-musicgen")
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


@pytest.fixture
def settings(tmp_path: Path, backend_device: str) -> Settings:
    """Settings on the test device: the CPU, or CUDA in float16 under `pytest --device cuda`."""
    return Settings(device=backend_device, data_dir=tmp_path / "data")


def tiny_generator(model_dir: Path, settings: Settings, **overrides: float) -> MusicgenGenerator:
    options = MusicgenOptions(model_id=str(model_dir), model_name="musicgen", **overrides)  # type: ignore[arg-type]
    return MusicgenGenerator(settings, options=options)


def wav_facts(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as handle:
        return handle.getframerate(), handle.getnchannels(), handle.getnframes()


def test_one_chunk_is_48k_stereo_and_sample_exact(tiny_musicgen_dir: Path, tmp_path: Path, settings: Settings) -> None:
    generator = tiny_generator(tiny_musicgen_dir, settings)
    assert isinstance(generator, MusicGenerator)
    request = MusicRequest(prompt="upbeat bossa nova with brushed drums", seconds=0.73, seed=3, tempo_bpm=120)

    track = generator.generate(request, tmp_path / "score.wav")

    assert track == AudioTrack(tmp_path / "score.wav", 48_000, 2, 35_040 / 48_000, "musicgen")
    assert wav_facts(track.path) == (48_000, 2, 35_040)
    samples, _ = read_wav(track.path)
    assert np.abs(samples).max() > 0, "silence is not a score"
    assert np.array_equal(samples[:, 0], samples[:, 1]), "mono models are duplicated to both channels"
    assert type(generator.model).__name__ == "MusicgenForConditionalGeneration"

    again = generator.generate(request, tmp_path / "again.wav")
    assert np.array_equal(read_wav(again.path)[0], samples), "the same seed must give the same score"


def test_long_scores_continue_from_the_tail_in_chunks(
    tiny_musicgen_dir: Path, tmp_path: Path, settings: Settings
) -> None:
    generator = tiny_generator(
        tiny_musicgen_dir, settings, chunk_seconds=0.5, context_seconds=0.2, crossfade_seconds=0.02
    )
    calls: list[dict[str, Any]] = []
    real_generate = generator.model.generate

    def recording_generate(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_generate(**kwargs)

    generator.model.generate = recording_generate
    request = MusicRequest(prompt="calm jazz piano", seconds=1.3, seed=5, sample_rate=44_100)

    track = generator.generate(request, tmp_path / "long.wav")

    assert wav_facts(track.path) == (44_100, 2, 57_330)
    assert track.seconds == pytest.approx(1.3)
    assert len(calls) >= 3
    assert "input_values" not in calls[0]
    # Every later chunk is prompted with the last 0.2 s (10 frames of 640 samples) of the music so far.
    assert all(call["input_values"].shape[-1] == 6_400 for call in calls[1:])
    assert all(call["max_new_tokens"] <= 15 + 1 for call in calls[1:])


def test_non_finite_audio_is_a_tool_error_not_silence(
    tiny_musicgen_dir: Path, tmp_path: Path, settings: Settings
) -> None:
    import torch

    generator = tiny_generator(tiny_musicgen_dir, settings)
    real_generate = generator.model.generate
    generator.model.generate = lambda **kwargs: real_generate(**kwargs) * torch.tensor(float("nan"))
    with pytest.raises(ToolError, match="non-finite"):
        generator.generate(MusicRequest(prompt="jazz", seconds=0.5, seed=0), tmp_path / "never.wav")
    assert not (tmp_path / "never.wav").exists()


def test_helpers() -> None:
    assert describe(MusicRequest(prompt="calm", seconds=1, seed=0, tempo_bpm=92.4, key="D minor")) == (
        "calm, 92 bpm, in D minor"
    )
    one_second = np.sin(np.linspace(0, 2 * np.pi * 440, 32_000, dtype=np.float32))[:, None]
    assert resample(one_second, 32_000, 48_000).shape == (48_000, 1)
    joined = crossfade_append(np.ones((10, 1), np.float32), np.zeros((10, 1), np.float32), 4)
    assert joined.shape == (16, 1) and joined[5, 0] == 1.0 and joined[-1, 0] == 0.0


def test_corrupt_checkpoint_is_a_tool_error(tiny_musicgen_dir: Path, tmp_path: Path, settings: Settings) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_musicgen_dir, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    generator = tiny_generator(broken, settings)
    with pytest.raises(ToolError, match="studio models pull musicgen"):
        generator.generate(MusicRequest(prompt="jazz", seconds=0.5, seed=0), tmp_path / "never.wav")


def test_availability_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    from studio.tools import music_musicgen

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(music_musicgen, "cuda_present", lambda: False)
    available, reason = MusicgenGenerator.availability(Settings(device="auto", data_dir=tmp_path))
    assert not available and reason.startswith("no CUDA")
    assert MusicgenGenerator.availability(Settings(device="cpu", data_dir=tmp_path)) == (
        False,
        "weights not in HF cache (run `studio models pull musicgen`)",
    )
    medium = Settings(device="cpu", musicgen_model="medium", data_dir=tmp_path)
    assert (
        MusicgenGenerator.availability(medium)[1]
        == "weights not in HF cache (run `studio models pull musicgen-medium`)"
    )
