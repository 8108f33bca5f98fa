"""Full-size models with random weights, built from the published configurations in `benchmarks/configs/`.

Speed and memory of a diffusion or language model depend on its architecture, not its weights, so
`gpu_stages.py --random-weights` measures the product's stages on a machine that has no weights. `tiny=True`
builds the same classes with small layers, for a CPU test of the same code path.

Where the configurations come from (written by hand from the published files; nothing is downloaded):

- `configs/zeroscope_v2_576w/{unet,vae,text_encoder,scheduler}/`: the `config.json` / `scheduler_config.json` of
  the Hub repository `cerspense/zeroscope_v2_576w` (the same architecture as `damo-vilab/text-to-video-ms-1.7b`,
  whose files they match). `cerspense/zeroscope_v2_XL` is a fine-tune of the same architecture, so the XL pass is
  built from the same files. Checked sizes: UNet 1,411,233,860 parameters (1.41B), VAE 83.65M, OpenCLIP ViT-H text
  encoder (23 layers, as SD 2 uses it) 340.4M.
- `configs/musicgen-{small,medium}/config.json` and `generation_config.json`: `facebook/musicgen-small` and
  `facebook/musicgen-medium` (T5-base text encoder, EnCodec 32 kHz with 4 codebooks at 50 frames/s, decoder of
  24 layers x 1024 / 48 layers x 1536). The decoder's self-attention and feed-forward layers hold the 300M / 1.5B
  parameters the model cards name; cross-attention brings the decoders to 420M / 1.84B.
- The tokenizers are not architecture: the CLIP tokenizer is built from OpenCLIP's BPE vocabulary when
  `open-clip-torch` is installed (it ships `bpe_simple_vocab_16e6.txt.gz`), else byte-level (each byte one token:
  longer prompts, so more 77-token windows, capped as in the product); T5's is a small unigram vocabulary.

FILM is not built here: its architecture ships only as the TorchScript export `film_net_fp32.pt`; the port's
Python modules are not a package, so a random FILM would be a re-implementation, not the model.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).resolve().parent / "configs"
ZEROSCOPE = CONFIGS / "zeroscope_v2_576w"
CLIP_WINDOW = 77
CLIP_VOCAB: Path | None = None
"""OpenCLIP's `bpe_simple_vocab_16e6.txt.gz` (`--clip-vocab`); None: the one in open-clip-torch, if installed."""


def _json(path: Path) -> dict[str, Any]:
    return {key: value for key, value in json.loads(path.read_text()).items() if not key.startswith("_")}


def zeroscope_configs(tiny: bool = False) -> dict[str, dict[str, Any]]:
    """unet, vae, text_encoder and scheduler configurations; `tiny` shrinks widths and depths, nothing else."""
    configs = {
        "unet": _json(ZEROSCOPE / "unet" / "config.json"),
        "vae": _json(ZEROSCOPE / "vae" / "config.json"),
        "text_encoder": _json(ZEROSCOPE / "text_encoder" / "config.json"),
        "scheduler": _json(ZEROSCOPE / "scheduler" / "scheduler_config.json"),
    }
    if tiny:
        configs["unet"].update(
            block_out_channels=[8, 16],
            layers_per_block=1,
            down_block_types=["CrossAttnDownBlock3D", "DownBlock3D"],
            up_block_types=["UpBlock3D", "CrossAttnUpBlock3D"],
            cross_attention_dim=16,
            attention_head_dim=4,
            norm_num_groups=4,
        )
        configs["vae"].update(
            block_out_channels=[8, 8],
            down_block_types=["DownEncoderBlock2D"] * 2,
            up_block_types=["UpDecoderBlock2D"] * 2,
            layers_per_block=1,
            norm_num_groups=4,
        )
        configs["text_encoder"].update(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2)
    return configs


def musicgen_config_dict(size: str, tiny: bool = False) -> dict[str, Any]:
    config = json.loads((CONFIGS / f"musicgen-{size}" / "config.json").read_text())
    if tiny:
        config["text_encoder"].update(d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2)
        config["audio_encoder"].update(hidden_size=16, num_filters=4, codebook_dim=16, num_lstm_layers=1)
        config["decoder"].update(hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=2)
    return config


def clip_tokenizer() -> tuple[Any, str]:
    """A CLIP tokenizer with a 77-token window, and which vocabulary it has."""
    import transformers

    directory = Path(tempfile.mkdtemp(prefix="studio-clip-tokenizer-"))
    spec = importlib.util.find_spec("open_clip")
    vocab_file = Path(spec.origin).parent / "bpe_simple_vocab_16e6.txt.gz" if spec and spec.origin else None
    vocab_file = CLIP_VOCAB or vocab_file
    symbols = _byte_symbols()
    if vocab_file is not None and vocab_file.is_file():
        # As OpenAI CLIP's SimpleTokenizer builds its encoder from the same file.
        lines = gzip.open(vocab_file).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
        merges = [line for line in lines if line.strip()]
        vocab = [*symbols, *(symbol + "</w>" for symbol in symbols), *("".join(m.split()) for m in merges)]
        merges_text = "\n".join(merges)
        kind = "OpenCLIP BPE vocabulary"
    else:
        vocab, merges_text = [*symbols, *(symbol + "</w>" for symbol in symbols)], ""
        kind = "byte-level vocabulary (open-clip-torch not installed)"
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (directory / "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(vocab)}))
    (directory / "merges.txt").write_text("#version: 0.2\n" + merges_text + ("\n" if merges_text else ""))
    tokenizer = transformers.CLIPTokenizer.from_pretrained(directory, model_max_length=CLIP_WINDOW, pad_token="!")
    return tokenizer, kind


def _byte_symbols() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values, in their order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes, extra = printable[:], 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def _small_init(module: Any) -> None:
    """Normal(0, 0.02) weights and zero biases, as transformers initialises: PyTorch's default init of a 1.4B UNet
    can overflow float16 over 40 steps, and a NaN clip is (rightly) an error, not a timing."""
    import torch

    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0.0, 0.02)
            elif parameter.dim() == 1 and parameter.numel() and not torch.all(parameter == 1):
                parameter.zero_()


def zeroscope_pipeline(kind: str, *, device: str, dtype: Any, tiny: bool = False) -> tuple[Any, str]:
    """A random `TextToVideoSDPipeline` (`kind="t2v"`) or `VideoToVideoSDPipeline` (`"v2v"`), and a note."""
    import diffusers
    import torch
    import transformers

    configs = zeroscope_configs(tiny)
    torch.manual_seed(0)
    with torch.device(device):
        unet = diffusers.UNet3DConditionModel.from_config(configs["unet"])
        vae = diffusers.AutoencoderKL.from_config(configs["vae"])
        text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(**configs["text_encoder"]))
    for module in (unet, vae):
        _small_init(module)
    tokenizer, vocabulary = clip_tokenizer()
    pipeline_class = diffusers.TextToVideoSDPipeline if kind == "t2v" else diffusers.VideoToVideoSDPipeline
    pipeline = pipeline_class(
        vae=vae.to(dtype=dtype),
        text_encoder=text_encoder.to(dtype=dtype),
        tokenizer=tokenizer,
        unet=unet.to(dtype=dtype),
        scheduler=diffusers.DDIMScheduler.from_config(configs["scheduler"]),
    )
    return pipeline, f"random weights, {'tiny' if tiny else 'full-size'} config, {vocabulary}"


WORDS = "upbeat calm jazz bossa nova piano drums brushed with slow fast music bpm in major minor".split()


def t5_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("▁" + word, -1.0) for word in WORDS]
    vocab += [(char, -5.0) for char in "abcdefghijklmnopqrstuvwxyz0123456789,▁"]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=2))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    return T5TokenizerFast(tokenizer_object=tokenizer, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")


def musicgen(size: str, *, device: str, dtype: Any, tiny: bool = False) -> tuple[Any, Any, str]:
    """A random `MusicgenForConditionalGeneration` of `size` (small, medium), its processor, and a note."""
    import torch
    import transformers

    config = transformers.MusicgenConfig(**musicgen_config_dict(size, tiny))
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.MusicgenForConditionalGeneration(config)
    generation = json.loads((CONFIGS / f"musicgen-{size}" / "generation_config.json").read_text())
    for key, value in generation.items():
        if not key.startswith("_"):
            setattr(model.generation_config, key, value)
    feature_extractor = transformers.EncodecFeatureExtractor(
        feature_size=1, sampling_rate=int(config.audio_encoder.sampling_rate)
    )
    processor = transformers.MusicgenProcessor(feature_extractor=feature_extractor, tokenizer=t5_tokenizer())
    return model.to(dtype=dtype).eval(), processor, f"random weights, {'tiny' if tiny else 'full-size'} config"
