"""Session summaries: one `summary` memory per session, so a later thread can find what an
earlier one was about ("what did we do about the Q3 report?") even when no single turn says it.

Built from the session record, not by the model: writes stay cheap and deterministic, and the
summary never invents anything. It is rewritten in place (a fixed id per user and session) each
time the session has grown by `SUMMARY_EVERY` turns and when the Assistant closes.
"""

from __future__ import annotations

import hashlib

from assistant.sessions import Session

SUMMARY_EVERY = 4          # new turns that make a summary due
MIN_TURNS = 2              # a one-turn session is its own summary
MAX_REQUESTS = 8           # the most recent requests listed
REQUEST_CHARS = 120
FINDINGS_CHARS = 400
SUMMARY_CHARS = 2000


def summary_id(user: str, session: str) -> str:
    return hashlib.sha1(f"{user}\0{session}\0summary".encode()).hexdigest()[:24]


def new_turns(session: Session) -> int:
    """Turns after the last one the summary covers (by memory id: the list itself is capped)."""
    ids = [turn.memory_id for turn in session.turns]
    if session.summarized_through in ids:
        return len(ids) - 1 - ids.index(session.summarized_through)
    return len(ids)


def summary_due(session: Session, *, closing: bool = False) -> bool:
    if len(session.turns) < MIN_TURNS:
        return False
    fresh = new_turns(session)
    return fresh >= 1 if closing else fresh >= SUMMARY_EVERY


def summarize(session: Session) -> str:
    """A few lines: when, which chains, what was asked, what was made, what the data said."""
    turns = session.turns
    routes = list(dict.fromkeys(turn.route for turn in turns))
    first, last = turns[0].created_at[:10], turns[-1].created_at[:10]
    span = first if first == last else f"{first} to {last}"
    lines = [f"Session '{session.name}' ({span}, {len(turns)} turns; {', '.join(routes)})."]
    asked = [_clip(turn.request, REQUEST_CHARS) for turn in turns[-MAX_REQUESTS:]]
    lines.append("Asked: " + "; ".join(asked))
    latest: dict[tuple[str, str], int] = {}
    for artifact in session.artifacts:
        latest[(artifact.kind, artifact.title)] = max(artifact.version, latest.get((artifact.kind, artifact.title), 0))
    if latest:
        lines.append("Made: " + "; ".join(f"{kind} '{title}' v{version}" for (kind, title), version in latest.items()))
    findings = session.latest_artifact(kind="analysis")
    if findings is not None and findings.content.strip():
        lines.append("Findings: " + _clip(findings.content, FINDINGS_CHARS))
    return "\n".join(lines)[:SUMMARY_CHARS]


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
