"""Interaction figures of the chat UI, measured with Textual's Pilot (headless, in this process).

- `open_thread_s`: (wall, CPU) seconds from asking to open a saved 200-message thread (100 turns: prose, lists,
  code) until its transcript is drawn and painted (the UI draws the last turns, enough to fill the
  view twice, and the earlier ones as the person scrolls up). Baselines: a bare Textual app
  mounting all 200 texts (replies as Markdown) — the library's own cost for drawing that much
  Markdown at once — and one plain Static holding all 200 texts, scrolled to the end: the
  cheapest way Textual shows that much text.
- `keystroke_ms`: milliseconds from a key press in the message box (sent through the driver as a
  terminal's would be) until the next frame the app paints after handling it, while a reply streams
  (a fake model yielding a character every 2 ms; paragraphs of five sentences). Baseline: the
  same keystrokes with no reply running.

The thread is generated here (in-distribution data, not a user's). The app paints to Textual's
headless driver, so "painted" is the compositor's update, not a terminal's.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

TURNS = 100
DOM_POLL_S = 0.02
WARM_UP = "abc"  # keys typed first and not counted: the first ones pay for imports and caches
REPLY_MD = (
    "Here is step {i}. The revenue for month {i} was **{v:,}** units, up {p}% on the month before.\n\n"
    "- the north region led\n- returns fell\n\n```python\ndef growth_{i}(a, b):\n    return (b - a) / a\n```\n"
)


def seed_thread(data_dir: Path, name: str = "long") -> None:
    """A saved 100-turn thread, written directly: `SessionStore.save` keeps only the last 40 turns,
    but a thread imported or kept by an older version can be longer, and must still open fast."""
    import json
    from dataclasses import asdict

    from assistant.sessions import SessionStore, TurnRecord

    store = SessionStore(data_dir, "default")
    session = store.load(name)
    session.turns = [
        TurnRecord(request=f"Question {i}: how did month {i} go, and can you write the growth function?",
                   reply=REPLY_MD.format(i=i, v=1000 + 37 * i, p=i % 17), route="coding")
        for i in range(TURNS)
    ]
    store._path(name).write_text(json.dumps(asdict(session)), encoding="utf-8")


def _app(data_dir: Path, responses: list[str], sleep: float | None = None, session: str = "start"):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from assistant.agent import Assistant
    from assistant.settings import load_settings
    from assistant.tui.app import ThroughlineApp

    model = FakeListChatModel(responses=responses, sleep=sleep)
    settings = load_settings(data_dir=str(data_dir))
    return ThroughlineApp(settings=settings, preload=False, session=session,
                          assistant_factory=lambda s, p: Assistant(settings=s, chat_model=model, progress=p))


async def _until(pilot, condition, timeout: float = 120.0, every: float = 0.002) -> None:
    """Poll `condition` every `every` s (a DOM query is not free: poll those less often)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the UI did not get there in time")
        await asyncio.sleep(every)


def _all_rendered(root) -> bool:
    """Every Markdown under `root` has parsed its source into blocks."""
    from textual.widgets import Markdown

    return all(md.children for md in root.query(Markdown) if md.source)


def _frames(app) -> list[float]:
    """Patch the app to note when it paints; returns the list the times go into."""
    painted: list[float] = []
    display = app._display

    def noting(screen, renderable):
        display(screen, renderable)
        painted.append(time.perf_counter())

    app._display = noting
    return painted


async def open_thread_once(data_dir: Path) -> float:
    from assistant.tui.widgets.transcript import PastReply

    app = _app(data_dir, ["unused"])
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: app.chat.session_name is not None)
        await pilot.pause()
        painted = _frames(app)
        started, cpu = time.perf_counter(), time.process_time()
        await app.chat.switch_session("long")
        await _until(pilot, lambda: app.chat.session_name == "long" and app.chat.query(PastReply)
                     and _all_rendered(app.chat.transcript), every=DOM_POLL_S)
        mounted = time.perf_counter()
        await _until(pilot, lambda: painted and painted[-1] > mounted)
        return painted[-1] - started, time.process_time() - cpu


def _texts() -> list[str]:
    """The thread's 200 messages as plain text, for the baselines."""
    texts = []
    for i in range(TURNS):
        texts += [f"Question {i}: how did month {i} go?", REPLY_MD.format(i=i, v=1000 + 37 * i, p=i % 17)]
    return texts


async def _bare_open(make, drawn) -> float:
    """Seconds for a bare Textual app (one VerticalScroll) to mount `make()`, scroll to the end and
    paint, once `drawn(app)` holds."""
    from textual.app import App
    from textual.containers import VerticalScroll

    class Bare(App):
        def compose(self):
            yield VerticalScroll(id="t")

    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        painted = _frames(app)
        started, cpu = time.perf_counter(), time.process_time()
        box = app.query_one("#t")
        box.mount_all(make())
        box.scroll_end(animate=False)
        await _until(pilot, lambda: drawn(app), every=DOM_POLL_S)
        mounted = time.perf_counter()
        await _until(pilot, lambda: painted and painted[-1] > mounted)
        return painted[-1] - started, time.process_time() - cpu


async def baseline_open_once() -> float:
    """All 200 messages mounted at once, the replies as Markdown."""
    from textual.widgets import Markdown, Static

    return await _bare_open(
        lambda: [Static(t) if n % 2 == 0 else Markdown(t) for n, t in enumerate(_texts())],
        lambda app: len(app.query(Markdown)) == TURNS and _all_rendered(app.screen))


async def baseline_static_once() -> float:
    """All 200 messages' text in one plain Static."""
    from textual.widgets import Static

    return await _bare_open(lambda: [Static("\n\n".join(_texts()), markup=False, id="all")],
                            lambda app: app.query("#all") and app.query_one("#all").is_mounted)


async def keystrokes_once(data_dir: Path, streaming: bool, keys: str = "typing while it streams") -> list[float]:
    from assistant.tui.widgets.prompt import PromptInput

    long = "".join(f"Sentence number {i} of a long reply." + ("\n\n" if i % 5 == 4 else " ") for i in range(200))
    app = _app(data_dir, [long], sleep=0.002)
    latencies: list[float] = []
    handled: list[float] = []  # when the message box had handled the key
    on_key = PromptInput._on_key

    async def noting(self, event):
        await on_key(self, event)
        handled.append(time.perf_counter())

    PromptInput._on_key = noting
    try:
        return await _type_keys(app, keys, streaming, latencies, handled)
    finally:
        PromptInput._on_key = on_key


async def _type_keys(app, keys: str, streaming: bool, latencies: list[float], handled: list[float]) -> list[float]:
    from textual import events

    from assistant.tui.widgets.prompt import PromptInput
    from assistant.tui.widgets.transcript import ReplyView

    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: app.chat.session_name is not None)
        prompt = app.chat.query_one(PromptInput)
        if streaming:
            prompt.insert("/chat tell me a long story")
            await pilot.press("enter")
            await _until(pilot, lambda: (r := app.chat.query(ReplyView)) and r.last().text)
        painted = _frames(app)
        driver = app._driver
        handled.clear()
        for n, key in enumerate(WARM_UP + keys):
            before = prompt.text
            pressed = time.perf_counter()
            event = events.Key("space" if key == " " else key, key)  # as the terminal driver would send it
            event.set_sender(app)
            driver.send_message(event)
            await _until(pilot, lambda: prompt.text != before and handled)
            await _until(pilot, lambda: painted and painted[-1] >= handled[-1])
            if n >= len(WARM_UP):
                latencies.append((next(t for t in painted if t >= handled[-1]) - pressed) * 1000)
            handled.clear()
            await asyncio.sleep(0.03)  # a fast typist: ~30 keys a second
        if streaming:
            reply = app.chat.query(ReplyView).last()
            assert not reply.done, "the reply ended before the keystrokes: make it longer"
    return latencies


def measure(data_dir: Path, runs: int) -> dict:
    seed_thread(data_dir)
    opened = [asyncio.run(open_thread_once(data_dir)) for _ in range(runs)]  # (wall s, CPU s) each
    bare = [asyncio.run(baseline_open_once()) for _ in range(max(2, runs // 2))]  # the bench's slowest part
    plain = [asyncio.run(baseline_static_once()) for _ in range(runs)]
    streaming = [asyncio.run(keystrokes_once(data_dir, True)) for _ in range(max(2, runs // 2))]  # per run
    idle = [asyncio.run(keystrokes_once(data_dir, False)) for _ in range(max(2, runs // 2))]
    return {"open_thread_s": opened, "open_baseline_s": bare, "open_static_s": plain,
            "keystroke_streaming_ms": streaming, "keystroke_idle_ms": idle}
