"""An example Throughline plugin: a unit-conversion tool and a `units` chain."""
