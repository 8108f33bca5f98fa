"""The local web player: serves the player page and the live HLS files; checks an RTMP server is reachable."""

from __future__ import annotations

import errno
import html
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from studio.broadcast.commands import HLS_PLAYLIST_NAME
from studio.errors import BroadcastError, ConfigError
from studio.secrets import mask_url

log = logging.getLogger(__name__)

HLS_ROUTE = "/hls/"
_MIME_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
_RTMP_DEFAULT_PORT = 1935


StatusSource = Callable[[], dict[str, Any]]
"""What is on air and up next, as the page shows it (`/now.json`)."""
PictureSource = Callable[[str], "Path | None"]
"""The picture file of a segment id (its first shot's thumbnail), or None."""
NOW_ROUTE = "/now.json"
EPG_ROUTE = "/epg.json"
XMLTV_ROUTE = "/epg.xml"
GuideSource = Callable[[], dict[str, Any]]
"""The programme guide, today and tomorrow (`/epg.json`, and as XMLTV `/epg.xml`)."""
PICTURE_ROUTE = "/picture/"
_SEGMENT_ID = re.compile(r"[a-z0-9-]{1,120}")


def _player_page(title: str) -> bytes:
    template = resources.files("studio.broadcast").joinpath("player.html").read_text(encoding="utf-8")
    page = template.replace("{{title}}", html.escape(title)).replace("{{playlist}}", HLS_ROUTE + HLS_PLAYLIST_NAME)
    return page.encode("utf-8")


class PlayerServer:
    """Serves `/` (the player page) and `/hls/<file>` (playlist and segments from `hls_dir`) on a thread.

    Only plain file names with an HLS suffix are served from `hls_dir`: no directories, no traversal.
    """

    def __init__(
        self,
        hls_dir: Path,
        *,
        bind: str = "127.0.0.1",
        port: int = 8090,
        title: str = "studio",
        status: StatusSource | None = None,
        pictures: PictureSource | None = None,
        guide: GuideSource | None = None,
    ) -> None:
        self.hls_dir = hls_dir
        self.bind = bind
        self.port = port
        self.title = title
        self.status = status
        """Now and next for the page; without it `/now.json` says only the title."""
        self.pictures = pictures
        self.guide = guide
        """The programme guide; without it `/epg.json` lists nothing."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen and serve in the background. Raises `ConfigError` when the address cannot be used."""
        handler = _handler_class(self.hls_dir, _player_page(self.title), self._now, self.pictures, self._guide)
        try:
            server = ThreadingHTTPServer((self.bind, self.port), handler)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {self.port} on {self.bind} is already in use: stop the program using it or choose"
                    " another with --port (0 picks a free port)"
                ) from None
            raise ConfigError(
                f"cannot serve the web player on {self.bind}:{self.port}: {error.strerror or error}"
                " (check --bind and --port)"
            ) from None
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="player-server", daemon=True)
        self._thread.start()

    def _now(self) -> dict[str, Any]:
        if self.status is None:
            return {"title": self.title, "now": None, "next": []}
        return self.status()

    def _guide(self) -> dict[str, Any]:
        if self.guide is None:
            return {"channel": self.title, "programmes": [], "ai_generated": True}
        return self.guide()

    @property
    def url(self) -> str:
        """Address of the player page (loopback when listening on every interface)."""
        host = "127.0.0.1" if self.bind in {"", "0.0.0.0"} else ("[::1]" if self.bind == "::" else self.bind)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None


def _handler_class(
    hls_dir: Path, page: bytes, now: StatusSource, pictures: PictureSource | None, guide: GuideSource
) -> type[BaseHTTPRequestHandler]:
    root = hls_dir.absolute()

    class PlayerRequestHandler(BaseHTTPRequestHandler):
        server_version = "studio"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._respond(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._respond(send_body=False)

        def _respond(self, *, send_body: bool) -> None:
            path = urlsplit(self.path).path
            if path in {"/", "/index.html"}:
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", "no-cache", send_body)
                return
            if path in (NOW_ROUTE, EPG_ROUTE, XMLTV_ROUTE):
                content_type = "application/xml" if path == XMLTV_ROUTE else "application/json"
                try:
                    body = self._document(path)
                except Exception:  # noqa: BLE001 - the page retries; the channel goes on
                    log.exception("%s could not be read", path)
                    self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"{}", content_type, "no-store", send_body)
                    return
                self._send(HTTPStatus.OK, body, content_type, "no-store", send_body)
                return
            if path.startswith(PICTURE_ROUTE):
                self._picture(unquote(path[len(PICTURE_ROUTE) :]).removesuffix(".png"), send_body)
                return
            file_path = _hls_file(root, path)
            if file_path is None:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", "no-store", send_body)
                return
            try:
                body = file_path.read_bytes()
            except OSError:  # not written yet, or deleted by the muxer's rolling window
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", "no-store", send_body)
                return
            live_playlist = file_path.suffix == ".m3u8"
            cache = "no-cache, no-store, must-revalidate" if live_playlist else "public, max-age=60"
            self._send(HTTPStatus.OK, body, _MIME_TYPES[file_path.suffix], cache, send_body)

        def _document(self, path: str) -> bytes:
            if path == NOW_ROUTE:
                return json.dumps(now()).encode("utf-8")
            programmes = guide()
            if path == EPG_ROUTE:
                return json.dumps(programmes).encode("utf-8")
            from studio.channel_epg import xmltv
            from studio.state import slug

            host = self.headers.get("Host", "")
            base_url = f"http://{host}/" if host and re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,200}", host) else ""
            return xmltv(
                programmes, channel_id=f"{slug(programmes.get('channel', 'studio'))}.studio", base_url=base_url
            )

        def _picture(self, segment_id: str, send_body: bool) -> None:
            picture = pictures(segment_id) if pictures is not None and _SEGMENT_ID.fullmatch(segment_id) else None
            try:
                body = picture.read_bytes() if picture is not None and picture.suffix == ".png" else b""
            except OSError:
                body = b""
            if not body:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", "no-store", send_body)
                return
            self._send(HTTPStatus.OK, body, "image/png", "public, max-age=300", send_body)

        def _send(self, status: HTTPStatus, body: bytes, content_type: str, cache: str, send_body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", cache)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    return PlayerRequestHandler


def _hls_file(root: Path, request_path: str) -> Path | None:
    """The file under `root` that `request_path` names, or None unless it is a plain HLS file name."""
    if not request_path.startswith(HLS_ROUTE):
        return None
    name = unquote(request_path[len(HLS_ROUTE) :])
    if not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
        return None
    file_path = root / name
    if file_path.suffix not in _MIME_TYPES or file_path.parent != root:
        return None
    return file_path


# C1 of the RTMP handshake: 4 bytes of time, 4 zero bytes, 1528 of anything.
_RTMP_HANDSHAKE_BYTES = 1536


def check_rtmp_reachable(url: str, timeout: float = 3.0) -> None:
    """Raise `BroadcastError` unless `url` is rtmp://HOST[:PORT]/… and a server there answers the start of an RTMP
    handshake (C0+C1 sent, S0+S1 back with version 3). A port that merely accepts TCP (the wrong service, a proxy
    that went quiet) is refused too: the muxer would hang on it."""
    parts = urlsplit(url)
    shown = mask_url(url)
    if parts.scheme != "rtmp" or not parts.hostname:
        raise BroadcastError(
            f"not an RTMP URL: {parts.scheme or '(no scheme)'}://{parts.hostname or ''}/… (expected rtmp://host[:port]/app/key)"
        )
    try:
        port = parts.port or _RTMP_DEFAULT_PORT
    except ValueError:
        raise BroadcastError(f"bad port in RTMP URL {shown!r}") from None
    deadline = time.monotonic() + timeout
    try:
        connection = socket.create_connection((parts.hostname, port), timeout=timeout)
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        raise BroadcastError(
            f"cannot reach the RTMP server at {parts.hostname}:{port} ({reason}): start it or fix --rtmp"
        ) from None
    answer = b""
    with connection:
        try:
            connection.sendall(b"\x03" + bytes(_RTMP_HANDSHAKE_BYTES))
            while len(answer) < 1 + _RTMP_HANDSHAKE_BYTES:
                connection.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = connection.recv(1 + _RTMP_HANDSHAKE_BYTES - len(answer))
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
    if len(answer) < 1 + _RTMP_HANDSHAKE_BYTES or answer[0] != 3:
        raise BroadcastError(
            f"{parts.hostname}:{port} accepts connections but does not answer as an RTMP server: check the host and"
            " port in --rtmp (RTMP servers listen on 1935 unless set otherwise)"
        )
