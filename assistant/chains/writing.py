"""Writing: drafts, emails, poems, summaries, edits. Every answer is a versioned draft artifact, so
"make it shorter" later revises the latest draft instead of starting over."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.chains.base import ChainRun, NewArtifact, PromptChain, short_title

SYSTEM = (
    "You are a skilled writer. Write exactly the text the user asks for (a poem, an email, a blog post, "
    "a summary, an edit of a draft) in clear, natural prose. If the request asks to change an earlier "
    "draft, rewrite that draft accordingly. Use facts and numbers from the quoted context when they are "
    "relevant. Output only the requested text, with no preamble."
)


@dataclass
class WritingChain(PromptChain):
    def artifacts(self, run: ChainRun, text: str) -> tuple[NewArtifact, ...]:
        if not text:
            return ()
        earlier = run.session.latest_artifact(kind="draft")
        # A follow-up on the current draft continues its versions under the same title.
        title = earlier.title if earlier and run.session.current_route == self.name else short_title(run.request)
        return (NewArtifact(kind="draft", title=title, content=text),)


def writing_chain() -> WritingChain:
    return WritingChain(
        name="writing",
        description="drafts, emails, stories, summaries and edits of prose",
        prefix="/write",
        system_prompt=SYSTEM,
    )
