"""Registers the four built-in chains through the same hook plugins use."""

from __future__ import annotations

from dataclasses import replace

from assistant.chains.analysis import analysis_chain
from assistant.chains.chat import chat_chain
from assistant.chains.coding import coding_chain
from assistant.chains.writing import writing_chain


def register(registry) -> None:
    from assistant.routing import load_examples

    examples = load_examples()
    for make in (writing_chain, coding_chain, analysis_chain, chat_chain):
        chain = make()
        registry.register(replace(chain, examples=tuple(examples.get(chain.name, ()))))
