"""Long prompts for CLIP text encoders: motion first, then every token, encoded in 77-token windows.

Zeroscope's text encoder (OpenCLIP ViT-H, as in SD 2) reads 77 tokens (75 between BOS and EOS) and diffusers
truncates the rest. The cinematographer's prompts run 145-231 tokens with the camera and subject motion last, so
the model never read the motion. Here the motion sentence moves to the front and the whole prompt is encoded
window by window (each window wrapped in BOS ... EOS and padded to 77, as the encoder was trained), the windows'
hidden states concatenated along the sequence into `prompt_embeds`: SD-style UNets cross-attend to any number of
text tokens (what `compel` does with `truncate_long_prompts=False`). Windows end at a comma or full stop where one
is near, so a description is not cut mid-phrase. Past `max_windows` the rest is dropped, and the plan says what.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEFAULT_MAX_WINDOWS = 4
"""300 text tokens for a 77-token encoder: the longest cooking prompt measured 231."""


def motion_first(prompt: str, motion: str) -> str:
    """`prompt` with its motion sentence moved to the front (prompts end with it by construction). A prompt that
    does not carry `motion` verbatim (a person's own words) is left as written."""
    motion = motion.strip().rstrip(".")
    if not motion:
        return prompt
    sentences = [part.strip() for part in prompt.strip().rstrip(".").split(". ")]
    if motion not in sentences or sentences[0] == motion:
        return prompt
    sentences.remove(motion)
    return ". ".join([motion, *sentences]) + "."


@dataclass(frozen=True)
class PromptWindows:
    """How one prompt is split for a text encoder with a fixed token window."""

    text: str
    """The prompt as encoded (motion first)."""
    token_count: int
    """Text tokens, BOS/EOS excluded."""
    windows: tuple[tuple[int, ...], ...]
    """Token ids of each window, BOS/EOS excluded."""
    dropped: str
    """Text past the last window, not encoded ('' when nothing was dropped)."""

    def describe(self) -> str:
        summary = f"{self.token_count} tokens in {len(self.windows)} window(s)"
        return summary + (f"; dropped: {self.dropped!r}" if self.dropped else "; nothing dropped")


def _break_after(tokens: list[str], limit: int) -> int:
    """Tokens to put in a window of `limit`: up to the last comma/full stop in its final third, else `limit`."""
    if len(tokens) <= limit:
        return len(tokens)
    for index in range(limit - 1, limit - 1 - limit // 3, -1):
        if tokens[index].removesuffix("</w>")[-1:] in {",", ".", ";"}:
            return index + 1
    return limit


def split_prompt(tokenizer: Any, text: str, max_windows: int = DEFAULT_MAX_WINDOWS) -> PromptWindows:
    """Split `text` into windows of the tokenizer's `model_max_length - 2` text tokens, at most `max_windows`."""
    limit = int(tokenizer.model_max_length) - 2
    ids = list(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False).input_ids)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    windows: list[tuple[int, ...]] = []
    start = 0
    while start < len(ids) and len(windows) < max(1, max_windows):
        size = _break_after(tokens[start:], limit)
        windows.append(tuple(ids[start : start + size]))
        start += size
    dropped = tokenizer.decode(ids[start:]).strip() if start < len(ids) else ""
    return PromptWindows(text, len(ids), tuple(windows) or ((),), dropped)


def _encode_windows(pipeline: Any, windows: tuple[tuple[int, ...], ...], count: int, device: Any) -> torch.Tensor:
    import torch

    tokenizer, encoder = pipeline.tokenizer, pipeline.text_encoder
    length = int(tokenizer.model_max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows = []
    for index in range(count):
        body = list(windows[index]) if index < len(windows) else []
        row = [tokenizer.bos_token_id, *body, tokenizer.eos_token_id]
        rows.append(row + [pad] * (length - len(row)))
    ids = torch.tensor(rows, dtype=torch.long, device=device)
    with torch.no_grad():
        hidden = encoder(ids)[0]  # (count, 77, dim): the last hidden state, as the pipelines use it
    return hidden.reshape(1, count * length, hidden.shape[-1]).to(dtype=encoder.dtype)


def encode_long_prompt(
    pipeline: Any, prompt: str, negative_prompt: str, *, device: Any, max_windows: int = DEFAULT_MAX_WINDOWS
) -> tuple[torch.Tensor, torch.Tensor, PromptWindows]:
    """`prompt_embeds` and `negative_prompt_embeds` for a diffusers SD-style pipeline, padded to the same number of
    windows (an empty window is the encoding of ''), and how the prompt was split."""
    tokenizer = pipeline.tokenizer
    positive = split_prompt(tokenizer, prompt, max_windows)
    negative = split_prompt(tokenizer, negative_prompt, max_windows)
    count = max(len(positive.windows), len(negative.windows))
    return (
        _encode_windows(pipeline, positive.windows, count, device),
        _encode_windows(pipeline, negative.windows, count, device),
        positive,
    )
