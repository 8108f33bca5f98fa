"""Two writers behind one contract: an OpenAI-compatible chat model, or the offline director.

`LLMDirector` asks the chat model for the same structured outputs the offline director writes. When a call fails
(endpoint down, invalid output) the decision is written by the offline director instead, and the returned backend
label says so, so the log always tells who wrote what.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel

from studio.agents import prompts
from studio.agents.offline import OfflineDirector

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from langchain_core.language_models import BaseChatModel

    from studio.canon import Canon
    from studio.config import Settings
    from studio.plan import EpisodePlan, SegmentOutline, SegmentScript, ShotList
    from studio.show import Show
    from studio.steering import NoteReading

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


class Director(Protocol):
    """What the agents call. Each method returns (output, backend label)."""

    backend: str

    def plan_episode(
        self,
        show: Show,
        number: int,
        *,
        seed: int,
        recent_topics: list[str],
        steering: list[str],
        avoid_premises: Sequence[str] = (),
    ) -> tuple[EpisodePlan, str]:
        """`avoid_premises`: premises already planned that this plan must not repeat (the memory found them too
        close)."""
        ...

    def write_segment(
        self, show: Show, episode: EpisodePlan, outline: SegmentOutline, *, seed: int, previously: Sequence[str] = ()
    ) -> tuple[SegmentScript, str]:
        """`previously`: what the segment's characters did in earlier episodes, newest first (continuity)."""
        ...

    def design_shots(
        self, show: Show, script: SegmentScript, *, seed: int, segment_index: int, avoid: list[str]
    ) -> tuple[ShotList, str]: ...

    def read_note(self, show: Show, canon: Canon, note: str) -> tuple[NoteReading, str]:
        """What a producer's note asks for: a topic, direction, trait changes, and what was not understood."""
        ...


class OfflineBackedDirector:
    """The offline director behind the `Director` contract."""

    def __init__(self) -> None:
        self.offline = OfflineDirector()
        self.backend = self.offline.backend

    def plan_episode(
        self,
        show: Show,
        number: int,
        *,
        seed: int,
        recent_topics: list[str],
        steering: list[str],
        avoid_premises: Sequence[str] = (),
    ) -> tuple[EpisodePlan, str]:
        # The offline director avoids repeats by topic: `recent_topics` already holds the ones to avoid.
        plan = self.offline.plan_episode(show, number, seed=seed, recent_topics=recent_topics, steering=steering)
        return plan, self.backend

    def write_segment(
        self, show: Show, episode: EpisodePlan, outline: SegmentOutline, *, seed: int, previously: Sequence[str] = ()
    ) -> tuple[SegmentScript, str]:
        return self.offline.write_segment(show, episode, outline, seed=seed), self.backend

    def design_shots(
        self, show: Show, script: SegmentScript, *, seed: int, segment_index: int, avoid: list[str]
    ) -> tuple[ShotList, str]:
        return self.offline.design_shots(show, script, seed=seed, segment_index=segment_index), self.backend

    def read_note(self, show: Show, canon: Canon, note: str) -> tuple[NoteReading, str]:
        from studio.steering import read_note

        return read_note(note, canon), "steering grammar"


class LLMDirector(OfflineBackedDirector):
    """Structured outputs from a LangChain chat model (ChatOpenAI in production, a scripted fake in tests)."""

    def __init__(self, chat_model: BaseChatModel, *, label: str, method: str = "json_schema") -> None:
        super().__init__()
        self.chat_model = chat_model
        self.method = method
        self.backend = label

    def _ask(self, schema: type[T], system: str, user: str, fallback: Callable[[], T]) -> tuple[T, str]:
        try:
            runnable = self.chat_model.with_structured_output(schema, method=self.method)
            result = runnable.invoke([("system", system), ("human", user)])
            if isinstance(result, dict):
                result = schema.model_validate(result)
            if not isinstance(result, schema):
                raise TypeError(f"expected {schema.__name__}, got {type(result).__name__}")
            return result, self.backend
        except Exception as error:  # noqa: BLE001 - any endpoint failure degrades to the offline director
            reason = f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"  # one line, as the log prints it
            log.warning("%s failed (%s); the offline director writes this %s", self.backend, reason, schema.__name__)
            return fallback(), f"{self.offline.backend} (fallback from {self.backend}: {reason})"

    def read_note(self, show: Show, canon: Canon, note: str) -> tuple[NoteReading, str]:
        """The model reads the note; names it gives that the show does not have are reported, not applied."""
        from studio.plan import NoteRequests
        from studio.steering import NoteReading, read_note

        names = {kind: canon.names(kind) for kind in ("character", "place", "prop")}
        requests, backend = self._ask(
            NoteRequests, prompts.NOTE_READER_SYSTEM, prompts.note_reader_user(show, names, note), lambda: None
        )
        if requests is None:  # the model failed: the grammar reads it, and the label says so
            return read_note(note, canon), backend.replace(self.offline.backend, "steering grammar", 1)
        reading = NoteReading(topic=requests.topic.strip(), direction=requests.direction.strip(),
                              not_understood=list(requests.not_understood))  # fmt: skip
        for change in requests.traits:
            found = next(
                ((kind, name) for kind in ("character", "prop", "place") if (name := canon.resolve(kind, change.name))),
                None,
            )
            if found is None:
                reading.not_understood.append(f"{change.name!r} is not in the show ({', '.join(names['character'])})")
            else:
                reading.traits.append((found[0], found[1], change.trait.strip()))  # type: ignore[arg-type]
        return reading, backend

    def plan_episode(
        self,
        show: Show,
        number: int,
        *,
        seed: int,
        recent_topics: list[str],
        steering: list[str],
        avoid_premises: Sequence[str] = (),
    ) -> tuple[EpisodePlan, str]:
        from studio.plan import EpisodePlan

        format_names = [show.formats[i % len(show.formats)].name for i in range(show.channel.episode_segments)]
        notes = [*steering, *(f"this premise has aired already, plan a different one: {p}" for p in avoid_premises)]
        plan, backend = self._ask(
            EpisodePlan,
            prompts.SHOWRUNNER_SYSTEM,
            prompts.showrunner_user(show, number, format_names, recent_topics, notes),
            lambda: self.offline.plan_episode(show, number, seed=seed, recent_topics=recent_topics, steering=steering),
        )
        return plan.model_copy(update={"number": number}), backend

    def write_segment(
        self, show: Show, episode: EpisodePlan, outline: SegmentOutline, *, seed: int, previously: Sequence[str] = ()
    ) -> tuple[SegmentScript, str]:
        from studio.plan import SegmentScript

        fmt = next(f for f in show.formats if f.name == outline.format)
        return self._ask(
            SegmentScript,
            prompts.SCREENWRITER_SYSTEM,
            prompts.screenwriter_user(show, episode, outline, fmt.seconds)
            + (
                "\nPreviously on the show (keep continuity with it):\n"
                + prompts.data_block("previously", list(previously))
                if previously
                else ""
            ),
            lambda: self.offline.write_segment(show, episode, outline, seed=seed),
        )

    def design_shots(
        self, show: Show, script: SegmentScript, *, seed: int, segment_index: int, avoid: list[str]
    ) -> tuple[ShotList, str]:
        from studio.plan import ShotList

        return self._ask(
            ShotList,
            prompts.CINEMATOGRAPHER_SYSTEM,
            prompts.cinematographer_user(show, script, avoid),
            lambda: self.offline.design_shots(show, script, seed=seed, segment_index=segment_index),
        )


def llm_configured(settings: Settings) -> bool:
    return bool(settings.openai_api_key or settings.openai_base_url)


def make_director(settings: Settings) -> Director:
    """ChatOpenAI when an endpoint is configured (OPENAI_API_KEY and/or OPENAI_BASE_URL), else the offline director."""
    if not llm_configured(settings):
        return OfflineBackedDirector()
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model=settings.llm_model,
        api_key=settings.openai_api_key or "not-needed",  # local servers (Ollama, llama.cpp) accept any key
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=1,
        temperature=0.8,
    )
    from studio.secrets import mask_url

    where = mask_url(settings.openai_base_url) if settings.openai_base_url else "api.openai.com"
    return LLMDirector(
        chat, label=f"openai-compatible:{settings.llm_model}@{where}", method=settings.llm_structured_method
    )


def make_vision_model(settings: Settings) -> BaseChatModel | None:
    """The multimodal chat model `STUDIO_VISION_MODEL` names (the safety gate asks it whether a segment fits the
    show's tone; the critic's vision check is built the same way, `studio.vision.make_vision_model`), or None when
    none is named or no endpoint is configured."""
    from studio.vision import make_vision_model as build
    from studio.vision import vision_configured

    return build(settings) if vision_configured(settings) else None
