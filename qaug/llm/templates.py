"""Which chat template formats a model's prompts, and where that choice came from.

The GGUF's own `tokenizer.chat_template` wins. Some files have none (gemma-3-270m), and
llama-cpp-python then silently formats them as llama-2 `[INST]`, which is wrong for the
model; qaug instead picks the architecture's real format, and `--chat-template` overrides
both. Rendering goes through llama-cpp-python's Jinja2 formatter, so the GGUF's template and
our fallbacks run in the same sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaug.errors import ModelError

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Gemma has no system role: the system text opens the first user turn, as Google's template does.
GEMMA = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% else %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{{ '<start_of_turn>' + role + '\n' + (ns.system if loop.index0 <= 1 and role == 'user' else '') "
    "+ message['content'] | trim + '<end_of_turn>\n' }}"
    "{% set ns.system = '' if role == 'user' else ns.system %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
PHI3 = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + ns.system + message['content'] + ' [/INST]' }}"
    "{% set ns.system = '' %}"
    "{% else %}{{ message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)

BUILTIN = {"chatml": CHATML, "gemma": GEMMA, "llama3": LLAMA3, "phi3": PHI3, "mistral": MISTRAL}
ARCH_FALLBACK = {
    "qwen2": "chatml", "qwen2moe": "chatml", "qwen3": "chatml", "qwen3moe": "chatml", "qwen2vl": "chatml",
    "gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "gemma3n": "gemma",
    "llama": "llama3", "phi3": "phi3", "mistral": "mistral", "mistral3": "mistral",
}


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template and a human-readable account of where it came from."""

    name: str
    source: str
    text: str


def resolve_template(architecture: str, gguf_template: str | None, override: str | None = None) -> ChatTemplate:
    """--chat-template (builtin name or .jinja file) > the GGUF's template > the architecture's fallback."""
    if override:
        if override in BUILTIN:
            return ChatTemplate(override, "--chat-template", BUILTIN[override])
        path = Path(override)
        if path.is_file():
            return ChatTemplate(path.name, f"--chat-template file {path}", path.read_text(encoding="utf-8"))
        raise ModelError(f"--chat-template: {override!r} is neither a built-in ({', '.join(BUILTIN)}) nor a file")
    if gguf_template:
        return ChatTemplate("gguf", "the GGUF file (tokenizer.chat_template)", gguf_template)
    name = ARCH_FALLBACK.get(architecture)
    if name is None:
        raise ModelError(f"the model ({architecture}) has no chat template and qaug knows no fallback for it; "
                         f"pass --chat-template with one of {', '.join(BUILTIN)} or a .jinja file")
    return ChatTemplate(name, f"qaug fallback for {architecture} (the GGUF has no template)", BUILTIN[name])


class PromptFormatter:
    """Renders messages to prompt text with one compiled template."""

    def __init__(self, template: ChatTemplate, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.template = template
        try:
            self._fmt = Jinja2ChatFormatter(template=template.text, bos_token=bos_token, eos_token=eos_token,
                                            add_generation_prompt=True)
        except Exception as exc:  # jinja2 syntax errors and the like
            raise ModelError(f"chat template from {template.source} does not compile: {exc}") from None

    def render(self, messages: list[dict[str, Any]]) -> str:
        try:
            # llama_cpp types messages as its TypedDicts; these plain dicts have the same keys
            return self._fmt(messages=messages).prompt  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - a template may raise_exception() on role order
            raise ModelError(f"chat template from {self.template.source} failed to render: {exc}") from None
