"""The chat screen's thread management, apart from the turn loop in chat.py: queued messages,
messages focused in the transcript (copy, copy code, fork there), rename, delete and export.

`ThreadScreen` is ChatScreen's base class; it relies on ChatScreen for the transcript, the message
box, the session's name and switching sessions. The work on disk runs in thread workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.screen import Screen

from assistant.tui.backend import failure
from assistant.tui.safe import one_line
from assistant.tui.widgets.prompt import PromptInput
from assistant.tui.widgets.transcript import MessageAction, PendingMessage, last_code_block

if TYPE_CHECKING:
    from assistant.sessions import Session
    from assistant.tui.app import ThroughlineApp


def new_session_name() -> str:
    from datetime import datetime

    return datetime.now().strftime("%Y-%m-%d %H.%M.%S")


class ThreadScreen(Screen):
    app: ThroughlineApp
    session_name: str | None
    last_export: Path | None = None

    @property
    def pending(self) -> list[PendingMessage]:
        """Messages queued behind the reply in progress, oldest first."""
        return list(self.transcript.query(PendingMessage))  # type: ignore[attr-defined]

    # -- queued messages ------------------------------------------------------------------------
    @on(PromptInput.EditLast)
    async def _edit_last_pending(self, event: PromptInput.EditLast) -> None:
        queued = self.pending
        if queued:
            await self.edit_pending(queued[-1])

    async def edit_pending(self, message: PendingMessage) -> None:
        """Take a queued message back into the message box (it leaves the queue until sent again)."""
        text = message.text
        await message.remove()
        self.prompt.load_text(text)
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()

    # -- messages in the transcript: focus, copy, fork -------------------------------------------
    def action_focus_message(self, step: int) -> None:
        messages = [w for w in self.transcript.query(".message") if w.display]
        if not messages:
            return
        focused = self.focused
        index = messages.index(focused) if focused in messages else len(messages) if step < 0 else -1
        target = index + step
        if 0 <= target < len(messages):
            messages[target].focus()
            messages[target].scroll_visible(animate=False)
        else:
            self.prompt.focus()

    @on(MessageAction)
    async def _message_action(self, event: MessageAction) -> None:
        widget = event.widget
        if event.action == "edit" and isinstance(widget, PendingMessage):
            await self.edit_pending(widget)
        elif event.action == "drop" and isinstance(widget, PendingMessage):
            await widget.remove()
            self.prompt.focus()
            self.notify("Queued message dropped.", timeout=2)
        elif event.action == "copy":
            self.app.copy_to_clipboard(event.text)
            self.notify("Message copied to the clipboard.", timeout=2)
        elif event.action == "copy_code":
            code = last_code_block(event.text)
            if code is None:
                self.notify("This message has no code block.", severity="warning", timeout=3)
            else:
                self.app.copy_to_clipboard(code)
                self.notify("Code block copied to the clipboard.", timeout=2)
        elif event.action == "fork":
            self.fork_at(widget)
        elif event.action == "back":
            self.prompt.focus()

    def fork_at(self, widget: Any) -> None:
        """Fork the thread at the turn `widget` belongs to, then open the fork."""
        turn = self.transcript.turn_index(widget)
        if turn is None or self.session_name is None:
            self.notify("Only a finished turn can be forked from.", severity="warning", timeout=3)
            return
        if self.replying:
            self.notify("Wait for the reply to end (or Esc) before forking.", severity="warning", timeout=3)
            return
        self.fork_session(self.session_name, turn)

    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def fork_session(self, name: str, turn: int) -> None:
        from assistant.session_admin import fork, free_name

        try:
            store = self.app.backend.get().sessions
            forked = fork(store, name, turn, free_name(store, f"{name} fork"))
        except Exception as exc:  # the edge: say why, stay on this thread
            self.app.call_from_thread(self.app.show_error, failure(exc))
            return
        self.app.call_from_thread(self.notify, f"Forked at turn {turn + 1} as “{forked.name}”.", timeout=3)
        self.app.call_from_thread(self.switch_session, forked.name)

    def action_fork_last(self) -> None:
        turns = self.transcript.query(".-turn")
        if not turns:
            self.notify("No finished turn to fork from yet.", severity="warning", timeout=3)
            return
        self.fork_at(turns.last())

    # -- rename and delete ------------------------------------------------------------------------
    def action_rename_session(self, name: str | None = None, then: Any = None) -> None:
        from assistant.tui.screens.text_prompt import TextPromptScreen

        old = name or self.session_name
        if old is None:
            return

        def chosen(new: str | None) -> None:
            if new and new != old:
                self.rename_session(old, new, then)

        self.app.push_screen(TextPromptScreen(f"Rename “{one_line(old, 40)}”", old), chosen)

    @work(thread=True, exit_on_error=False)
    def rename_session(self, old: str, new: str, then: Any = None) -> None:
        from assistant.session_admin import rename

        try:
            rename(self.app.backend.get().sessions, old, new)
        except Exception as exc:  # the edge: say why (a taken name, a read-only dir)
            self.app.call_from_thread(self.app.show_error, failure(exc))
            return
        self.app.call_from_thread(self._renamed, old, new)
        if then is not None:
            self.app.call_from_thread(then)

    def _renamed(self, old: str, new: str) -> None:
        if self.session_name == old:
            self.session_name = new
            self.app.sub_title = new
        self.notify(f"Renamed to “{new}”.", timeout=2, markup=False)

    def action_delete_session(self, name: str | None = None, turns: int | None = None, then: Any = None) -> None:
        from assistant.tui.screens.confirm import DeleteSessionScreen

        target = name or self.session_name
        if target is None:
            return
        count = turns if turns is not None else len(self.transcript.query(".-turn"))

        def answered(choice: str | None) -> None:
            if choice is not None:
                self.delete_session(target, choice == "forget", then)

        self.app.push_screen(DeleteSessionScreen(target, count), answered)

    @work(thread=True, exit_on_error=False)
    def delete_session(self, name: str, forget: bool, then: Any = None) -> None:
        from assistant.session_admin import delete

        try:
            bot = self.app.backend.get()
            if self.session_name == name:
                self.app.call_from_thread(self._leave_deleted)
            forgotten = delete(bot.sessions, name, memories=bot.store if forget else None)
        except Exception as exc:  # the edge: say why
            self.app.call_from_thread(self.app.show_error, failure(exc))
            return
        note = f"Deleted “{name}”" + (f" and forgot {forgotten} memories." if forget else "; its memories stay.")
        self.app.call_from_thread(self.notify, note, timeout=4, markup=False)
        if then is not None:
            self.app.call_from_thread(then)

    async def _leave_deleted(self) -> None:
        await self.switch_session(new_session_name())

    # -- export ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def action_export(self, fmt: str = "md") -> None:
        """Write the thread as Markdown or JSON into <data dir>/exports/ and say where."""
        from assistant.exporting import export_session
        from assistant.sessions import disk_name

        name = self.session_name
        if name is None:
            return
        try:
            session = self.app.backend.get().sessions.load(name)
            folder = self.app.settings.data_dir / "exports"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{disk_name(name)}.{fmt}"
            path.write_text(export_session(session, "json" if fmt == "json" else "md"), encoding="utf-8")
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"Export failed: {exc.strerror or exc}", severity="error")
            return
        except Exception as exc:  # the edge: the session could not be read
            self.app.call_from_thread(self.app.show_error, failure(exc))
            return
        self.last_export = path
        self.app.call_from_thread(self.notify, f"Exported {len(session.turns)} turns to {path}", timeout=6, markup=False)


def last_budget(session: Session) -> Any:
    """The prompt budget of the session's last turn, from the Recalled event kept with it."""
    from assistant.events import ContextBudget

    for turn in reversed(session.turns):
        for record in turn.events:
            if record.get("event") == "Recalled" and record.get("budget"):
                data = dict(record["budget"])
                data["items"] = tuple(tuple(item) for item in data.get("items", ()))
                try:
                    return ContextBudget(**data)
                except TypeError:  # a record from another version: no meter rather than a crash
                    return None
        return None
    return None
