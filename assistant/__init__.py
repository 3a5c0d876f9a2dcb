"""Throughline's public API. Everything here is stable; anything not in `__all__` is internal.

Names resolve on first access so `import assistant` stays cheap: a UI can paint before LangChain,
torch or Chroma are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant._lazy import lazy_getattr

__version__ = "0.1.0"

_WHERE = {
    "ApprovalNeeded": "assistant.events",
    "Artifact": "assistant.events",
    "ArtifactSaved": "assistant.events",
    "Assistant": "assistant.agent",
    "AssistantError": "assistant.errors",
    "Chain": "assistant.chains.base",
    "ChainRegistry": "assistant.chains.registry",
    "ChainResult": "assistant.chains.base",
    "ChainRun": "assistant.chains.base",
    "ConfigError": "assistant.errors",
    "DataDirError": "assistant.errors",
    "Event": "assistant.events",
    "Failed": "assistant.events",
    "Finished": "assistant.events",
    "InputError": "assistant.errors",
    "MemoryFailure": "assistant.errors",
    "ModelError": "assistant.errors",
    "ModelServerFault": "assistant.errors",
    "ModelServerUnreachable": "assistant.errors",
    "ModelUnavailable": "assistant.errors",
    "NewArtifact": "assistant.chains.base",
    "PromptChain": "assistant.chains.base",
    "Recalled": "assistant.events",
    "RecalledMemory": "assistant.events",
    "Reply": "assistant.events",
    "Route": "assistant.routing",
    "Routed": "assistant.events",
    "Router": "assistant.routing",
    "Settings": "assistant.settings",
    "Timings": "assistant.events",
    "Token": "assistant.events",
    "ToolFailure": "assistant.errors",
    "ToolFinished": "assistant.events",
    "ToolStarted": "assistant.events",
    "UnknownModelSpec": "assistant.errors",
    "load_settings": "assistant.settings",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from assistant.agent import Assistant
    from assistant.chains.base import Chain, ChainResult, ChainRun, NewArtifact, PromptChain
    from assistant.chains.registry import ChainRegistry
    from assistant.errors import (
        AssistantError, ConfigError, DataDirError, InputError, MemoryFailure, ModelError,
        ModelServerFault, ModelServerUnreachable, ModelUnavailable, ToolFailure, UnknownModelSpec,
    )
    from assistant.events import (
        ApprovalNeeded, Artifact, ArtifactSaved, Event, Failed, Finished, Recalled, RecalledMemory, Reply,
        Routed, Timings, Token, ToolFinished, ToolStarted,
    )
    from assistant.routing import Route, Router
    from assistant.settings import Settings, load_settings
