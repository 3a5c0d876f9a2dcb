"""`assistant ask`'s resident agent: the loaded model, memory and router kept in one background
process between `ask`s, as Ollama keeps a model loaded, so a new `ask` costs a connection instead
of seconds of imports and loading.

- `place.py`: where its socket lives and which agent an `ask` may reuse (the key).
- `wire.py`: the conversation over that socket, one JSON object a line.
- `client.py`: what `ask` runs: reach the agent (starting it when there is none), send the
  request, hand back the turn's events; answers code approvals on the person's terminal.
- `server.py`: the agent process (`python -m assistant.resident.server`): exits after
  `keep_alive` seconds without a turn, when its socket is taken away, or on SIGTERM, closing the
  store (pending writes, summaries) first.

Only the client is imported by `ask`: it needs no torch, Chroma or LangChain.
"""
