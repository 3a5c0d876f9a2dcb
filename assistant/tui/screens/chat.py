"""The main screen: the thread, the message box, the status line and the context panel.

The reply runs in an exclusive thread worker (`run_turn`) that only posts `TurnEvent` messages;
the handlers below render them. A cancelled turn's late events are ignored by turn number. The
approval callback the agent calls from the worker blocks on a modal answered in the UI.

A message sent while a reply runs is queued: shown as pending in the transcript (↑ in the empty
box or a click takes it back to edit, Delete drops it) and sent when the reply ends — finished,
failed or cancelled with Esc. Messages in the transcript can be focused (alt+↑/alt+↓ or a click)
to copy them, copy their code block, or fork the thread there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, TextArea
from textual.worker import Worker, get_current_worker

from assistant.events import ArtifactSaved, Failed, Finished, Recalled, Routed, Token
from assistant.tui.backend import drive_turn, failure
from assistant.tui.safe import clean, one_line
from assistant.tui.screens.approval import ask_approval
from assistant.tui.widgets.context_panel import ContextPanel, artifact_reference
from assistant.tui.widgets.prompt import PromptInput
from assistant.tui.widgets.status import ContextMeter, ModelStatus, RouteIndicator
from assistant.tui.widgets.transcript import MessageAction, PendingMessage, ReplyView, Transcript, last_code_block

if TYPE_CHECKING:
    from assistant.sessions import Session
    from assistant.tui.app import ThroughlineApp

ROUTES = ("/write", "/code", "/analyze", "/chat")
MODEL_ERRORS = ("ModelError", "ModelServerUnreachable", "ModelUnavailable", "UnknownModelSpec")
LOCAL_COMMANDS = {"/help": "app.help", "/new": "new_session", "/sessions": "sessions",
                  "/memory": "app.memory", "/context": "toggle_context", "/quit": "app.quit",
                  "/export": "export('md')"}


def new_session_name() -> str:
    return datetime.now().strftime("%Y-%m-%d %H.%M.%S")


class ChatScreen(Screen):
    app: ThroughlineApp

    BINDINGS = [
        Binding("escape", "cancel", "Cancel reply", id="cancel"),
        Binding("ctrl+c", "cancel_or_copy", "Cancel reply", show=False, priority=True, id="cancel_or_copy"),
        Binding("ctrl+r", "cycle_route", "Route", id="cycle_route"),
        Binding("f2,ctrl+b", "toggle_context", "Context", id="context"),
        Binding("ctrl+n", "new_session", "New", id="new_session"),
        Binding("f3", "sessions", "Sessions", id="sessions"),
        Binding("f4", "app.memory", "Memory", id="memory"),
        Binding("alt+up", "focus_message(-1)", "Previous message", show=False, id="message_previous"),
        Binding("alt+down", "focus_message(1)", "Next message", show=False, id="message_next"),
        Binding("ctrl+s", "export('md')", "Export", show=False, id="export"),
    ]

    @dataclass
    class TurnEvent(Message):
        turn: int
        event: Any

    @dataclass
    class TurnDone(Message):
        turn: int

    @dataclass
    class ApprovalAnswered(Message):
        turn: int
        approved: bool

    @dataclass
    class SessionLoaded(Message):
        session: Session | None
        error: Failed | None = None
        routes: tuple[str, ...] = ()  # the chains' prefixes, plugins' included

    def __init__(self, session: str | None = None) -> None:
        super().__init__()
        self.session_name: str | None = None
        self._requested_session = session
        self._turn = 0
        self._active: int | None = None
        self._reply: ReplyView | None = None
        self._queued: str | None = None  # sent while the thread was still opening (already echoed)
        self.routes: tuple[str, ...] = ROUTES
        self.last_export: Path | None = None

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield Transcript(id="transcript")
                with Horizontal(id="status"):
                    yield RouteIndicator(id="route")
                    yield ContextMeter(id="meter")
                    yield ModelStatus(id="model")
                yield PromptInput(id="prompt")
            yield ContextPanel(id="context")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        # After the first paint: opening the thread builds the Assistant, which imports LangChain.
        self.call_after_refresh(self.open_session, self._requested_session)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def panel(self) -> ContextPanel:
        return self.query_one(ContextPanel)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def replying(self) -> bool:
        return self._active is not None or self._queued is not None

    @property
    def pending(self) -> list[PendingMessage]:
        """Messages queued behind the reply in progress, oldest first."""
        return list(self.transcript.query(PendingMessage))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.replying
        return True

    # -- sessions -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def open_session(self, name: str | None) -> None:
        from textual.widgets import Markdown  # noqa: F401  (its import, ~30 ms, happens here, off the UI thread)

        try:
            bot = self.app.backend.get()
            if name is None:
                known = bot.sessions.list()
                name = known[0].name if known else "default"
            self.post_message(self.SessionLoaded(bot.sessions.load(name), routes=tuple(bot.chains.prefixes())))
        except Exception as exc:  # the edge: show why the thread could not be opened
            self.post_message(self.SessionLoaded(None, failure(exc)))

    @on(SessionLoaded)
    async def _session_loaded(self, message: SessionLoaded) -> None:
        if message.session is None:
            assert message.error is not None
            self.session_name = self.session_name or self._requested_session or "default"
            self.app.sub_title = self.session_name
            await self.transcript.add_notice(f"✗ {message.error.error}: {message.error.message}", "error")
            self.app.show_error(message.error)
        else:
            session = message.session
            self.routes = message.routes or self.routes
            self.session_name = session.name
            self.app.sub_title = session.name
            intro = None if session.turns else f"New thread “{one_line(session.name, 40)}”. Ask anything; F1 for help."
            await self.transcript.show_turns(session.turns, intro=intro, artifacts=session.artifacts)
            self.panel.set_artifacts(session.artifacts)
            self.panel.show_recalled(())
            self.show_budget(last_budget(session))
        if self._queued is not None and self.session_name is not None:
            text, self._queued = self._queued, None
            await self._start_turn(text)  # show_turns() reset the transcript: echo it again

    async def switch_session(self, name: str) -> None:
        for message in self.pending:  # queued for the thread being left
            await message.remove()
        if self.replying:
            await self.action_cancel()
        self.session_name = None
        self.app.sub_title = f"{name} …"
        self.open_session(name)

    async def action_new_session(self) -> None:
        await self.switch_session(new_session_name())

    def action_sessions(self) -> None:
        from assistant.tui.screens.sessions import NEW, SessionsScreen

        async def chosen(name: str | None) -> None:
            if name == NEW:
                await self.action_new_session()
            elif name is not None and name != self.session_name:
                await self.switch_session(name)

        self.app.push_screen(SessionsScreen(current=self.session_name), chosen)

    # -- sending --------------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text.strip()
        if not text:
            return
        command = text.split()[0].lower()
        if command in LOCAL_COMMANDS and command not in self.routes:
            self.prompt.clear()
            await self.run_action(LOCAL_COMMANDS[command])
            return
        self.prompt.clear()
        text = self.query_one(RouteIndicator).apply(text)
        if self.replying:  # queued: sent when this reply ends
            await self.transcript.add_pending(text)
            return
        await self._start_turn(text)

    async def _start_turn(self, text: str) -> None:
        await self.transcript.add_user(text)
        if self.session_name is None:  # the thread is still opening: send when it is
            self._queued = text
            self._reply = None
            self.refresh_bindings()
            return
        self._turn += 1
        self._active = self._turn
        waiting = "waiting for the model…" if self.app.model_state in ("idle", "loading") else "thinking…"
        self._reply = await self.transcript.start_reply(waiting)
        self.refresh_bindings()
        self.run_turn(text, self.session_name, self._turn)

    @work(thread=True, exclusive=True, group="turn", exit_on_error=False)
    def run_turn(self, text: str, session: str, turn: int) -> None:
        worker = get_current_worker()
        me = threading.current_thread()
        self.app.turn_threads.add(me)
        try:
            drive_turn(
                self.app.backend, text, session,
                emit=lambda event: self.post_message(self.TurnEvent(turn, event)),
                cancelled=lambda: worker.is_cancelled,
                approve=lambda code: self._approve(worker, turn, code),
            )
        finally:
            self.app.turn_threads.discard(me)
            self.post_message(self.TurnDone(turn))

    def _approve(self, worker: Worker, turn: int, code: str) -> bool:
        """The agent's approve callback, called in the worker thread: blocks on the modal."""
        return ask_approval(
            self.app, code, cancelled=lambda: worker.is_cancelled,
            answered=lambda approved: self.post_message(self.ApprovalAnswered(turn, approved)),
        )

    # -- rendering the turn ---------------------------------------------------------------------
    @on(TurnEvent)
    async def _turn_event(self, message: TurnEvent) -> None:
        reply = self._reply
        if message.turn != self._active or reply is None:
            return  # a cancelled turn's late events
        event = message.event
        if isinstance(event, (Token, Finished)):
            self.app.model_is_ready()
        elif isinstance(event, Routed):
            self.query_one(RouteIndicator).active = f"{event.route} ({event.why})"
        elif isinstance(event, Recalled):
            self.panel.show_recalled(event.memories)
            self.show_budget(event.budget)
        elif isinstance(event, ArtifactSaved):
            self.panel.add_artifact(event.artifact)
        elif isinstance(event, Failed):
            self.app.show_error(event)
            if event.error in MODEL_ERRORS:
                self.app.model_state = "error"
        await reply.show(event, model_ready=self.app.model_state == "ready")

    @on(ApprovalAnswered)
    def _approval_answered(self, message: ApprovalAnswered) -> None:
        if message.turn == self._active and self._reply is not None:
            self._reply.approval_answered(message.approved)

    @on(TurnDone)
    async def _turn_done(self, message: TurnDone) -> None:
        if message.turn != self._active:
            return
        if self._reply is not None:
            await self._reply.close()
        self._finish_turn()

    def _finish_turn(self) -> None:
        self._active = None
        self.query_one(RouteIndicator).active = None
        self.refresh_bindings()
        self.call_later(self._send_next_pending)

    async def _send_next_pending(self) -> None:
        """The reply ended: send the oldest queued message, if any."""
        if self.replying or self.session_name is None:
            return
        queued = self.pending
        if queued:
            text = queued[0].text
            await queued[0].remove()
            await self._start_turn(text)

    def show_budget(self, budget) -> None:
        self.query_one(ContextMeter).budget = budget
        self.panel.show_budget(budget)

    # -- actions --------------------------------------------------------------------------------
    async def action_cancel(self) -> None:
        """Cancel the reply in progress; a queued message is then sent."""
        if not self.replying:
            return
        self.workers.cancel_group(self, "turn")
        self._queued = None
        reply = self._reply
        self._finish_turn()
        if reply is not None:
            await reply.cancel()
        self.notify("Reply cancelled.", timeout=2)

    async def action_cancel_or_copy(self) -> None:
        if self.replying:
            await self.action_cancel()
            return
        focused = self.focused
        if isinstance(focused, TextArea) and focused.selected_text:
            focused.action_copy()
        elif self.get_selected_text():
            self.action_copy_text()
        else:
            self.app.action_help_quit()

    def action_cycle_route(self) -> None:
        self.query_one(RouteIndicator).cycle(self.routes)

    def force_route(self, prefix: str | None) -> None:
        self.query_one(RouteIndicator).forced = prefix

    @on(RouteIndicator.Forced)
    def _route_forced(self, event: RouteIndicator.Forced) -> None:
        self.prompt.show_route(event.prefix)

    def action_toggle_context(self) -> None:
        panel = self.panel
        panel.toggle_class("-visible")
        if panel.has_class("-visible"):
            self.query_one("#artifacts").focus()
        else:
            self.prompt.focus()

    def action_copy_last_reply(self) -> None:
        replies = self.transcript.query(".reply")
        if not replies:
            self.notify("No reply to copy yet.", severity="warning")
            return
        last = replies.last()
        text = last.text if isinstance(last, ReplyView) else clean(last.turn.reply)
        self.app.copy_to_clipboard(text)
        self.notify("Reply copied to the clipboard.", timeout=2)

    @on(ContextPanel.ArtifactAction)
    def _artifact_action(self, event: ContextPanel.ArtifactAction) -> None:
        artifact = event.artifact
        if event.action == "insert":
            self.prompt.insert_reference(artifact_reference(artifact))
        elif event.action == "copy":
            self.app.copy_to_clipboard(artifact.content)
            self.notify(f"Copied {artifact.kind} “{one_line(artifact.title, 40)}”.", timeout=2, markup=False)
        else:
            from assistant.tui.screens.artifact import ArtifactScreen

            def after(result: str | None) -> None:
                if result == "insert":
                    self.prompt.insert_reference(artifact_reference(artifact))

            self.app.push_screen(ArtifactScreen(artifact), after)

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
        from assistant.sessions import safe_name

        name = self.session_name
        if name is None:
            return
        try:
            session = self.app.backend.get().sessions.load(name)
            folder = self.app.settings.data_dir / "exports"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{safe_name(name)}.{fmt}"
            path.write_text(export_session(session, "json" if fmt == "json" else "md"), encoding="utf-8")
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"Export failed: {exc.strerror or exc}", severity="error")
            return
        except Exception as exc:  # the edge: the session could not be read
            self.app.call_from_thread(self.app.show_error, failure(exc))
            return
        self.last_export = path
        self.app.call_from_thread(self.notify, f"Exported {len(session.turns)} turns to {path}", timeout=6, markup=False)


def last_budget(session: Session):
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
