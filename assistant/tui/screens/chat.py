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
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, TextArea
from textual.worker import Worker, get_current_worker

from assistant.tui.backend import drive_turn, failure
from assistant.tui.safe import clean, one_line
from assistant.tui.widgets.context_panel import ContextPanel, artifact_reference
from assistant.tui.widgets.prompt import PromptInput
from assistant.tui.widgets.status import ContextMeter, ModelStatus, RouteIndicator
from assistant.tui.screens.chat_threads import ThreadScreen, last_budget, new_session_name
from assistant.tui.widgets.transcript import ReplyView, Transcript

if TYPE_CHECKING:
    from assistant.events import ApprovalNeeded, Event, Failed
    from assistant.sessions import Session
    from assistant.tui.app import ThroughlineApp

ROUTES = ("/write", "/code", "/analyze", "/chat")
MODEL_EXIT_CODE = 4  # assistant.errors.ModelError and its subclasses
LOCAL_COMMANDS = {"/help": "app.help", "/new": "new_session", "/sessions": "sessions",
                  "/memory": "app.memory", "/context": "toggle_context", "/quit": "app.quit",
                  "/export": "export('md')"}


class ChatScreen(ThreadScreen):
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
        self._reply = await self.transcript.start_reply(waiting, typing=self.prompt.pause_in)
        self.refresh_bindings()
        self.run_turn(text, self.session_name, self._turn)

    @work(thread=True, exclusive=True, group="turn", exit_on_error=False)
    def run_turn(self, text: str, session: str, turn: int) -> None:
        from assistant.events import ApprovalNeeded

        worker = get_current_worker()
        me = threading.current_thread()
        self.app.turn_threads.add(me)
        asked: list[ApprovalNeeded] = []  # the agent yields ApprovalNeeded, then calls approve

        def emit(event: Event) -> None:
            if isinstance(event, ApprovalNeeded):
                asked[:] = [event]
            self.post_message(self.TurnEvent(turn, event))

        try:
            drive_turn(
                self.app.backend, text, session, emit=emit,
                cancelled=lambda: worker.is_cancelled,
                approve=lambda code: self._approve(worker, turn, code, asked[-1] if asked else None),
            )
        finally:
            self.app.turn_threads.discard(me)
            self.post_message(self.TurnDone(turn))

    def _approve(self, worker: Worker, turn: int, code: str, asked: ApprovalNeeded | None) -> bool:
        """The agent's approve callback, called in the worker thread: blocks on the modal."""
        from assistant.tui.screens.approval import ask_approval

        return ask_approval(
            self.app, code, cancelled=lambda: worker.is_cancelled,
            answered=lambda approved: self.post_message(self.ApprovalAnswered(turn, approved)),
            asked=asked,
        )

    # -- rendering the turn ---------------------------------------------------------------------
    @on(TurnEvent)
    async def _turn_event(self, message: TurnEvent) -> None:
        from assistant.events import ArtifactSaved, Failed, Finished, Recalled, Routed, Token

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
            if event.exit_code == MODEL_EXIT_CODE:
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

    async def action_toggle_context(self) -> None:
        panel = self.panel
        await panel.reveal()
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
