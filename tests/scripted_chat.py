"""A scripted LangChain chat model for tests, in the style of simonw/llm's mock model.

Queue what the "LLM" should answer with `enqueue(reply)`, call it through `with_structured_output(schema,
method=...)` exactly as `LLMDirector` does, then read `history` to see what was asked. A reply may be a pydantic
model instance, a dict, a JSON string (sent verbatim, so it may be invalid on purpose) or an exception to raise.

It is a real `BaseChatModel`: `invoke` goes through LangChain's own machinery to `_generate`, which pops the next
reply. With `method="function_calling"` the reply comes back as a tool call (as an OpenAI server sends it), with
`json_schema` / `json_mode` as JSON message content; either way it is parsed into the schema afterwards, so an
invalid reply fails the way a real one would (an `OutputParserException` or a pydantic `ValidationError`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field


class ScriptExhausted(AssertionError):
    """The code under test called the model more often than the test scripted."""


@dataclass(frozen=True)
class ScriptedCall:
    """One call of the model: what it was sent and what it was asked for."""

    messages: list[BaseMessage]
    schema: Any
    """The schema passed to `with_structured_output` (None for a plain `invoke`)."""
    method: str | None
    """The structured-output method (`json_schema`, `function_calling`, `json_mode`), None for a plain `invoke`."""

    @property
    def system(self) -> str:
        return "\n".join(str(m.content) for m in self.messages if m.type == "system")

    @property
    def user(self) -> str:
        return "\n".join(str(m.content) for m in self.messages if m.type == "human")


def _schema_name(schema: Any) -> str:
    return str(convert_to_openai_tool(schema)["function"]["name"])


def _as_json(reply: Any) -> str:
    if isinstance(reply, BaseModel):
        return reply.model_dump_json()
    if isinstance(reply, str):
        return reply
    return json.dumps(reply)


class ScriptedChatModel(BaseChatModel):
    """Answers each call with the next queued reply; raises `ScriptExhausted` when none is left."""

    replies: list[Any] = Field(default_factory=list)
    history: list[ScriptedCall] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def enqueue(self, *replies: Any) -> ScriptedChatModel:
        """Queue replies: pydantic model instances, dicts, JSON strings, or exceptions to raise."""
        self.replies.extend(replies)
        return self

    def assert_exhausted(self) -> None:
        assert not self.replies, f"{len(self.replies)} scripted replies were never asked for: {self.replies!r}"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        *,
        scripted_schema: Any = None,
        scripted_method: str | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.history.append(ScriptedCall(messages=list(messages), schema=scripted_schema, method=scripted_method))
        if not self.replies:
            raise ScriptExhausted(
                f"ScriptedChatModel was called (call {len(self.history)}) with no reply queued; enqueue one per call"
            )
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        content = _as_json(reply)
        if scripted_method == "function_calling" and scripted_schema is not None:
            call_id = f"call_{len(self.history)}"
            try:
                args = json.loads(content)
            except json.JSONDecodeError as error:
                message = AIMessage(
                    content="",
                    invalid_tool_calls=[
                        {
                            "type": "invalid_tool_call",
                            "name": _schema_name(scripted_schema),
                            "args": content,
                            "id": call_id,
                            "error": str(error),
                        }
                    ],
                )
            else:
                message = AIMessage(
                    content="",
                    tool_calls=[
                        {"type": "tool_call", "name": _schema_name(scripted_schema), "args": args, "id": call_id}
                    ],
                )
        else:
            message = AIMessage(content=content)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(
        self, schema: Any, *, include_raw: bool = False, method: str = "json_schema", **kwargs: Any
    ) -> Runnable[Any, Any]:
        bound = self.bind(scripted_schema=schema, scripted_method=method)

        def parse(message: AIMessage) -> Any:
            return _parse(message, schema, method)

        if not include_raw:
            return bound | RunnableLambda(parse)

        def parse_with_raw(message: AIMessage) -> dict[str, Any]:
            try:
                return {"raw": message, "parsed": parse(message), "parsing_error": None}
            except Exception as error:  # noqa: BLE001 - include_raw reports the error instead of raising it
                return {"raw": message, "parsed": None, "parsing_error": error}

        return bound | RunnableLambda(parse_with_raw)


def _parse(message: AIMessage, schema: Any, method: str) -> Any:
    if method == "function_calling":
        if message.invalid_tool_calls:
            bad = message.invalid_tool_calls[0]
            raise OutputParserException(f"invalid tool call {bad['name']!r}: {bad['error']}", llm_output=bad["args"])
        if not message.tool_calls:
            raise OutputParserException("the reply has no tool call", llm_output=str(message.content))
        data: Any = message.tool_calls[0]["args"]
    else:
        try:
            data = json.loads(str(message.content))
        except json.JSONDecodeError as error:
            raise OutputParserException(f"invalid JSON: {error}", llm_output=str(message.content)) from error
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_validate(data)
    return data
