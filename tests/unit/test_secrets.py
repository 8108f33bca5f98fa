from __future__ import annotations

import pytest

from studio.secrets import mask_key, mask_url, redact


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtmp://live.example.com/app/sk_live_12345", "rtmp://live.example.com/app/****"),
        ("rtmps://a.rtmp.youtube.com:443/live2/abcd-efgh-ijkl", "rtmps://a.rtmp.youtube.com:443/live2/****"),
        ("rtmp://127.0.0.1/live", "rtmp://127.0.0.1/live"),  # no key in it
        ("rtmp://user:hunter22@host/app/key9", "rtmp://user:****@host/app/****"),
        ("http://user:pw@llm.local:8000/v1", "http://user:****@llm.local:8000/v1"),
        ("https://api.example.com/v1?api_key=abc123&model=x", "https://api.example.com/v1?api_key=****&model=x"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redact_removes_the_url_and_the_bare_key_from_free_text() -> None:
    url = "rtmp://live.example.com/app/sk_live_12345"
    text = f"[flv @ 0x1] {url}: Connection refused | stream sk_live_12345 closed"
    cleaned = redact(text, [url, None])
    assert "sk_live_12345" not in cleaned
    assert "rtmp://live.example.com/app/****: Connection refused" in cleaned


def test_mask_key() -> None:
    assert mask_key(None) == "unset"
    assert mask_key("sk-abcdefghijklmnop1234") == "****1234"
    assert mask_key("short") == "****"
