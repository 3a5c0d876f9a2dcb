"""How many tokens of memories, artifacts and history a prompt gets, when the config does not say.

The budget buys recall (LoCoMo dev, bench_recall_e2e: more of the evidence reaches the prompt as it
grows) and costs prefill: every token of it is read before the first token of the reply. Which of
the two binds depends on the model:

- A model that runs on this machine's CPU (the bundled SmolLM2-135M, any `hf:` model, a llama.cpp
  GGUF) pays for the budget in time to first token, on the person's own cores. It keeps
  LOCAL_CONTEXT_TOKENS: a prompt that fills it already misses the bundled model's TTFT target
  (bench_turn, p50 <= 0.3 s with 10k memories; 0.49-0.57 s measured on a 2-core machine), and
  time to first token grows with the tokens spent (1.3-1.6x for 1200 -> 1700).
- Ollama runs on the person's machine too, and its server truncates a prompt longer than its
  window (2048-4096 tokens by default unless `num_ctx` is set): the local budget, or a share of
  `num_ctx` when it is set.
- Any other chat model (an OpenAI-compatible server, or a chat model passed to
  `Assistant(chat_model=...)`) is served elsewhere on hardware built for prefill: it gets a share
  of its context window (LangChain's model profile, `max_input_tokens`) up to
  SERVED_CONTEXT_TOKENS, or SERVED_CONTEXT_TOKENS itself when the window is unknown: servers of
  chat models have windows of 8k tokens and more.

`context_tokens` in the config (or ASSISTANT_CONTEXT_TOKENS) overrides all of this.
"""

from __future__ import annotations

from typing import Any

LOCAL_CONTEXT_TOKENS = 1200
SERVED_CONTEXT_TOKENS = 3000
WINDOW_SHARE = 0.25   # of a known context window: the rest is the system prompt, the request and the reply


def _in_process(model: Any) -> bool:
    from assistant.local.streaming import StreamingChatModel   # the base of both in-process models

    return isinstance(model, StreamingChatModel)


def _profile_window(model: Any) -> int | None:
    """The model's context window in tokens, where its LangChain profile says it."""
    profile = getattr(model, "profile", None) or {}
    window = profile.get("max_input_tokens") if isinstance(profile, dict) else None
    return int(window) if isinstance(window, int) and window > 0 else None


def context_budget(model: Any, configured: int | None = None) -> int:
    """The prompt's context budget for `model`: `configured` when the person set one."""
    if configured is not None:
        return configured
    if _in_process(model):
        return LOCAL_CONTEXT_TOKENS
    if type(model).__name__ == "ChatOllama":
        window = getattr(model, "num_ctx", None)
        return int(window * WINDOW_SHARE) if window else LOCAL_CONTEXT_TOKENS
    window = _profile_window(model)
    if window is None:
        return SERVED_CONTEXT_TOKENS
    return min(SERVED_CONTEXT_TOKENS, int(window * WINDOW_SHARE))
