"""The production graph: showrunner → screenwriter → cinematographer → render → critic → post (→ review, when a
person approves each segment), per episode.

Wiring only. Nodes are functions `node(state, runtime)` that get the show, tools, writer and station from the
runtime context; routers are pure functions of the state. One LangGraph thread per episode; state holds file
paths, never media.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langgraph.graph import END, START, StateGraph

from studio.agents.cinematographer import cinematographer
from studio.agents.critic import critic, route_after_critic
from studio.agents.screenwriter import screenwriter
from studio.agents.showrunner import showrunner
from studio.post import post, review, route_after_post, wrap
from studio.render import render
from studio.state import EpisodeState, StudioContext

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["EpisodeState", "StudioContext", "build_graph"]


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder = StateGraph(EpisodeState, context_schema=StudioContext)
    builder.add_node("showrunner", showrunner)
    builder.add_node("screenwriter", screenwriter)
    builder.add_node("cinematographer", cinematographer)
    builder.add_node("render", render)
    builder.add_node("critic", critic)
    builder.add_node("post", post)
    builder.add_node("review", review)
    builder.add_node("wrap", wrap)
    builder.add_edge(START, "showrunner")
    builder.add_edge("showrunner", "screenwriter")
    builder.add_edge("screenwriter", "cinematographer")
    builder.add_edge("cinematographer", "render")
    builder.add_edge("render", "critic")
    builder.add_conditional_edges("critic", route_after_critic, ["cinematographer", "post"])
    builder.add_conditional_edges("post", route_after_post, ["review", "screenwriter", "wrap"])
    builder.add_conditional_edges("review", route_after_post, ["screenwriter", "wrap"])
    builder.add_edge("wrap", END)
    return builder.compile(checkpointer=checkpointer)
