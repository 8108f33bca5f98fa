"""The soak's LLM endpoint: a local OpenAI-compatible chat server (benchmarks/soak.py points the station's
`OPENAI_BASE_URL` at it) that answers with the offline director's decisions, or injects `llm_timeout` and
`llm_bad_json`."""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from studio.agents.offline import OfflineDirector
from studio.plan import SegmentScript

if TYPE_CHECKING:
    from studio.faults import FaultLog, FaultPlan
    from studio.show import Show


class ScriptedEndpoint:
    """Serves /v1/chat/completions for the station's LLM director: answers with the offline director's decision
    for what was asked (episode plan, segment script, shot list), or injects `llm_timeout` (the answer comes after
    the client's timeout, and so does the answer to its retry) or `llm_bad_json` (content that is not JSON)."""

    def __init__(self, show: Show, plan: FaultPlan, faults: FaultLog, *, client_timeout_s: float) -> None:
        self.show = show
        self.plan = plan
        self.faults = faults
        self.client_timeout_s = client_timeout_s
        self.offline = OfflineDirector()
        self.rng = random.Random(f"{plan.seed}|endpoint")
        self.lock = threading.Lock()
        self.requests = 0
        self.outages: dict[str, int] = {}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, content, delay = endpoint.answer(body)
                if delay:
                    time.sleep(delay)
                payload = {
                    "id": "cmpl-soak", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                } if status == 200 else {"error": {"message": content, "type": "server_error"}}  # fmt: skip
                data = json.dumps(payload).encode()
                with contextlib.suppress(OSError):  # the client gave up waiting (a timeout): nobody reads it
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, name="scripted-endpoint", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, body: dict[str, Any]) -> tuple[int, str, float]:
        """(HTTP status, message content, seconds to wait before answering)."""
        schema = str(body.get("response_format", {}).get("json_schema", {}).get("name", ""))
        user = str(body["messages"][-1]["content"])
        with self.lock:
            self.requests += 1
            call = f"{schema}\n{user}"
            if self.outages.pop(call, 0) > 0:  # the client's retry of a call that timed out times out too
                return 200, self._reply(schema, user), self.client_timeout_s + 1.0
            draw = self.rng.random()
            if draw < self.plan.rate("llm_timeout"):
                # Keyed by the call: production makes several segments at once, so the next request to arrive
                # may be another segment's, not this call's retry.
                self.outages[call] = 1
                self.faults.record("llm_timeout", schema=schema)
                return 200, self._reply(schema, user), self.client_timeout_s + 1.0
            if draw < self.plan.rate("llm_timeout") + self.plan.rate("llm_bad_json"):
                self.faults.record("llm_bad_json", schema=schema)
                return 200, '{"title": "Half an answer", "segments": [{"format": ', 0.0
        return 200, self._reply(schema, user), 0.0

    def _reply(self, schema: str, user: str) -> str:
        show, seed = self.show, self.show.channel.seed
        if schema == "EpisodePlan":
            number = int(re.search(r"Plan episode (\d+)", user).group(1))  # type: ignore[union-attr]
            return self.offline.plan_episode(show, number, seed=seed, recent_topics=[], steering=[]).model_dump_json()
        if schema == "SegmentScript":
            name = _data(user, "segment")["format"]
            episode = self.offline.plan_episode(show, 1, seed=seed, recent_topics=[], steering=[])
            outline = next(o for o in episode.segments if o.format == name)
            return self.offline.write_segment(show, episode, outline, seed=seed).model_dump_json()
        if schema == "ShotList":
            script = SegmentScript.model_validate(_data(user, "segment_script"))
            return self.offline.design_shots(show, script, seed=seed, segment_index=0).model_dump_json()
        return json.dumps({"topic": "", "direction": "", "traits": [], "not_understood": []})


def _data(message: str, name: str) -> Any:
    """The JSON of a `<data name="…">` block in a prompt (`studio.agents.prompts.data_block`)."""
    found = re.search(rf'<data name="{name}">\n(.*?)\n</data>', message, re.DOTALL)
    if found is None:
        raise ValueError(f"no {name} data block in the prompt")
    return json.loads(found.group(1))
