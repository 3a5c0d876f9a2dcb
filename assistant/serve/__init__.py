"""`assistant serve`: the agent over HTTP — an OpenAI-compatible chat endpoint, Throughline's
memories, sessions and routing, and the typed events as SSE (see app.py, resources.py).

Only this package imports fastapi and uvicorn, and only when the server starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.serve.config import ServeConfig
    from assistant.settings import Settings


def serve(settings: "Settings", config: "ServeConfig", *, chat_model: Any = None, log_level: str = "info") -> None:
    """Run the server until interrupted (uvicorn handles SIGINT/SIGTERM gracefully)."""
    import uvicorn

    from assistant.serve.app import create_app

    import sys

    # The event loop and the turns' threads hand events to one another many times a turn; the
    # default 5 ms GIL switch interval would make each hand-off wait that long behind a busy thread.
    sys.setswitchinterval(0.0005)
    app = create_app(settings, config, chat_model=chat_model)
    uvicorn.run(app, host=config.host, port=config.port, log_level=log_level, access_log=False,
                timeout_graceful_shutdown=10)
