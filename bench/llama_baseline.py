"""llama-cpp-python as the benches' baseline: is it installed, and does its fastest path run here.

ggml registers "extra" CPU buffer types (AMX tiles, repacked weights) when the CPU has them. On
this project's KVM machine (Sapphire Rapids class, amx_int8) ggml's AMX matrix product crashed
(SIGSEGV in `ggml_backend_amx_mul_mat`) on any prompt longer than one token, with llama-cpp-python
0.3.36 built for the native CPU. So the benches first try a two-token prompt in a new process; if
that crashes, every llama.cpp run of the bench loads the model with `use_extra_bufts = False` and
the bench says so. For the bundled Q4_1 GGUF that only drops the AMX path: ggml repacks Q4_0, Q4_K,
IQ4_NL and Q8_0 weights, not Q4_1, so the baseline keeps its AVX-512 kernels.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys

NO_EXTRA_BUFFERS = """
import llama_cpp.llama_cpp as _low
_defaults = _low.llama_model_default_params
def _without_extra_buffers():
    params = _defaults()
    params.use_extra_bufts = False  # ggml's AMX buffer type crashed here (bench/llama_baseline.py)
    return params
_low.llama_model_default_params = _without_extra_buffers
"""

_PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, verbose=False)
llm.create_completion("Hi there", max_tokens=1)
"""


def installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


@functools.cache
def prelude(gguf: str) -> str:
    """Code to run before `from llama_cpp import Llama` in a baseline process: empty when llama.cpp's
    default path runs on this machine, else the switch that leaves out ggml's extra buffer types."""
    probe = subprocess.run([sys.executable, "-c", _PROBE, gguf], capture_output=True, text=True, timeout=300)
    if probe.returncode == 0:
        return ""
    print(f"llama.cpp crashed on a two-token prompt (exit {probe.returncode}); its runs here leave out "
          "ggml's extra CPU buffer types (AMX): see bench/llama_baseline.py", flush=True)
    return NO_EXTRA_BUFFERS
