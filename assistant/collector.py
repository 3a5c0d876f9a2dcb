"""The cycle collector held off while one of our processes loads, and what it loaded frozen after.

Getting ready allocates ~290k objects that live as long as the process (torch, transformers,
Chroma, LangChain, the model's modules), and each generation-2 collection walks all of them again:
in `assistant ask` answering in its own process, 5 such collections in the first 3.2 s took 25-207
ms each, ~0.5 s of a 5.2 s `ask`, holding the interpreter lock while the model loaded and memory
opened (AMD EPYC, 2 vCPUs). Loading leaves little cyclic garbage, so the collector waits until the
process is ready; `gc.freeze()` then moves what was loaded out of every later collection.

It changes the whole process's heap, so only our own processes call it (`assistant ask` answering
here, the resident agent), never the `Assistant` a program embeds.
"""

from __future__ import annotations

import gc
import threading
from typing import Callable


def paused_until_ready() -> Callable[[], None]:
    """Pause the cycle collector now; the function returned (call it when the process is ready, from
    any thread, as often as convenient) freezes what exists then and lets the collector run again."""
    was_enabled = gc.isenabled()
    gc.disable()
    once = threading.Lock()

    def ready() -> None:
        if not once.acquire(blocking=False):
            return
        gc.freeze()
        if was_enabled:
            gc.enable()

    return ready
