"""The plugin's tool: unit conversion, exact and deterministic.

    convert_units(26.2, "miles", "km")    # 42.1648128
"""

from __future__ import annotations

from tools import tool

# unit -> (dimension, factor to the base unit of that dimension)
_UNITS: dict[str, tuple[str, float]] = {}
for names, dimension, factor in [
    (("m", "meter", "meters", "metre", "metres"), "length", 1.0),
    (("km", "kilometer", "kilometers", "kilometre", "kilometres"), "length", 1000.0),
    (("cm", "centimeter", "centimeters", "centimetre", "centimetres"), "length", 0.01),
    (("mm", "millimeter", "millimeters", "millimetre", "millimetres"), "length", 0.001),
    (("mi", "mile", "miles"), "length", 1609.344),
    (("yd", "yard", "yards"), "length", 0.9144),
    (("ft", "foot", "feet"), "length", 0.3048),
    (("in", "inch", "inches"), "length", 0.0254),
    (("kg", "kilogram", "kilograms", "kilo", "kilos"), "mass", 1.0),
    (("g", "gram", "grams"), "mass", 0.001),
    (("lb", "lbs", "pound", "pounds"), "mass", 0.45359237),
    (("oz", "ounce", "ounces"), "mass", 0.028349523125),
    (("l", "liter", "liters", "litre", "litres"), "volume", 1.0),
    (("ml", "milliliter", "milliliters", "millilitre", "millilitres"), "volume", 0.001),
    (("gal", "gallon", "gallons"), "volume", 3.785411784),
    (("cup", "cups"), "volume", 0.2365882365),
]:
    for name in names:
        _UNITS[name] = (dimension, factor)
_TEMPERATURES = {"c": "C", "celsius": "C", "°c": "C", "f": "F", "fahrenheit": "F", "°f": "F", "k": "K", "kelvin": "K"}


def known_unit(name: str) -> bool:
    key = name.strip().lower()
    return key in _UNITS or key in _TEMPERATURES


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a measurement between units of length, mass, volume or temperature.

    Args:
        value: the amount to convert.
        from_unit: the unit it is in, e.g. "miles", "kg", "F".
        to_unit: the unit wanted, e.g. "km", "pounds", "celsius".
    """
    a, b = from_unit.strip().lower(), to_unit.strip().lower()
    if a in _TEMPERATURES and b in _TEMPERATURES:
        celsius = {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[_TEMPERATURES[a]]
        return {"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[_TEMPERATURES[b]]
    if a not in _UNITS or b not in _UNITS:
        unknown = a if a not in _UNITS else b
        raise ValueError(f"unknown unit {unknown!r}")
    (dim_a, fa), (dim_b, fb) = _UNITS[a], _UNITS[b]
    if dim_a != dim_b:
        raise ValueError(f"cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit})")
    return value * fa / fb


def register(registry) -> None:
    """The `throughline.tools` entry point."""
    registry.register(convert_units)
