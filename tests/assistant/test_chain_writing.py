"""The writing chain: the brief read by rules, the deterministic review, at most one revision call,
enforcement of the hard requirements, versioned drafts — with LangChain's fake chat model."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from assistant import Assistant
from assistant.chains.base import ChainRun
from assistant.chains.review import Brief, enforce, make_brief, review, words_of
from assistant.chains.writing import draft_to_revise, writing_chain
from assistant.events import Artifact, RecalledMemory, Token, ToolFinished, ToolStarted
from assistant.sessions import Session

from .fakes import RecordingFakeChat, drain

ANALYSIS = Artifact(
    id="an1", kind="analysis", title="revenue growth", route="analysis", created_at="2026-01-01T00:00:02",
    content=("Month-over-month growth of revenue: Feb 2024 +5.0%; Mar 2024 +4.8%. Average +3.2% per period. "
             "Q3 2024 was +25.0% on Q2 2024; Q4 2024 was +11.5% on Q3 2024.\n\n"
             "Table sales.csv: 12 rows × 3 columns.\n- revenue (numeric): mean 13,200"))
DRAFT = Artifact(id="d1", kind="draft", title="Our 2024 sales", route="writing", created_at="2026-01-01T00:00:01",
                 content="Our sales grew all year. We can't wait to share the story with you! It was a year of "
                         "steady growth, and every quarter beat the one before it, which made the team proud.")
PREFERS_SHORT = RecalledMemory(id="m1", text="The user prefers short sentences.", kind="fact", score=0.8)


def drive(request, responses, *, artifacts=(), memories=(), current=None):
    session = Session("s", "u", current_route=current, artifacts=list(artifacts))
    fake = RecordingFakeChat(responses=responses)
    run = ChainRun(request=request, session=session, workspace=__import__("pathlib").Path("/nonexistent"),
                   model=fake, memories=memories)
    steps = writing_chain().run(run, [SystemMessage("You write."), HumanMessage(request)])
    return (*drain(steps), fake)


# -- the brief and the checks --------------------------------------------------------------------

def test_the_brief_reads_length_tone_audience_and_points():
    brief = make_brief("Write a formal email under 80 words for beginners; mention the new office", [], None, [])
    assert (brief.max_words, brief.formal, brief.min_ease, brief.points) == (80, True, 60.0, ("new office",))
    assert make_brief("Summarise it in two sentences", [], None, []).max_sentences == 2
    assert make_brief("a 100-word bio", [], None, []).max_words == 115
    assert make_brief("Write a short story about a fox", [], None, []).max_words is None  # a genre, not a limit


def test_shorter_and_longer_are_relative_to_the_draft_being_revised():
    words = words_of(DRAFT.content)
    assert make_brief("make it shorter", [], DRAFT, []).max_words == round(words * 0.7)
    assert make_brief("make it longer", [], DRAFT, []).min_words == round(words * 1.3)


def test_remembered_preferences_become_requirements():
    brief = make_brief("Write a note about the picnic", [PREFERS_SHORT], None, [])
    assert brief.max_sentence_words == 14
    assert "Short sentences (the user prefers short sentences)." in brief.requirements()


def test_add_the_numbers_pulls_the_figures_from_the_analysis():
    brief = make_brief("Update the intro with the Q3 numbers", [], DRAFT, [ANALYSIS])
    assert brief.facts[0] == "Q3 2024 was +25.0% on Q2 2024; Q4 2024 was +11.5% on Q3 2024."
    assert {"+25.0%", "+11.5%"} <= set(brief.must_include)
    assert "13,200" not in " ".join(brief.facts)  # the profile is not a finding
    assert make_brief("Update the intro", [], DRAFT, [ANALYSIS]).facts == ()


def test_review_checks_each_requirement():
    brief = Brief(max_words=10, formal=True, must_include=("+25.0%",), facts=("Q3 was +25.0% on Q2.",))
    failed = {c.name for c in review("Sure, here's the text:\nWe can't believe how well it went! Truly great.", brief)
              if not c.ok}
    assert failed == {"length", "formal tone", "figures", "no preamble"}
    assert all(c.ok for c in review("Q3 was +25.0% on Q2. It went well.", brief))


def test_enforce_makes_the_hard_requirements_true():
    brief = Brief(max_words=25, formal=True, max_sentence_words=14, facts=("Q3 was +25.0% on Q2.",),
                  must_include=("+25.0%",))
    text, changes = enforce("Here is the revised text:\n" + DRAFT.content, brief)
    assert words_of(text) <= 25 and "+25.0%" in text and "can't" not in text and "!" not in text
    assert text.endswith("Q3 was +25.0% on Q2.")
    assert changes[0] == "dropped the preamble" and "made the tone formal" in changes


def test_enforce_drops_stacked_preambles_but_never_the_text():
    # seen from the bundled model on a revision: a chatty line, then a label line, then the text
    text, changes = enforce("Here is the revised intro:\n\nRevised:\n\nSales grew all year.", Brief())
    assert text == "Sales grew all year." and changes == ["dropped the preamble"]
    assert enforce("Revised:\n\n", Brief())[0] == "Revised:"  # nothing after it: kept, not emptied


# -- the chain --------------------------------------------------------------------------------

def test_a_draft_that_passes_review_costs_one_model_call():
    events, result, fake = drive("Write a haiku about the sea", ["Waves fold on the shore"])
    assert len(fake.prompts) == 1 and result.text == "Waves fold on the shore"
    reviews = [e for e in events if isinstance(e, ToolFinished) and e.name == "review_draft"]
    assert len(reviews) == 1 and all(check["ok"] for check in reviews[0].result)
    assert "".join(e.text for e in events if isinstance(e, Token)) == result.text
    assert [(a.kind, a.title, a.content) for a in result.artifacts] == [("draft", "Write a haiku about the sea", result.text)]


def test_a_failed_check_gets_one_revision_call_with_the_fix():
    long = "This is a very long draft that goes on and on about the weather and many other things today."
    events, result, fake = drive("Write a note under 10 words about the weather", [long, "Rain today, sun tomorrow."])
    assert len(fake.prompts) == 2
    assert "Cut it to at most 10 words." in fake.prompts[1][-1].content
    assert fake.prompts[1][-2].content == long  # the model sees its own draft
    assert result.text == "Rain today, sun tomorrow."
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "**Review:** length (19 words (limit 10)). Revising." in streamed
    assert "**Final version**" not in streamed  # the revision shown is the final text


def test_a_draft_a_rule_can_fix_costs_no_revision_call():
    draft = "Rain is coming today. The sun returns tomorrow. Bring a coat."  # 11 words, a little over 8
    events, result, fake = drive("Write a weather note in at most 8 words", [draft, "never asked"])
    assert len(fake.prompts) == 1
    assert result.text == "Rain is coming today. The sun returns tomorrow."
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "Revising" not in streamed and "**Final version** (trimmed to the length)" in streamed


def test_a_revision_runs_only_when_the_time_budget_leaves_room_for_it():
    long = "This is a very long draft that goes on and on about the weather and many other things today."
    session = Session("s", "u")
    fake = RecordingFakeChat(responses=[long, "never asked"])
    run = ChainRun(request="Write a note under 10 words about the weather", session=session,
                   workspace=__import__("pathlib").Path("/nonexistent"), model=fake)
    chain = writing_chain()
    chain.budget_s = 0.0
    events, result = drain(chain.run(run, [SystemMessage("You write."), HumanMessage(run.request)]))
    assert len(fake.prompts) == 1 and words_of(result.text) <= 10
    assert "No time for a revision; kept the draft." in "".join(e.text for e in events if isinstance(e, Token))


def test_a_one_paragraph_request_has_a_paragraph_s_length():
    brief = make_brief("Write a one-paragraph blog intro about our move to Lisbon", [], None, [])
    assert brief.max_words == 150 and "One paragraph: at most 150 words." in brief.requirements()
    assert make_brief("Write a paragraph about our year", [], None, []).max_words == 150


def test_when_the_revision_still_fails_the_rules_finish_the_job():
    long = "One two three four five six. Seven eight nine ten eleven twelve. Thirteen fourteen."
    events, result, fake = drive("Write it in at most 8 words", [long, long])
    assert len(fake.prompts) == 2  # never a third call
    assert result.text == "One two three four five six."
    assert "**Final version** (trimmed to the length)" in "".join(e.text for e in events if isinstance(e, Token))


def test_make_it_shorter_revises_the_latest_draft_as_its_next_version():
    short = "Sales grew all year. Every quarter beat the last."
    events, result, fake = drive("make it shorter", [short], artifacts=[DRAFT], current="writing")
    asked = fake.prompts[0][-1].content
    assert asked.startswith(f"Here is the current draft:\n\n{DRAFT.content}") and "Rewrite this draft" in asked
    assert result.artifacts[0].title == DRAFT.title and result.text == short
    names = [e.name for e in events if isinstance(e, ToolStarted)]
    assert names == ["outline", "review_draft", "diff_texts"]
    diff = next(e for e in events if isinstance(e, ToolFinished) and e.name == "diff_texts").result
    assert diff["from_version"] == 1 and diff["words"] == f"{words_of(DRAFT.content)} → 9"


def test_what_counts_as_a_revision_of_the_draft():
    def run_for(request, current="analysis"):
        session = Session("s", "u", current_route=current, artifacts=[DRAFT])
        return ChainRun(request=request, session=session, workspace=None, model=None)

    assert draft_to_revise(run_for("Update the blog intro with these numbers")) is DRAFT
    assert draft_to_revise(run_for("more formal", current="writing")) is DRAFT
    assert draft_to_revise(run_for("Write a poem about cats")) is None
    assert draft_to_revise(run_for("Make this email more polite: I need the invoice by Friday or we stop "
                                   "working with you and find another supplier soon")) is None


def test_the_numbers_reach_the_prompt_and_the_final_draft():
    events, result, fake = drive("Update the intro with the Q3 numbers", ["Our sales grew a lot.", "Sales grew."],
                                 artifacts=[DRAFT, ANALYSIS])
    assert "Q3 2024 was +25.0% on Q2 2024" in fake.prompts[0][-1].content
    assert "+25.0%" in result.text and "+11.5%" in result.text  # enforced: the fake left them out
    assert result.artifacts[0].title == DRAFT.title


def test_a_remembered_style_preference_shapes_the_draft():
    long = ("Our team worked hard all year on the new product line, and the results surprised everyone in the "
            "company because sales kept rising month after month.")
    events, result, fake = drive("Write a paragraph about our year", [long, long], memories=[PREFERS_SHORT])
    assert "Short sentences (the user prefers short sentences)." in fake.prompts[0][-1].content
    assert max(words_of(s) for s in result.text.split(". ")) < words_of(long)


def test_drafts_are_versioned_through_the_assistant(tmp_path):
    fake = RecordingFakeChat(responses=["A long draft about autumn leaves falling in the park.", "Leaves fall."])
    bot = Assistant(data_dir=tmp_path / "data", chat_model=fake)
    first = bot.ask("Write a short story about autumn leaves", session="t")
    second = bot.ask("make it shorter", session="t")
    assert second.route == "writing"
    assert (second.artifacts[0].title, second.artifacts[0].version) == (first.artifacts[0].title, 2)
    assert open(second.artifacts[0].path).read() == "Leaves fall."


def test_a_long_piece_gets_a_model_outline_first_with_a_capable_model():
    events, result, fake = drive("Write an essay about bees", ["- Why bees matter\n- How hives work\n- Threats",
                                                               "Bees matter. Hives work. Threats exist."])
    assert len(fake.prompts) == 2
    assert fake.prompts[0][-1].content == "Outline this: Write an essay about bees"
    assert "Cover, in order: Why bees matter; How hives work; Threats" in fake.prompts[1][-1].content
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "Why bees matter" not in streamed  # the outline is a step, not part of the answer
    outline = next(e for e in events if isinstance(e, ToolFinished) and e.name == "outline")
    assert outline.result == ["Why bees matter", "How hives work", "Threats"]


def test_the_small_model_never_gets_the_extra_outline_call(monkeypatch):
    monkeypatch.setattr("assistant.chains.writing.is_small_model", lambda model: True)
    _, result, fake = drive("Write an essay about bees", ["Bees matter."])
    assert len(fake.prompts) == 1 and result.text == "Bees matter."


def test_enforce_drops_a_closing_note_about_the_changes_but_not_the_texts_own_ending():
    noted = "We bake bread every morning.\n\nIn this version, I made several changes to improve the flow."
    assert enforce(noted, Brief()) == ("We bake bread every morning.", ["dropped the note about the changes"])
    assert [c.name for c in review(noted, Brief()) if not c.ok] == ["no afterword"]
    assert enforce("We bake.\n\nPlease note that the original text was reworked.", Brief())[0] == "We bake."
    for own in ("We bake bread.\n\nLet me know in the comments what you think!",
                "In this version of the story, the baker wins.",
                "We bake bread.\n\nI tried the rye last week and loved it.",
                "Dear Ms Lee,\n\nPlease note that the office is closed on Friday."):
        assert enforce(own, Brief()) == (own, [])


def test_figures_added_by_rule_are_streamed_alone_not_the_whole_text_again():
    events, result, fake = drive("Update the intro with the Q3 numbers", ["Our sales grew a lot."],
                                 artifacts=[DRAFT, ANALYSIS])
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert streamed == result.text and "Final version" not in streamed
    assert streamed.count("Our sales grew a lot.") == 1 and "+25.0%" in streamed
