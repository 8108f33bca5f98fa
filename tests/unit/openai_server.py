"""A real OpenAI-compatible chat server for tests: `POST /v1/chat/completions` answered from a script, every request
recorded. Runs in a thread on 127.0.0.1 at a free port; no network beyond the loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: `content` as the assistant message (a string sent as is, anything else as JSON), or an
    HTTP error `status` with no completion."""

    content: Any = None
    status: int = 200


@dataclass
class ChatServer:
    """What the server answers (`script`, in order, then `default`) and what it was asked (`requests`)."""

    default: Reply
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(body)
            return self.script.pop(0) if self.script else self.default

    def images(self, request: dict[str, Any]) -> list[str]:
        """The image URLs a recorded request carried."""
        return [part["image_url"]["url"] for part in _parts(request) if part.get("type") == "image_url"]

    def texts(self, request: dict[str, Any]) -> str:
        """Every text the request's messages carried, joined."""
        texts = [part.get("text", "") for part in _parts(request) if part.get("type") == "text"]
        texts += [m["content"] for m in request.get("messages", []) if isinstance(m.get("content"), str)]
        return "\n".join(texts)


def _parts(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        part
        for message in request.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict)
    ]


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


@contextmanager
def chat_server(default: Reply, script: list[Reply] | None = None) -> Iterator[ChatServer]:
    """A running server; its `base_url` ends in /v1, as OpenAI clients expect."""
    server_state = ChatServer(default=default, script=list(script or []))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = server_state.next_reply(body)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": "scripted failure", "type": "server_error"}})
                return
            content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
            self._send(200, _completion(str(body.get("model", "")), content))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
