"""Tool results for people: checks, tables, diffs, runs, a plugin's own view, folding; charts inline."""

from __future__ import annotations

import pytest
from assistant.chains.base import NewArtifact
from assistant.events import ToolFinished, ToolStarted
from assistant.tui.results import render_result, use_renderers, view
from assistant.tui.widgets.transcript import MAX_TOOL_OUTPUT_LINES, ReplyView, ToolActivity
from tools import tool

from .helpers import bar_chart_png, make_app, ready, scripted_chains, send, wait_for

CHECKS = [{"check": "not empty", "ok": True, "detail": "225 words"},
          {"check": "length", "ok": False, "detail": "too long: 225 > 150"}]
DIFF = {"from_version": 1, "lines_added": 1, "lines_removed": 1, "words": "6 → 7",
        "diff": "--- v1\n+++ v2\n@@ -1 +1 @@\n-Revenue grew.\n+Revenue grew 12% in Q3."}
ROWS = [{"month": "Jan", "revenue": 1200.5, "orders": 31}, {"month": "February", "revenue": 98.0, "orders": 7}]


def plain(lines) -> list[str]:
    return [line.plain for line in lines]


def test_checks_are_tick_and_cross_lines_never_a_repr():
    lines = view(CHECKS)
    assert plain(lines) == ["✓ not empty   225 words", "✗ length      too long: 225 > 150"]
    assert "'ok'" not in "".join(plain(lines)) and "{" not in "".join(plain(lines))
    assert any("red" in str(span.style) for span in lines[1].spans)


def test_records_are_a_table_with_numbers_right_aligned():
    header, rule, jan, feb = plain(view(ROWS))
    assert header.split() == ["month", "revenue", "orders"]
    assert set(rule.replace(" ", "")) == {"─"}
    assert jan.endswith("1,200.50      31") and feb.endswith("   98       7")
    assert jan.index("1,200.50") + len("1,200.50") == feb.index(" 98") + len(" 98")  # right edges line up


def test_a_diff_is_coloured_by_line_kind():
    lines = view(DIFF)
    assert lines[0].plain.startswith("+1 -1")
    styles = {line.plain: str(line.style) for line in lines[1:]}
    assert styles["-Revenue grew."] == "red" and styles["+Revenue grew 12% in Q3."] == "green"
    assert styles["@@ -1 +1 @@"] == "cyan"


def test_a_run_shows_its_verdict_output_and_errors():
    lines = plain(view({"summary": "2/3 tests passed", "passed": 2, "failed": 1, "exit_code": 1,
                        "stdout": "ok\nFAIL: test_b", "stderr": "Traceback"}))
    assert lines == ["2/3 tests passed  ✓ 2 passed  ✗ 1 failed  exit code 1", "ok", "FAIL: test_b", "Traceback"]


def test_anything_else_is_a_tidy_generic_view():
    assert plain(view({"rows": 145, "mean_value": 12.3456})) == ["rows          145", "mean value  12.35"]
    assert plain(view(["first", "second"])) == ["• first", "• second"]
    assert plain(view("a\x1b[2Jb")) == ["a␛[2Jb"]  # control characters shown, never executed


def test_a_plugin_tool_brings_its_own_view():
    @tool(render=lambda out: f"{out['celsius']} °C in {out['city']}")
    def weather(city: str) -> dict:
        """The weather in a city."""
        return {"city": city, "celsius": 21}

    assert weather.render is not None and weather.bind().render is weather.render
    use_renderers({"weather": weather.render})
    try:
        assert plain(render_result("weather", weather("Oslo"))) == ["21 °C in Oslo"]
    finally:
        use_renderers({})
    assert plain(render_result("weather", {"city": "Oslo", "celsius": 21})) == ["city     Oslo", "celsius  21"]


LONG = {"exit_code": 0, "stdout": "\n".join(f"line {i}" for i in range(40))}


@pytest.mark.asyncio
async def test_tool_results_render_in_the_transcript_and_long_output_folds():
    chains = scripted_chains(
        "writing",
        ToolStarted("review_draft"), ToolFinished("review_draft", result=CHECKS, duration_s=0.01),
        ToolStarted("run_python"), ToolFinished("run_python", result=LONG, duration_s=0.2),
    )
    app, _ = make_app(["Done."], chains=chains)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "/write a draft")
        review, run = app.chat.query(ToolActivity)
        text = str(review.content)
        assert "✓ not empty" in text and "✗ length" in text and "'ok'" not in text
        assert run.folded_lines == 40 - MAX_TOOL_OUTPUT_LINES
        assert "line 39" not in str(run.content) and "28 more lines" in str(run.content)
        await pilot.click(run)  # a click unfolds
        assert run.expanded and "line 39" in str(run.content)
        run.focus()
        await pilot.press("enter")  # Enter folds it again
        assert not run.expanded and "line 39" not in str(run.content)


@pytest.mark.asyncio
async def test_a_chart_is_drawn_inline_in_half_blocks_and_in_the_viewer():
    from assistant.tui.images import HalfBlockImage
    from assistant.tui.screens.artifact import ArtifactScreen

    def chart(run):
        return NewArtifact("chart", "Revenue by month", "Bar chart", path=bar_chart_png(run.workspace / "chart.png"))

    app, _ = make_app(["Here is the chart."], chains=scripted_chains("analysis", chart))
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "/analyze plot revenue by month")
        image = app.chat.query_one(ReplyView).query_one(HalfBlockImage)
        await pilot.pause()
        assert image.size.width == 56 and image.size.height == 14  # fits the inline box, keeps its aspect
        strip = image.render_line(13)
        assert set("".join(seg.text for seg in strip)) == {"▀"}
        colours = {seg.style.color.triplet for seg in image.render_line(8) if seg.style.color}
        assert (31, 119, 180) in {tuple(c) for c in colours}  # the bars' blue, drawn as colour
        await pilot.press("f2")
        await pilot.press("enter")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, ArtifactScreen) and app.screen)
        assert screen.query(HalfBlockImage)
        opened: list[str] = []
        app.open_url = lambda url, **kw: opened.append(url)
        await pilot.press("o")
        assert opened and opened[0].endswith("chart.png")
