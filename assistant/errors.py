"""The assistant's error tree. Every error a person can meet is one of these.

    AssistantError                 base; `str(err)` is a one-line message naming the problem and the fix
    ├── ConfigError        (2)     malformed or non-UTF-8 config.toml, missing ASSISTANT_CONFIG file,
    │                              bad ASSISTANT_* value, bad flag (empty --data-dir, argv not UTF-8)
    ├── InputError         (2)     empty, oversized or binary request text; a malformed import file
    ├── DataDirError       (3)     the data dir cannot be created or written
    ├── MemoryFailure      (3)     the memory store failed (wraps memory.errors.MemoryStoreError)
    ├── ModelError         (4)     base for model problems
    │   ├── UnknownModelSpec       `--model` names no known backend
    │   ├── ModelUnavailable       weights missing, optional extra not installed, conversion failed
    │   ├── ModelServerUnreachable a model server did not answer (refused, unknown host, timed out)
    │   ├── ModelServerFault       a model server answered wrongly (HTTP 5xx, not JSON, wrong shape)
    │   └── ToolCallingUnsupported the model's server refused the tools it was offered (HTTP 400)
    ├── ToolFailure        (5)     a tool could not be used at all (wraps tools.errors.ToolError)
    └── ResidentAgentLost  (1)     `ask`'s resident agent stopped in the middle of a turn

The number is `exit_code`, the `assistant` command's exit status for that error (a subclass
inherits its parent's). Only the edges (cli.py, tui/) turn these into messages and exit codes;
everything inside raises. The other packages keep their own small trees (`memory.errors`,
`tools.errors`) because they never import `assistant`; `from_layer` maps them here, and the agent
applies it to everything a turn raises. A new kind of failure is a new subclass here, with its
exit code, and (if it comes from another package) one line in `from_layer`.
"""

from __future__ import annotations


EXIT_BUG = 70  # a bug: not in the tree; the edges print one line naming it (sysexits' EX_SOFTWARE)


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


class ModelServerFault(ModelError):
    pass


class ToolCallingUnsupported(ModelError):
    pass


class ToolFailure(AssistantError):
    exit_code = 5


class ResidentAgentLost(AssistantError):
    """`ask`'s resident agent (assistant/resident/) went away during a turn: the turn is not recorded."""

    exit_code = 1


def from_layer(exc: BaseException) -> AssistantError | None:
    """The AssistantError for an error of the memory or tools layer (None for anything else: a bug)."""
    if isinstance(exc, AssistantError):
        return exc
    from memory.errors import MemoryStoreError
    from tools.errors import ToolError

    if isinstance(exc, MemoryStoreError):
        return MemoryFailure(str(exc))
    if isinstance(exc, ToolError):
        return ToolFailure(f"tool error: {exc}")
    return None
