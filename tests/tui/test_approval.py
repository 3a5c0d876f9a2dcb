"""The approval dialog before generated code runs: approve runs it (for real, in the sandbox),
deny does not; `auto_run` skips the dialog."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field

import pytest

from assistant.chains.base import ChainResult, ChainRun, NewArtifact
from assistant.chains.registry import default_chains
from assistant.events import ApprovalNeeded, Event, Token, ToolFinished, ToolStarted
from assistant.tui.screens.approval import ApprovalScreen
from assistant.tui.widgets.transcript import ReplyView

from .helpers import make_app, ready, send, transcript_text, wait_for

CODE = "print(6 * 7)"


@dataclass
class RunCodeChain:
    """A test chain following the Chain protocol: asks before running CODE with run_python."""

    name: str = "runner"
    description: str = "runs a fixed snippet (tests only)"
    prefix: str = "/run"
    examples: tuple[str, ...] = ("run the snippet", "execute the test code")
    system_prompt: str = "test"
    asked: list[str] = field(default_factory=list)

    def extra_context(self, run: ChainRun) -> list[str]:
        return []

    def run(self, run: ChainRun, messages) -> Generator[Event, None, ChainResult]:
        from tools import run_python

        yield Token("Here is the code.\n\n")
        if not run.auto_run:
            yield ApprovalNeeded(CODE)
            self.asked.append(CODE)
            if run.approve is None or not run.approve(CODE):
                yield Token("Not run.")
                return ChainResult(text="Here is the code.\n\nNot run.")
        yield ToolStarted("python", {"code": CODE})
        started = time.perf_counter()
        result = run_python(CODE, workspace=run.workspace, timeout=20)
        yield ToolFinished("python", result=result, duration_s=time.perf_counter() - started)
        text = f"Here is the code.\n\nOutput: {result.stdout.strip()}"
        yield Token(f"Output: {result.stdout.strip()}")
        return ChainResult(text=text, artifacts=(NewArtifact("output", "snippet output", result.stdout),))


def registry(chain: RunCodeChain):
    chains = default_chains(plugins=False)
    chains.register(chain, origin="test")
    return chains


@pytest.mark.asyncio
@pytest.mark.parametrize("answer, ran", [("y", True), ("n", False)])
async def test_generated_code_runs_only_when_approved(answer, ran):
    chain = RunCodeChain()
    app, _ = make_app(["unused"], chains=registry(chain))
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "/runner go", wait=False)
        modal = await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen)
        assert modal.code == CODE
        await wait_for(pilot, lambda: "waiting for your approval" in transcript_text(app), 10)
        await pilot.pause(ApprovalScreen.ARM_DELAY_S)
        from tools.confinement import summary

        shown = await wait_for(pilot, lambda: modal.query("#sandbox-level") and modal.query_one("#sandbox-level"))
        assert str(shown.render()) == f"Sandbox: {summary()}"  # what the kernel enforces, said plainly
        await pilot.press(answer)
        await wait_for(pilot, lambda: not app.chat.replying, 60, what="the turn to end")
        await pilot.pause()
        reply = app.chat.query(ReplyView).last()
        text = transcript_text(app)
        assert chain.asked == [CODE]
        if ran:
            assert "Output: 42" in reply.text
            assert "✓ python" in text and "42" in text  # the tool line with its output
            assert "approved: running the code" in text
            assert [a.kind for a in app.chat.panel.artifacts] == ["output"]
        else:
            assert "Not run." in reply.text and "Output" not in reply.text
            assert "✓ python" not in text
            assert "not run: you declined" in text


@pytest.mark.asyncio
async def test_keys_typed_as_the_dialog_opens_do_not_approve(monkeypatch):
    monkeypatch.setattr(ApprovalScreen, "ARM_DELAY_S", 30.0)  # "as it opens", however slow the machine
    chain = RunCodeChain()
    app, _ = make_app(["unused"], chains=registry(chain))
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "/runner go", wait=False)
        modal = await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen)
        await pilot.press("y")  # typed ahead: ignored
        assert app.screen is modal
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.chat.replying, 60)
        assert "Not run." in app.chat.query(ReplyView).last().text


@pytest.mark.asyncio
async def test_escape_on_the_dialog_declines():
    chain = RunCodeChain()
    app, _ = make_app(["unused"], chains=registry(chain))
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "/runner go", wait=False)
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("enter")  # focus starts on "Don't run": Enter is the safe answer
        await wait_for(pilot, lambda: not app.chat.replying, 60)
        assert "Not run." in app.chat.query(ReplyView).last().text


@pytest.mark.asyncio
async def test_auto_run_skips_the_dialog():
    chain = RunCodeChain()
    app, _ = make_app(["unused"], chains=registry(chain), auto_run=True)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "/runner go")
        assert chain.asked == []
        assert "Output: 42" in app.chat.query(ReplyView).last().text


@pytest.mark.asyncio
async def test_the_coding_chain_asks_before_running_its_code():
    """The built-in coding chain, end to end: the dialog shows its code; approved, it runs in the sandbox."""
    answer = "```python\ndef double(x):\n    return 2 * x\n\nprint(double(21))\n```\nDoubles a number."
    app, _ = make_app([answer, answer, answer])
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "/code a function that doubles a number", wait=False)
        modal = await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen, 90)
        assert "def double(x):" in modal.code
        await pilot.pause(ApprovalScreen.ARM_DELAY_S)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.chat.replying, 90, what="the run to end")
        kinds = [a.kind for a in app.chat.panel.artifacts]
        assert "code" in kinds and "output" in kinds
        assert "42" in transcript_text(app)
