"""Plain chat: general questions, greetings, advice. No artifacts: a chat answer is not work to reuse."""

from __future__ import annotations

from assistant.chains.base import PromptChain

SYSTEM = (
    "You are Throughline, a helpful and knowledgeable assistant. Answer the user's question directly "
    "and accurately in a few sentences. If you do not know, say so."
)


def chat_chain() -> PromptChain:
    return PromptChain(
        name="chat",
        description="general questions, explanations and conversation",
        prefix="/chat",
        system_prompt=SYSTEM,
    )
