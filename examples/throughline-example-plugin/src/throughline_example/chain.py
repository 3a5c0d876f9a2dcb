"""The plugin's chain: `units` answers conversion requests with the `convert_units` tool.

A chain is anything with `name`, `description`, `prefix`, `examples` (routing examples: the router
learns the new route from them), `system_prompt`, `extra_context(run)` and a `run(run, messages)`
generator that yields events and returns a ChainResult.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from assistant.chains.base import ChainResult, stream_model
from assistant.events import Token, ToolFinished, ToolStarted

from throughline_example.units import convert_units, known_unit

EXAMPLES = (
    "convert 5 miles to kilometers",
    "how many kilometres is 26.2 miles?",
    "what is 100 fahrenheit in celsius",
    "convert 3.5 feet to meters",
    "how many pounds is 70 kg",
    "12 inches in centimetres",
    "convert 2 gallons to liters",
    "how many grams are in 8 ounces",
    "what's 30 degrees celsius in fahrenheit",
    "turn 500 ml into cups",
    "how many feet in a mile",
    "convert 180 cm to feet",
    "10 km in miles",
    "what is 0 kelvin in celsius",
    "how heavy is 150 lbs in kilograms",
    "convert 1.5 litres to millilitres",
    "how many yards is 100 meters",
    "express 5 ft in inches",
)
_REQUEST = re.compile(
    r"(?P<value>-?\d+(?:\.\d+)?)\s*(?:°\s*)?(?:degrees?\s+)?(?P<src>[a-z°]+)\s+(?:to|in|into|as)\s+(?:°\s*)?(?:degrees?\s+)?"
    r"(?P<dst>[a-z°]+)|(?:how many|how much)\s+(?P<dst2>[a-z]+)\s+(?:is|are|in|is in|are in)\s+(?:a\s+|an\s+)?"
    r"(?P<value2>-?\d+(?:\.\d+)?)?\s*(?P<src2>[a-z]+)", re.I)


def parse(request: str) -> tuple[float, str, str] | None:
    for match in _REQUEST.finditer(request.lower()):
        if match.group("value"):
            value, src, dst = float(match.group("value")), match.group("src"), match.group("dst")
        else:
            value, src, dst = float(match.group("value2") or 1), match.group("src2"), match.group("dst2")
        if known_unit(src) and known_unit(dst):
            return value, src, dst
    return None


@dataclass
class UnitsChain:
    name: str = "units"
    description: str = "unit conversions (length, mass, volume, temperature) — example plugin"
    prefix: str = "/units"
    examples: tuple[str, ...] = field(default=EXAMPLES)
    system_prompt: str = "You convert measurements between units. Answer with the number and the unit."

    def extra_context(self, run) -> list[str]:
        return []

    def run(self, run, messages):
        parsed = parse(run.request)
        if parsed is None:  # not a shape we know: let the model answer
            text, tokens = yield from stream_model(run.model, messages)
            return ChainResult(text=text.strip(), tokens=tokens)
        value, src, dst = parsed
        yield ToolStarted(name="convert_units", arguments={"value": value, "from_unit": src, "to_unit": dst})
        start = time.perf_counter()
        result = convert_units.invoke({"value": value, "from_unit": src, "to_unit": dst})
        yield ToolFinished(name="convert_units", result=result.output, error=result.error,
                           duration_s=round(time.perf_counter() - start, 4))
        if not result.ok:
            text = f"I could not convert that: {result.error}"
        else:
            text = f"{value:g} {src} = {result.output:.6g} {dst}"
        yield Token(text)
        return ChainResult(text=text)


def register(registry) -> None:
    """The `throughline.chains` entry point."""
    registry.register(UnitsChain(), origin="plugin units")
