"""Working memory: one session's recent turns and artifacts, kept in process and on disk.

Long-term memory (Chroma) answers "what is relevant?"; working memory answers "what is this thread
doing right now?" — the current route for follow-ups, and the artifacts a later chain must see even
when similarity search would not surface them. Each session is one JSON file written atomically
(temp file + fsync + rename) so a crash never leaves a half-written session; artifact bodies live
as files in the session's workspace, where tools and the person can open them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from assistant.errors import DataDirError
from assistant.events import Artifact

log = logging.getLogger(__name__)
MAX_TURNS_KEPT = 40
_EXTENSIONS = {"code": ".py", "draft": ".md", "output": ".txt", "analysis": ".md", "table": ".csv", "note": ".md"}


def slug(name: str, width: int = 40) -> str:
    """A readable, filesystem-safe rendering of a name (lossy: for reading, never for identity)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip())[:width].strip("._-")


def disk_name(name: str) -> str:
    """A user's or session's file/dir name: readable slug + a hash of the exact name, so
    "bob smith" and "bob_smith", two all-Cyrillic names or two long names sharing 64 characters
    never share a file."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug(name) or 'n'}-{digest}"


def legacy_name(name: str) -> str:
    """The lossy name earlier versions used on disk; read once to migrate."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip())[:64].strip("._")
    return cleaned or "default"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TurnRecord:
    request: str
    reply: str
    route: str
    memory_id: str | None = None
    created_at: str = field(default_factory=now_iso)
    events: list[dict] = field(default_factory=list)  # the turn's events as records (events.event_record), tokens left out


@dataclass
class Session:
    name: str
    user: str
    current_route: str | None = None
    turns: list[TurnRecord] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    summarized_through: str = ""  # memory id of the last turn the session summary covers

    def latest_artifact(self, kind: str | None = None, route: str | None = None) -> Artifact | None:
        for artifact in reversed(self.artifacts):
            if (kind is None or artifact.kind == kind) and (route is None or artifact.route == route):
                return artifact
        return None


def session_record(session: Session) -> dict:
    """`session` as the JSON-ready dict `asdict` would give, without its deep copy: a turn's events
    are JSON-ready dicts already (events.event_record), and `asdict` copied every field of every
    recalled memory of every kept turn again on each save (~40 ms a turn for a 10-turn thread)."""
    record = {f.name: getattr(session, f.name) for f in fields(session)}
    record["turns"] = [{f.name: getattr(turn, f.name) for f in fields(turn)} for turn in session.turns]
    record["artifacts"] = [asdict(artifact) for artifact in session.artifacts]
    return record


class SessionStore:
    """Sessions of one user under `<data_dir>/sessions/<user>/` and workspaces under `workspaces/`
    (each name on disk is `disk_name`: slug + hash; dirs from the lossy scheme are migrated)."""

    def __init__(self, data_dir: Path, user: str) -> None:
        self.root = Path(data_dir) / "sessions" / disk_name(user)
        self.workspaces = Path(data_dir) / "workspaces" / disk_name(user)
        self.user = user
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.workspaces.mkdir(parents=True, exist_ok=True)
            self._migrate(Path(data_dir))
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise DataDirError(
                    f"cannot create the data dir {data_dir}: {exc.strerror or exc}; pick another with --data-dir"
                ) from None
            # A read-only data dir: its memory can still be searched and exported; a turn that
            # must write its session fails then, with DataDirError.
            log.warning("the data dir %s is read-only (%s): sessions cannot be saved", data_dir, exc.strerror)

    def _path(self, name: str) -> Path:
        return self.root / f"{disk_name(name)}.json"

    def workspace(self, name: str) -> Path:
        path = self.workspaces / disk_name(name)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create the workspace {path}: {exc.strerror or exc}; check the data dir") from None
        return path

    def load(self, name: str) -> Session:
        return self._parse(name, self._read(name))

    def _parse(self, name: str, text: str | None) -> Session:
        """A stored record as a Session; a damaged one is set aside and the session starts afresh."""
        if text is None:
            return Session(name=name, user=self.user)
        try:
            data = json.loads(text)
            return Session(
                name=data["name"],
                user=data["user"],
                current_route=data.get("current_route"),
                turns=[TurnRecord(**t) for t in data.get("turns", [])],
                artifacts=[Artifact(**a) for a in data.get("artifacts", [])],
                created_at=data.get("created_at", now_iso()),
                updated_at=data.get("updated_at", now_iso()),
                summarized_through=data.get("summarized_through", ""),
            )
        except (ValueError, KeyError, TypeError):
            self._set_aside(name)
            return Session(name=name, user=self.user)

    def _migrate(self, data_dir: Path) -> None:
        """Move this user's sessions (and their workspaces) from the lossy names of earlier
        versions. Each file says whose and which session it is, so a dir two users shared is
        split by its files; a file another user wrote stays for that user's migration."""
        old_root = data_dir / "sessions" / legacy_name(self.user)
        old_spaces = data_dir / "workspaces" / legacy_name(self.user)
        if old_root == self.root or not old_root.is_dir():
            return
        for file in sorted(old_root.glob("*.json")):
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
                name = data["name"] if data["user"] == self.user else None
            except (ValueError, KeyError, TypeError):
                continue  # damaged: left where it is, for the person to inspect
            if not isinstance(name, str) or self._path(name).exists():
                continue
            old_space, new_space = old_spaces / file.stem, self.workspaces / disk_name(name)
            if old_space.is_dir() and not new_space.exists():
                os.replace(old_space, new_space)
                for artifact in data.get("artifacts", []):
                    if isinstance(artifact.get("path"), str) and artifact["path"].startswith(str(old_space) + os.sep):
                        artifact["path"] = str(new_space) + artifact["path"][len(str(old_space)):]
            _atomic_write(self._path(name), json.dumps(data, ensure_ascii=False, indent=1))
            file.unlink()
            log.info("migrated session %r of %r from %s", name, self.user, file)

    def save(self, session: Session) -> None:
        session.updated_at = now_iso()
        session.turns = session.turns[-MAX_TURNS_KEPT:]
        # No indent: json's C encoder only serves compact output; indented, a long thread took ~10 ms a save
        payload = json.dumps(session_record(session), ensure_ascii=False)
        self._write(session.name, payload)

    def list(self) -> list[Session]:
        sessions = [self._parse(name, text) for name, text in self._records()]
        return sorted(sessions, key=lambda s: s.updated_at, reverse=True)

    def exists(self, name: str) -> bool:
        return self._read(name) is not None

    def delete(self, name: str) -> bool:
        """Forget a session's record (its workspace files stay); False if there was none."""
        return self._remove(name)

    # -- where records live: one JSON file each, named `disk_name(name)`. A shared backend
    # (assistant.shared_sessions) overrides these so replicas see one another's threads.
    def _read(self, name: str) -> str | None:
        path = self._path(name)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def _write(self, name: str, payload: str) -> None:
        _atomic_write(self._path(name), payload)

    def _records(self) -> list[tuple[str, str]]:
        """Every session's own name and record, each file read once (a file name is a slug and a
        hash, so the name comes from inside)."""
        records = []
        for path in sorted(self.root.glob("*.json")):
            try:
                text = path.read_text(encoding="utf-8")
                name = json.loads(text)["name"]
            except (OSError, ValueError, KeyError, TypeError):
                self._set_aside_file(path)
                continue
            if isinstance(name, str) and self._path(name) == path:
                records.append((name, text))
        return records

    def _set_aside(self, name: str) -> None:
        self._set_aside_file(self._path(name))

    @staticmethod
    def _set_aside_file(path: Path) -> None:
        """Keep a damaged record for the person to inspect; the session starts afresh."""
        moved = path.with_suffix(f".corrupt-{uuid.uuid4().hex[:6]}")
        path.replace(moved)
        log.warning("session file %s is damaged; kept it as %s and started the session afresh", path, moved)

    def _remove(self, name: str) -> bool:
        path = self._path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise DataDirError(f"cannot remove {path}: {exc.strerror or exc}") from None
        return True

    def save_artifact(
        self, session: Session, *, kind: str, title: str, route: str, content: str, path: str | None = None
    ) -> Artifact:
        """Write the artifact body into the workspace and record it; drafts of the same title are versioned.
        With `path` (a file a chain already wrote, e.g. a chart's PNG) that file is recorded instead."""
        version = 1 + sum(1 for a in session.artifacts if a.kind == kind and a.title == title)
        artifact_id = uuid.uuid4().hex[:12]
        if path is None:
            directory = self.workspace(session.name) / "artifacts"
            directory.mkdir(parents=True, exist_ok=True)
            stem = slug(title) or kind
            path = str(directory / f"{stem}-v{version}-{artifact_id[:6]}{_EXTENSIONS.get(kind, '.txt')}")
            _atomic_write(Path(path), content)
        artifact = Artifact(
            id=artifact_id, kind=kind, title=title, route=route, path=str(path),
            content=content, created_at=now_iso(), version=version,
        )
        session.artifacts.append(artifact)
        return artifact


def _atomic_write(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise DataDirError(f"cannot write {path}: {exc.strerror or exc}; check the data dir's permissions") from None
