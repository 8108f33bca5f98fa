"""Answering a person's commands: each once, with `CommandReceived` and then `CommandApplied` or `CommandRejected`.

The station's runtime calls `process()` as commands arrive (and at start, for those added while no station ran).
A steering note is read when it arrives (`NoteInterpreted`): trait changes are pinned in the memory at once, the
topic and direction wait for the showrunner's next plan, which acknowledges the note in its own checkpointed events.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio import events as ev

if TYPE_CHECKING:
    from studio.runtime import StationRuntime
    from studio.station import Command, Station

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    applied: bool
    text: str


class CommandProcessor:
    """The runtime's command answering, over its production, playout, memory and store."""

    def __init__(self, runtime: StationRuntime) -> None:
        self.runtime = runtime

    @property
    def station(self) -> Station:
        return self.runtime.station

    def process(self, *, backlog: bool = False) -> None:
        """Answer pending commands. At start (`backlog`), also those a previous station received but never
        answered (it stopped in between): they are applied now, once."""
        runtime = self.runtime
        statuses = ("pending", "received") if backlog else ("pending",)
        for command in self.station.commands(show=runtime.show_key, statuses=statuses):
            if command.status == "pending":
                runtime.record(
                    runtime.context.event(
                        ev.CommandReceived, command_id=command.id, kind=command.kind, args=command.args
                    )
                )
            try:
                outcome = self._steer(command) if command.kind == "steer" else self._apply(command)
            except Exception as error:  # noqa: BLE001
                log.exception("command %s failed", command.id)
                outcome = Outcome(False, f"could not be applied: {error}")
            if outcome is not None:
                self._answer(command, outcome)

    def _answer(self, command: Command, outcome: Outcome) -> None:
        runtime = self.runtime
        if outcome.applied:
            runtime.record(
                runtime.context.event(ev.CommandApplied, command_id=command.id, kind=command.kind, effect=outcome.text)
            )
        else:
            runtime.record(
                runtime.context.event(ev.CommandRejected, command_id=command.id, kind=command.kind, reason=outcome.text)
            )

    # --- steering notes -----------------------------------------------------------------------------------------

    def _steer(self, command: Command) -> Outcome | None:
        """Read the note; pin its trait changes now. None while its topic or direction waits for the showrunner."""
        runtime = self.runtime
        note = str(command.args.get("note", "")).strip()
        if not note:
            return Outcome(False, "an empty note: say what the showrunner should do")
        if any(
            isinstance(logged.event, ev.NoteInterpreted) and logged.event.command_id == command.id
            for logged in self.station.events(show=runtime.show_key, types=["NoteInterpreted"])
        ):
            return None  # read before a restart: the showrunner will take it
        memory = runtime.context.memory
        reading, backend = runtime.context.director.read_note(runtime.show, memory.canon(), note)
        changes = []
        for kind, name, trait in reading.traits:
            try:
                changes.append(memory.pin(kind, name, trait, command_id=command.id, by="a steering note"))
            except KeyError as error:
                reading.not_understood.append(str(error).strip("'\""))
        runtime.record(
            runtime.context.event(
                ev.NoteInterpreted,
                command_id=command.id,
                note=note,
                topic=reading.topic,
                direction=reading.direction,
                traits=tuple(ev.TraitChange(change.name, change.traits[-1]) for change in changes),
                not_understood=tuple(reading.not_understood),
                backend=backend,
            )  # fmt: skip
        )
        for change in changes:
            runtime.record(change)
        if reading.for_the_showrunner:
            return None  # the showrunner follows it in its next plan and acknowledges it there
        if not changes:
            return Outcome(False, "not understood: " + "; ".join(reading.not_understood or ["nothing to do"]))
        pinned = "; ".join(f"{change.name}: {change.traits[-1]}" for change in changes)
        unread = f" (not understood: {'; '.join(reading.not_understood)})" if reading.not_understood else ""
        return Outcome(True, f"pinned {pinned}, in every prompt from now on{unread}")

    def _held_item(self, show: str) -> str | None:
        """The segment a hold will repeat (the last item aired, a rerun included), as the show's playout queue
        decides it; the last new segment aired where no such queue is running."""
        from studio.channel_playout import ChannelQueue
        from studio.runtime import StationQueue

        queue = self.runtime.supervisor.queue
        if isinstance(queue, ChannelQueue):
            queue = next((each for each in queue.queues.values() if each.show == show), None)
        if isinstance(queue, StationQueue):
            held = queue.held_item()
            return held.segment_id if held is not None else None
        last = self.station.last_aired(show)
        return last.segment_id if last is not None else None

    # --- everything else ------------------------------------------------------------------------------------------

    def _apply(self, command: Command) -> Outcome | None:
        runtime = self.runtime
        station = self.station
        show = runtime.show_key
        by = f"by a person (command {command.id})"
        match command.kind:
            case "pause":
                if runtime.production.paused.is_set():
                    return Outcome(False, "production is already paused")
                runtime.production.paused.set()
                buffered = station.buffered_seconds(show)
                return Outcome(True, f"production pauses after the step in progress; {buffered:.0f} s stay queued")
            case "resume":
                if not runtime.production.paused.is_set():
                    return Outcome(False, "production is not paused")
                runtime.production.paused.clear()
                return Outcome(True, "production goes on")
            case "hold":
                if station.flag(show, "hold"):
                    return Outcome(False, "playout is already on hold")
                airing = runtime.supervisor.airing_segment
                if airing is not None:
                    return Outcome(True, f"the segment on air ({airing}) repeats until `studio release`")
                last = self._held_item(show)
                if last is not None:
                    return Outcome(True, f"no segment is on air now; {last}, the last one aired, airs again"
                                   " next and repeats until `studio release`")  # fmt: skip
                return Outcome(True, "the first segment to air repeats until `studio release`")
            case "release":
                if not station.flag(show, "hold"):
                    return Outcome(False, "playout is not on hold")
                return Outcome(True, "playout moves on to the next segment after this one")
            case "skip":
                cut = runtime.supervisor.skip(reason=f"skipped {by}", command_id=command.id)
                if cut is None:
                    return Outcome(
                        False,
                        "no segment is being aired (the ident is on air, or the segment had all gone out)"
                        " — nothing to skip",
                    )
                return Outcome(True, f"cut {cut}; the next item airs now")
            case "reject" | "drop" | "approve":
                return self._segment_command(command)
            case "reprompt":
                return self._reprompt(command)
            case "approval":
                mode = str(command.args.get("mode", ""))
                if mode not in ("manual", "auto"):
                    return Outcome(False, f"approval mode {mode!r}: say manual or auto")
                manual = mode == "manual"
                if station.flag(show, "manual_approval") == manual:
                    return Outcome(False, f"approval is already {mode}")
                runtime.record(runtime.context.event(ev.ApprovalModeChanged, manual=manual, command_id=command.id))
                if manual:
                    return Outcome(True, "every segment made from now on waits for a person (approve or reject it)")
                waiting = station.awaiting_review(show)
                for segment_id in waiting:  # nobody is going to answer them now: the critic's approval stands
                    runtime.production.review_decided(segment_id, approved=True, command_id=command.id, answer=False)
                return Outcome(True, "segments the critic passes air without waiting" + (
                    f"; {len(waiting)} waiting segment(s) approved" if waiting else ""))  # fmt: skip
            case "pin" | "forget" | "search" | "rebuild":
                return self._memory_command(command)
        return Outcome(False, f"unknown command {command.kind!r}")

    def _reprompt(self, command: Command) -> Outcome | None:
        """Check a re-prompt and hand it to production, which answers it once the segment is made again."""
        from studio.remake import RemakeRequest, reprompt_problem

        args = command.args
        request = RemakeRequest(
            command.id, str(args.get("segment_id", "")), str(args.get("shot_id", "")), str(args.get("prompt", ""))
        )
        problem = reprompt_problem(self.runtime.context, request.segment_id, request.shot_id, request.prompt)
        if problem:
            return Outcome(False, problem)
        if not self.runtime.production.request_remake(request):
            return Outcome(False, "production has finished the episodes it was asked for: nothing more is made")
        return None

    def _segment_command(self, command: Command) -> Outcome | None:
        segment_id = str(command.args.get("segment_id", ""))
        entry = self.station.segment(segment_id)
        if entry is None or entry.show != self.runtime.show_key:
            return Outcome(False, f"no segment {segment_id!r} in this station's rundown (see `studio log`)")
        where = {"episode": entry.episode, "segment": entry.segment_index}
        reason = str(command.args.get("reason") or f"by a person (command {command.id})")
        if command.kind in ("approve", "reject") and segment_id in self.station.awaiting_review(self.runtime.show_key):
            # The episode's review node takes the decision and answers the command in its checkpointed events.
            self.runtime.production.review_decided(
                segment_id, approved=command.kind == "approve", command_id=command.id, reason=reason
            )
            return None
        if command.kind == "approve" and entry.status == "held":
            # A person overrides the on-air safety gate: the segment is approved as made and airs in turn.
            recipe = self.station.recipe(segment_id)
            self.runtime.record(
                self.runtime.context.event(
                    ev.SegmentApproved,
                    **where,
                    backend=f"a person (command {command.id})",
                    segment_id=segment_id,
                    path=str(entry.path),
                    seconds=entry.seconds,
                    shots=len(recipe.get("shots", [])),
                    recipe=recipe,
                    safety_gate={"checked": True, "passed": False, "overridden_by_command": command.id},
                )  # fmt: skip
            )
            return Outcome(True, f"{segment_id} approved by a person over the safety gate: it airs in turn")
        if command.kind == "approve":
            if entry.status not in ("rejected", "removed"):
                return Outcome(
                    False, f"{segment_id} is {entry.status}; only a segment waiting for review, or a rejected or"
                    " removed one, can be approved",
                )  # fmt: skip
            self.runtime.record(
                self.runtime.context.event(ev.SegmentReinstated, **where, segment_id=segment_id, command_id=command.id)
            )
            return Outcome(True, f"{segment_id} is back in the queue")
        if entry.status not in ("planned", "approved", "on_air", "held"):
            return Outcome(False, f"{segment_id} is {entry.status} already and will not air")
        if command.kind == "drop":
            if entry.status == "on_air":
                return Outcome(False, f"{segment_id} is on air: use `studio skip` (or `studio reject`)")
            self.runtime.record(
                self.runtime.context.event(
                    ev.SegmentRemoved, **where, segment_id=segment_id, reason=reason, command_id=command.id
                )
            )
            return Outcome(True, f"{segment_id} is out of the queue")
        self.runtime.record(
            self.runtime.context.event(
                ev.SegmentRejected, **where, segment_id=segment_id, reason=reason, command_id=command.id
            )
        )
        if entry.status == "on_air":
            self.runtime.supervisor.skip(reason=f"rejected {reason}", command_id=command.id)
            return Outcome(True, f"{segment_id} rejected and cut from air")
        return Outcome(True, f"{segment_id} rejected: it will not air")

    def _memory_command(self, command: Command) -> Outcome:
        runtime = self.runtime
        memory = runtime.context.memory
        args = command.args
        if command.kind == "pin":
            try:
                change = memory.pin(str(args.get("kind", "character")), str(args.get("name", "")), str(args.get("trait", "")),
                                    command_id=command.id)  # fmt: skip
            except KeyError as error:
                return Outcome(False, str(error).strip("'\""))
            runtime.record(change)
            return Outcome(True, f"{change.name} now: {change.description!r}")
        if command.kind == "forget":
            what = str(args.get("what", ""))
            if what == "lesson":
                word = str(args.get("word", "")).casefold()
                if word not in memory.lessons():
                    return Outcome(False, f"no lesson {word!r} (lessons: {', '.join(memory.lessons()) or 'none'})")
                runtime.record(
                    runtime.context.event(ev.MemoryForgotten, kind="lesson", key=word, command_id=command.id)
                )
                return Outcome(True, f"forgot the lesson {word!r}: the word may reach prompts again")
            try:
                change = memory.unpin(str(args.get("kind", "character")), str(args.get("name", "")),
                                      args.get("trait"), command_id=command.id)  # fmt: skip
            except KeyError as error:
                return Outcome(False, str(error).strip("'\""))
            runtime.record(change)
            return Outcome(True, f"{change.name} now: {change.description!r}")
        if command.kind == "search":
            if memory.index is None:
                return Outcome(False, "this station runs without a memory index")
            query = str(args.get("query", ""))
            matches = memory.search(query, k=int(args.get("k", 10)))
            runtime.record(
                runtime.context.event(ev.MemorySearched, query=query, matches=tuple(matches), command_id=command.id)
            )
            return Outcome(True, f"{len(matches)} match(es) for {query!r}")
        if memory.index is None:
            return Outcome(False, "this station runs without a memory index")
        rebuilt = memory.rebuild()
        runtime.record(rebuilt)
        return Outcome(True, f"rebuilt the memory index: {rebuilt.entries} entries")
