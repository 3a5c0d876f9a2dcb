"""Model specs → LangChain chat models.

    bundled                        SmolLM2-135M-Instruct shipped with the package (default)
    hf:<path-or-id>                a local transformers directory (or .gguf file), or a cached hub id
    openai:<model>[@<base-url>]    any OpenAI-compatible server (OpenAI, vLLM, TGI, llama.cpp, Ollama)
    ollama:<model>                 an Ollama server at $OLLAMA_HOST (extra: throughline[ollama])
    llamacpp:<gguf-path>           a GGUF run in process by llama-cpp-python (extra: throughline[llamacpp])

Building a model never loads weights or opens a connection: local models load on first use, server
models connect on first call. Server errors are translated where they surface: the chat models built
here raise `ModelServerUnreachable` (one line, naming the URL) from `invoke`/`stream` themselves, and
`model_errors()` does the same for any other block of code.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import (
    AssistantError,
    ConfigError,
    ModelError,
    ModelServerFault,
    ModelServerUnreachable,
    ModelUnavailable,
    UnknownModelSpec,
)

__all__ = [
    "BACKENDS",
    "ModelSpec",
    "build_chat_model",
    "model_errors",
    "parse_model_spec",
    "server_url",
    "translate_model_error",
]

BACKENDS = ("bundled", "hf", "openai", "ollama", "llamacpp")
FORMS = "bundled, hf:<path-or-id>, openai:<model>[@<base-url>], ollama:<model>, llamacpp:<gguf-path>"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed `--model` value. `target` is the path, id or model name ("" for bundled)."""

    backend: str
    target: str = ""
    base_url: str | None = None

    def __str__(self) -> str:
        if self.backend == "bundled":
            return "bundled"
        return f"{self.backend}:{self.target}" + (f"@{self.base_url}" if self.base_url else "")


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse a model spec string; anything malformed raises `UnknownModelSpec` listing the forms."""
    text = (spec or "").strip()
    if text.lower() == "bundled":
        return ModelSpec("bundled")
    backend, sep, target = text.partition(":")
    backend, target = backend.strip().lower(), target.strip()
    if not sep or backend not in BACKENDS or backend == "bundled":
        shown = f"unknown model spec {text!r}" if text else "empty model spec"
        raise UnknownModelSpec(f"{shown}; use one of: {FORMS}")
    base_url = None
    if backend == "openai" and "@" in target:
        target, _, base_url = (part.strip() for part in target.partition("@"))
        if not base_url.startswith(("http://", "https://")):
            raise UnknownModelSpec(f"bad base URL {base_url!r} in {text!r}; write openai:<model>@http://host:port/v1")
    if not target:
        form = next(f for f in FORMS.split(", ") if f.startswith(backend))
        raise UnknownModelSpec(f"{text!r} names no model; write {form}")
    return ModelSpec(backend, target, base_url)


def build_chat_model(
    spec: str | ModelSpec,
    *,
    max_new_tokens: int = 512,
    temperature: float = 0.0,
    dtype: str | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 120.0,
) -> Any:
    """A LangChain `BaseChatModel` for `spec`. Cheap: weights load and connections open on first use.
    `dtype` is the decoding precision of local transformers models (bundled, hf:); servers ignore it.
    Server clients give up after `connect_timeout` s connecting and `read_timeout` s of silence
    (before the reply or in the middle of a stream) instead of their defaults (~10 min)."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    if parsed.backend in ("openai", "ollama"):
        import httpx

        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        model = (_openai if parsed.backend == "openai" else _ollama)(parsed, max_new_tokens, temperature, timeout)
        return model
    builders = {"bundled": _bundled, "hf": _hf, "llamacpp": _llamacpp}
    model = builders[parsed.backend](parsed, max_new_tokens, temperature)
    if dtype is not None and parsed.backend in ("bundled", "hf"):
        model.dtype = dtype
    return model


def _bundled(spec: ModelSpec, max_new_tokens: int, temperature: float) -> Any:
    from assistant.local.bundled import bundled_gguf_path, converted_model_dir, load_bundled
    from assistant.local.local_chat import LocalChatModel
    from assistant.local.prepared import PreparedCache

    bundled_gguf_path()  # fail now, not on the first message, when the package is missing
    return LocalChatModel(
        loader=load_bundled,
        prepared=PreparedCache(converted_model_dir, label="bundled model"),
        model_name="SmolLM2-135M-Instruct (bundled)",
        max_new_tokens=max_new_tokens,
        temperature=temperature,
    )


def _hf(spec: ModelSpec, max_new_tokens: int, temperature: float) -> Any:
    from assistant.local.bundled import load_model_dir
    from assistant.local.local_chat import LocalChatModel

    target = spec.target
    path = Path(target).expanduser()
    label = f"model {target}"
    if path.is_file() and path.suffix == ".gguf":
        loader = functools.partial(load_model_dir, path.parent, gguf_file=path.name, label=label)
    elif path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailable(f"{path} is not a transformers model directory (it has no config.json)")
        loader = functools.partial(load_model_dir, path, label=label)
    elif _looks_like_path(target):
        raise ModelUnavailable(f"no model directory or .gguf file at {path}")
    elif cached := _hub_cache_dir(target):
        loader = functools.partial(load_model_dir, cached, label=label)
    elif _hub_offline():
        raise ModelUnavailable(
            f"hf:{target} is not a local directory nor in the Hugging Face cache, and the hub is offline; "
            f"pass a model directory, e.g. --model hf:./models/{target.rsplit('/', 1)[-1]}"
        )
    else:  # transformers downloads it on first use
        loader = functools.partial(load_model_dir, target, label=label)
    return LocalChatModel(loader=loader, model_name=target, max_new_tokens=max_new_tokens, temperature=temperature)


def _looks_like_path(target: str) -> bool:
    return (
        target.startswith((".", "/", "~", "\\"))
        or target.count("/") > 1
        or "\\" in target
        or target.endswith(".gguf")
        or (len(target) > 1 and target[1] == ":")
    )


def _hub_cache_dir(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except (ImportError, ValueError):  # no hub client, or not a valid repo id
        return None
    return Path(found).parent if isinstance(found, str) else None


def _hub_offline() -> bool:
    flags = (os.environ.get(v, "").lower() for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in ("1", "true", "yes", "on") for flag in flags)


def _openai(spec: ModelSpec, max_new_tokens: int, temperature: float, timeout: Any) -> Any:
    from langchain_openai import ChatOpenAI  # a core dependency: the way to any capable model
    base_url = spec.base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key and not base_url:
        raise ConfigError(
            f"--model {spec} needs OPENAI_API_KEY, or a local server: openai:{spec.target}@http://127.0.0.1:8000/v1"
        )
    return _translating(ChatOpenAI)(
        model=spec.target,
        base_url=base_url,
        api_key=api_key or "not-needed",
        temperature=temperature,
        max_tokens=max_new_tokens,
        max_retries=0,  # a retry would double the wait the timeouts promise
        timeout=timeout,
        stream_usage=True,
    )


def _ollama(spec: ModelSpec, max_new_tokens: int, temperature: float, timeout: Any) -> Any:
    ChatOllama = _extra("langchain_ollama", "ChatOllama", "ollama", spec)
    host = os.environ.get("OLLAMA_HOST", "").strip()
    base_url = (host if "://" in host else f"http://{host}") if host else OLLAMA_DEFAULT_URL
    return _translating(ChatOllama)(
        model=spec.target, base_url=base_url, temperature=temperature, num_predict=max_new_tokens,
        client_kwargs={"timeout": timeout},
    )


def _llamacpp(spec: ModelSpec, max_new_tokens: int, temperature: float) -> Any:
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelUnavailable(f"--model {spec} needs llama-cpp-python: pip install 'throughline[llamacpp]'")
    path = Path(spec.target).expanduser()
    if not path.is_file():
        raise ModelUnavailable(f"no GGUF file at {path}")
    from assistant.local.llamacpp_chat import LlamaCppChatModel

    return LlamaCppChatModel(model_path=str(path), max_new_tokens=max_new_tokens, temperature=temperature)


def _extra(module: str, name: str, extra: str, spec: ModelSpec) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ModelUnavailable(f"--model {spec} needs {module}: pip install 'throughline[{extra}]'") from exc


@functools.cache
def _translating(cls: type) -> type:
    """A subclass of a server chat model whose calls raise our errors instead of client errors."""

    class Translating(cls):  # type: ignore[valid-type, misc]
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            with model_errors(self, server_call=True):
                return super()._generate(*args, **kwargs)

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with model_errors(self, server_call=True):
                chunks = 0
                for chunk in super()._stream(*args, **kwargs):
                    chunks += 1
                    yield chunk
                if not chunks:  # a body that is no event stream at all (HTML, plain JSON) parses as nothing
                    raise ModelServerFault(
                        f"the model server at {server_url(self)} answered with no stream of reply chunks; "
                        "check that it is an OpenAI-compatible server"
                    )

        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            with model_errors(self, server_call=True):
                return await super()._agenerate(*args, **kwargs)

        async def _astream(self, *args: Any, **kwargs: Any) -> Any:
            with model_errors(self, server_call=True):
                async for chunk in super()._astream(*args, **kwargs):
                    yield chunk

    Translating.__name__ = Translating.__qualname__ = cls.__name__
    return Translating


def server_url(model: Any) -> str | None:
    """The URL a server-backed chat model talks to; None for in-process models."""
    if hasattr(model, "openai_api_base"):
        return model.openai_api_base or OPENAI_DEFAULT_URL
    if type(model).__name__ == "ChatOllama":
        return getattr(model, "base_url", None) or OLLAMA_DEFAULT_URL
    return None


@contextlib.contextmanager
def model_errors(where: Any = None, *, server_call: bool = False) -> Iterator[None]:
    """Re-raise model client errors inside the block as our errors. `where`: a URL or a chat model.

    With `server_call` the block is only a server client's call, so *any* failure in it (a reply
    that is not JSON, a JSON of the wrong shape, an HTTP 5xx) is the server's: `ModelServerFault`."""
    try:
        yield
    except AssistantError:
        raise
    except Exception as exc:
        url = where if isinstance(where, str | None) else server_url(where)
        translated = translate_model_error(exc, url)
        if translated is None and server_call:
            translated = ModelServerFault(
                f"the model server at {url or 'the configured URL'} sent a reply that could not be used "
                f"({_reason(_causes(exc))}); check that it is an OpenAI-compatible server and that it is healthy"
            )
        if translated is None:
            raise
        raise translated from exc


_CONNECTION_ERRORS = {"APIConnectionError", "TransportError", "ConnectError", "ConnectionError"}


def translate_model_error(exc: BaseException, url: str | None = None) -> AssistantError | None:
    """Our error for a model client's exception (openai, httpx, Ollama), or None if it is not one."""
    if isinstance(exc, AssistantError):
        return exc
    chain = _causes(exc)
    where = url or "the configured URL"
    if any(isinstance(e, ConnectionError | socket.gaierror) or _named(e, _CONNECTION_ERRORS) for e in chain):
        return ModelServerUnreachable(
            f"cannot reach the model server at {where}: {_reason(chain)}; start it or pick another --model"
        )
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return ModelError(f"the model server at {where} refused the request (HTTP {status}); check OPENAI_API_KEY")
    if status == 404:
        return ModelUnavailable(f"the model server at {where} has no such model or endpoint (HTTP 404)")
    if isinstance(status, int) and status >= 500:
        return ModelServerFault(f"the model server at {where} failed (HTTP {status}); check its logs, or retry")
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _named(exc: BaseException, names: set[str]) -> bool:
    return any(cls.__name__ in names for cls in type(exc).__mro__)


def _reason(chain: list[BaseException]) -> str:
    for exc in chain:
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, socket.gaierror):
            return "unknown host"
        if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
            return "timed out"
    deepest = chain[-1]
    return f"{type(deepest).__name__}: {' '.join(str(deepest).split())[:120]}"
