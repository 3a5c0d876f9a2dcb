"""A thread as a document: Markdown for people, JSON (with each turn's events) for programs.

Both read only the session record (sessions.py), so `assistant sessions export NAME` and the chat
UI's palette produce the same file. A turn's events are the ones the agent kept with it
(`TurnRecord.events`: routing, recall with its budget, tool calls, artifacts; tokens left out) and
a closing `Finished` rebuilt from the record.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Literal

from assistant.sessions import Session

Format = Literal["md", "json"]
EXPORT_VERSION = 1


def session_markdown(session: Session) -> str:
    """The thread as Markdown: a heading per turn, the request quoted, the reply as written, and
    the artifacts it made listed with their files."""
    lines = [f"# {session.name}", "", f"_{len(session.turns)} turns · started {session.created_at[:16]} · "
             f"updated {session.updated_at[:16]}_", ""]
    for number, turn in enumerate(session.turns, 1):
        lines += [f"## {number}. {turn.route} · {turn.created_at[:16]}", ""]
        lines += ["> " + line if line else ">" for line in turn.request.splitlines()] + [""]
        lines += [turn.reply.rstrip(), ""]
        made = [e["artifact"] for e in turn.events if e.get("event") == "ArtifactSaved"]
        if made:
            lines += [f"- {a['kind']} “{a['title']}” v{a['version']}" + (f": `{a['path']}`" if a.get("path") else "")
                      for a in made] + [""]
    if session.artifacts:
        lines += ["## Artifacts", ""]
        for a in session.artifacts:
            lines.append(f"- **{a.title}** ({a.kind} v{a.version}, {a.route})" + (f": `{a.path}`" if a.path else ""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def session_json(session: Session) -> dict[str, Any]:
    """The thread as one JSON object: the session's fields, its artifacts, and per turn its events."""
    turns = []
    for turn in session.turns:
        finished = {"event": "Finished", "text": turn.reply, "route": turn.route}
        turns.append({"request": turn.request, "reply": turn.reply, "route": turn.route,
                      "created_at": turn.created_at, "memory_id": turn.memory_id,
                      "events": [*turn.events, finished]})
    return {
        "version": EXPORT_VERSION, "name": session.name, "user": session.user,
        "created_at": session.created_at, "updated_at": session.updated_at,
        "current_route": session.current_route, "turns": turns,
        "artifacts": [asdict(a) for a in session.artifacts],
    }


def export_session(session: Session, fmt: Format = "md") -> str:
    """The thread rendered in `fmt` ("md" or "json") as text."""
    if fmt == "json":
        return json.dumps(session_json(session), ensure_ascii=False, indent=2) + "\n"
    return session_markdown(session)
