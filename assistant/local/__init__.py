"""The local inference engine: the bundled model (and `hf:` models) decoding in this process.

The agent needs only this surface: `LocalChatModel` (a LangChain chat model), the loaders that find
and convert the bundled model, and `DTYPES`, the kernel choices. Everything else here (the Llama
forward, kernels, prepared weights, the KV-prefix cache, the chat template) is the engine's own, so
it can be read, measured and replaced without touching `assistant/`. Names resolve on first access:
importing this package never imports torch. `ASSISTANT_CPU_CAPABILITY` (see `cpu`) is applied here.
"""

from __future__ import annotations

from assistant._lazy import lazy_getattr

from assistant.local.cpu import apply_forced_capability

apply_forced_capability()  # before anything here imports torch: torch reads it once, on load

_WHERE = {
    "DTYPES": "assistant.local.kernels",
    "LlamaCppChatModel": "assistant.local.llamacpp_chat",
    "LocalChatModel": "assistant.local.local_chat",
    "bundled_gguf_path": "assistant.local.bundled",
    "converted_model_dir": "assistant.local.bundled",
    "load_bundled": "assistant.local.bundled",
    "load_model_dir": "assistant.local.bundled",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_getattr(__name__, _WHERE)
