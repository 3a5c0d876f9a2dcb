"""Small display formatting shared by widgets and screens."""

from __future__ import annotations

from datetime import datetime


def local_time(iso: str | None, default: str = "–") -> str:
    """A stored ISO timestamp (UTC) as local 'YYYY-MM-DD HH:MM'; unparseable text is shown cut short."""
    if not iso:
        return default
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:16]
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")
