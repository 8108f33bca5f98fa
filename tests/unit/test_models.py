"""Model registry, HF cache inspection and `pull`, against a Hugging Face cache laid out in tmp (no network)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub")

from studio import models  # noqa: E402
from studio.errors import StudioError  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"

ZEROSCOPE_FILES = {
    "model_index.json": b'{"_class_name": "TextToVideoSDPipeline"}',
    "unet/config.json": b"{}",
    "unet/diffusion_pytorch_model.bin": b"u" * 5000,
    "vae/diffusion_pytorch_model.bin": b"v" * 3000,
    "text_encoder/config.json": b"{}",
    "text_encoder/pytorch_model.bin": b"t" * 2000,
    "tokenizer/vocab.json": b"{}",
}


def put_in_cache(cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """Lay files out as huggingface_hub does: blobs by hash, snapshot symlinks, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    for name, content in files.items():
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (len(Path(name).parts) + 1)) / "blobs" / blob.name)
    return snapshot


def test_registry_names_the_repositories() -> None:
    assert models.MODELS["zeroscope"].repo_id == "cerspense/zeroscope_v2_576w"
    assert models.MODELS["xl"].repo_id == "cerspense/zeroscope_v2_XL"
    assert models.MODELS["musicgen"].repo_id == "facebook/musicgen-small"
    assert models.MODELS["film"].required == ("film_net_fp32.pt",)
    assert models.expand_names(["all"]) == ["zeroscope", "xl", "film", "musicgen"]
    assert models.expand_names(["film", "all", "musicgen-medium"]) == [
        "film", "zeroscope", "xl", "musicgen", "musicgen-medium",
    ]  # fmt: skip
    with pytest.raises(StudioError, match="unknown model 'sora'.*zeroscope"):
        models.expand_names(["sora"])


def test_cache_inspection_and_sizes(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    snapshot = put_in_cache(cache, "cerspense/zeroscope_v2_576w", ZEROSCOPE_FILES)
    partial = dict(ZEROSCOPE_FILES)
    del partial["vae/diffusion_pytorch_model.bin"]
    put_in_cache(cache, "cerspense/zeroscope_v2_XL", partial)

    assert models.cached_snapshot("zeroscope", cache) == snapshot
    assert models.is_cached("zeroscope", cache)
    assert not models.is_cached("xl", cache), "a snapshot without VAE weights is not a model"
    assert not models.is_cached("film", cache)

    rows = {row.name: row for row in models.list_models(cache)}
    assert set(rows) == set(models.MODELS)
    assert rows["zeroscope"].present and rows["zeroscope"].snapshot == snapshot
    # Identical files share one blob, as in a real cache.
    assert rows["zeroscope"].size_bytes == sum(len(content) for content in set(ZEROSCOPE_FILES.values()))
    assert rows["zeroscope"].size_text == "10.0 kB"
    assert not rows["xl"].present and rows["xl"].size_bytes > 0
    assert not rows["musicgen"].present and rows["musicgen"].size_bytes == 0


def test_list_models_without_a_cache(tmp_path: Path) -> None:
    rows = models.list_models(tmp_path / "no-cache-yet")
    assert [row.present for row in rows] == [False] * len(models.MODELS)


def test_select_files_keeps_one_weight_format() -> None:
    repo_files = [
        "README.md",
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.bin",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/diffusion_pytorch_model.bin",
        "zs2_576w/text2video_pytorch_model.pth",
    ]
    assert models.select_files(repo_files, models.MODELS["zeroscope"].allow_patterns) == [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.bin",
    ]


def test_pull_downloads_only_what_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    cache = tmp_path / "hub"
    downloads: list[tuple[str, list[str]]] = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            pass

        def list_repo_files(self, repo_id: str) -> list[str]:
            return ["film_net_fp32.pt", "film_net_fp16.pt", "README.md"]

    def fake_snapshot_download(repo_id: str, *, allow_patterns: list[str], cache_dir: Path, token: str | None) -> str:
        downloads.append((repo_id, allow_patterns))
        return str(put_in_cache(cache_dir, repo_id, {name: b"torchscript" for name in allow_patterns}))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    messages: list[str] = []

    snapshots = models.pull(["film"], messages.append, cache_dir=cache)

    assert downloads == [("nguu/film-pytorch", ["film_net_fp32.pt"])]
    assert snapshots == [models.cached_snapshot("film", cache)]
    assert messages[0].startswith("film: nguu/film-pytorch") and messages[-1].startswith("film: ready")


def test_importing_the_registry_touches_no_network_or_heavy_package() -> None:
    code = (
        "import sys, studio.models, studio.tools.device, studio.tools.video_zeroscope, "
        "studio.tools.interpolate_film, studio.tools.music_musicgen, studio.tools.extend_streamingt2v\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'huggingface_hub') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == ""
