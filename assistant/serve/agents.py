"""One `Assistant` per memory namespace, all sharing the chat model, the chains and the router.

A namespace is an Assistant's `user` (its memory collection and its sessions dir); the heavy
parts are the model and the router, built once and handed to every namespace's Assistant.
With a Chroma server (`--memory-url`) sessions live there too unless `shared_sessions = false`,
so any replica can continue any thread; the embedded default keeps them as files.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from assistant.serve.config import ServeConfig

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.agent import Assistant
    from assistant.settings import Settings

LOCAL_MODEL_PARALLEL = 1
SERVER_MODEL_PARALLEL = 8


class Agents:
    def __init__(self, settings: "Settings", config: ServeConfig, chat_model: "BaseChatModel | None" = None) -> None:
        self.settings = settings
        self.config = config
        self._chat_model = chat_model
        self._bots: dict[str, "Assistant"] = {}
        self._lock = threading.Lock()

    @property
    def parallel(self) -> int:
        """Turns that may generate at once: the config's, else 1 for a model in this process."""
        if self.config.parallel:
            return self.config.parallel
        local = self.settings.model.split(":", 1)[0] in ("bundled", "hf", "llamacpp")
        if self._chat_model is not None:
            local = getattr(self._chat_model, "_llm_type", "") == "throughline-local"
        return LOCAL_MODEL_PARALLEL if local else SERVER_MODEL_PARALLEL

    def get(self, namespace: str) -> "Assistant":
        with self._lock:
            bot = self._bots.get(namespace)
            if bot is None:
                bot = self._bots[namespace] = self._build(namespace)
            return bot

    def default(self) -> "Assistant":
        return self.get(self.settings.user)

    def _build(self, namespace: str) -> "Assistant":
        from assistant.agent import Assistant

        first = next(iter(self._bots.values()), None)
        sessions = None
        if self.settings.memory_url and self.config.shared_sessions:
            from assistant.shared_sessions import SharedSessionStore

            sessions = SharedSessionStore(self.settings.data_dir, namespace, self.settings.memory_url)
        return Assistant(
            settings=self.settings, user=namespace, auto_run=self.config.approval == "auto",
            chat_model=first.model if first else self._chat_model, chains=first.chains if first else None,
            router=first.router if first else None, sessions=sessions,
        )

    def close(self) -> None:
        with self._lock:
            bots, self._bots = list(self._bots.values()), {}
        for bot in bots:
            bot.close()
