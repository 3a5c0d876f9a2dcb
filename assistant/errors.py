"""The assistant's error tree. Every error a person can meet is one of these.

    AssistantError                 base; `str(err)` is a one-line message naming the problem and the fix
    ├── ConfigError                malformed config.toml, bad ASSISTANT_* value, bad flag
    ├── InputError                 empty, oversized or binary request text
    ├── DataDirError               the data dir cannot be created or written
    ├── MemoryFailure              the memory store failed (wraps memory.errors.MemoryStoreError)
    ├── ModelError                 base for model problems
    │   ├── UnknownModelSpec       `--model` names no known backend
    │   ├── ModelUnavailable       weights missing, optional extra not installed, conversion failed
    │   ├── ModelServerUnreachable an OpenAI-compatible / Ollama server did not answer
    │   └── ToolCallingUnsupported the model's server refused the tools it was offered (HTTP 400)
    └── ChainError                 a chain could not produce an answer

Only the edges (cli.py, tui/) translate these into messages and exit codes; everything inside raises.
`exit_code` lets the CLI map classes to distinct codes without a table elsewhere.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the assistant reports to a person."""

    exit_code = 1


class ConfigError(AssistantError):
    exit_code = 2


class InputError(AssistantError):
    exit_code = 2


class DataDirError(AssistantError):
    exit_code = 3


class MemoryFailure(AssistantError):
    exit_code = 3


class ModelError(AssistantError):
    exit_code = 4


class UnknownModelSpec(ModelError):
    pass


class ModelUnavailable(ModelError):
    pass


class ModelServerUnreachable(ModelError):
    pass


class ToolCallingUnsupported(ModelError):
    pass


class ChainError(AssistantError):
    exit_code = 5


def from_name(name: str, message: str) -> AssistantError:
    """The error a `Failed` event names (its class name), rebuilt so an edge keeps its exit code."""
    cls = globals().get(name)
    if isinstance(cls, type) and issubclass(cls, AssistantError):
        return cls(message)
    return AssistantError(message)
