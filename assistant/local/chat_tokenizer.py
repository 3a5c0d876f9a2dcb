"""A chat model's tokenizer without transformers: `tokenizers` for the ids, jinja2 for the template.

transformers' tokenizer classes cost ~0.9 s to import on this machine, more than the rest of a
prepared model's load (see `assistant.local.prepared`). This reads the files transformers saved beside
the model (tokenizer.json, tokenizer_config.json, chat_template.jinja) and renders the chat
template as transformers does: a sandboxed jinja2 environment with trim_blocks and lstrip_blocks,
the rendered text then tokenized without adding special tokens. A test checks its ids against
transformers' on several conversations.

It offers the part of a transformers tokenizer that decoding uses: `apply_chat_template`,
`decode`, `__call__` and `eos_token_id`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any


def _token_text(value: Any) -> str | None:
    """tokenizer_config.json gives special tokens as text or as {"content": text, ...}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class ChatTokenizer:
    def __init__(self, folder: str | Path) -> None:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        from tokenizers import Tokenizer

        folder = Path(folder)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        template_file = folder / "chat_template.jinja"
        template = template_file.read_text(encoding="utf-8") if template_file.is_file() else config.get("chat_template")
        if not isinstance(template, str) or not template:
            raise ValueError(f"no chat template in {folder}")
        self.chat_template = template
        self.bos_token = _token_text(config.get("bos_token"))
        self.eos_token = _token_text(config.get("eos_token"))
        self.eos_token_id = self._tokenizer.token_to_id(self.eos_token) if self.eos_token else None
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self._template = env.from_string(template)

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        return self._template.render(
            messages=messages, add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token or "", eos_token=self.eos_token or "",
        )

    def apply_chat_template(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = False, tokenize: bool = True
    ) -> list[int] | str:
        """The conversation's token ids (or, with tokenize=False, its text)."""
        text = self.render(messages, add_generation_prompt)
        return self._tokenizer.encode(text, add_special_tokens=False).ids if tokenize else text

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": self._tokenizer.encode(text).ids}

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)


def _raise(message: str) -> None:
    from jinja2.exceptions import TemplateError

    raise TemplateError(message)
