"""Widgets of the chat UI; each talks to its screen by posting its own nested Message classes."""
