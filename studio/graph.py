"""The production graphs: the showrunner plans an episode in one; each segment is made in its own.

    episode graph:  showrunner
    segment graph:  screenwriter → cinematographer → render → critic (↺ cinematographer with a repair) → post
                    (→ review, when a person approves each segment)

Wiring only. Nodes are functions `node(state, runtime)` that get the show, tools, writer, station and render stage
from the runtime context; routers are pure functions of the state. Each graph runs as its own LangGraph thread
(`<show>-seed<seed>-e0003` plans episode 3; `…-e0003-s02` makes its second segment), checkpointed after every
step; state holds plans and file paths, never media.

Why a graph per segment job and not one graph per episode: the segments of a planned episode depend only on the
plan, so production (`studio.production`) runs several segment threads at once, across episode boundaries, and
the render stage is fed from all of them; each thread resumes on its own after a crash, and one segment waiting
for a person (an interrupt) holds up nothing else. Production assembles the episode file once every segment
thread has finished (`studio.post.assemble_episode`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langgraph.graph import END, START, StateGraph

from studio.agents.cinematographer import cinematographer
from studio.agents.critic import critic, route_after_critic
from studio.agents.screenwriter import screenwriter
from studio.agents.showrunner import showrunner
from studio.post import post, review, route_after_post
from studio.render import render
from studio.state import EpisodeState, StudioContext

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["EpisodeState", "StudioContext", "build_episode_graph", "build_segment_graph"]


def build_episode_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The showrunner plans the episode (its segments, their lengths and the strategy for the buffer)."""
    builder = StateGraph(EpisodeState, context_schema=StudioContext)
    builder.add_node("showrunner", showrunner)
    builder.add_edge(START, "showrunner")
    builder.add_edge("showrunner", END)
    return builder.compile(checkpointer=checkpointer)


def build_segment_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """One segment of a planned episode, from its script to its approval."""
    builder = StateGraph(EpisodeState, context_schema=StudioContext)
    builder.add_node("screenwriter", screenwriter)
    builder.add_node("cinematographer", cinematographer)
    builder.add_node("render", render)
    builder.add_node("critic", critic)
    builder.add_node("post", post)
    builder.add_node("review", review)
    builder.add_edge(START, "screenwriter")
    builder.add_edge("screenwriter", "cinematographer")
    builder.add_edge("cinematographer", "render")
    builder.add_edge("render", "critic")
    builder.add_conditional_edges("critic", route_after_critic, ["cinematographer", "post"])
    builder.add_conditional_edges("post", route_after_post, ["review", END])
    builder.add_edge("review", END)
    return builder.compile(checkpointer=checkpointer)
