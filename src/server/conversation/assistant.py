"""The assistant of one call: the server's defaults with the call's own settings on top.

`start.assistant` may set the system prompt, greeting, turn limit, end-of-call phrases and
tools; every value is checked against limits the server sets, and a bad one is an
INVALID_ARGUMENT with one BadRequest violation per field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..platform.errors import invalid_argument
from .config import ConversationConfig

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_DESCRIPTION_CHARS = 1000
MAX_PHRASE_CHARS = 100
MAX_FILLER_CHARS = 200


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]

    def openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass
class AssistantParams:
    """The call's requested settings, as sent (empty / zero = the server's default)."""

    system_prompt: str = ""
    greeting: str = ""
    no_greeting: bool = False
    max_turns: int = 0
    end_phrases: list[str] = field(default_factory=list)
    tools: list[tuple[str, str, str]] = field(default_factory=list)  # (name, description, schema JSON)
    tool_timeout_s: float = 0.0
    tool_filler: str = ""


@dataclass(frozen=True)
class Assistant:
    system_prompt: str
    greeting: str
    max_turns: int  # 0: the call is never ended for its length
    end_phrases: tuple[str, ...]
    tools: tuple[Tool, ...]
    tool_timeout_s: float
    tool_filler: str

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    def ends_call(self, reply: str) -> bool:
        lowered = reply.lower()
        return any(p in lowered for p in self.end_phrases)


def default_phrases(config: ConversationConfig) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in config.end_phrases.split(",") if p.strip())


def resolve(params: AssistantParams, config: ConversationConfig) -> Assistant:
    """The call's assistant, or INVALID_ARGUMENT naming every setting out of bounds."""
    bad: list[tuple[str, str]] = []
    where = "start.assistant."
    if len(params.system_prompt) > config.max_prompt_chars:
        bad.append(
            (
                where + "system_prompt",
                f"{len(params.system_prompt)} characters; at most {config.max_prompt_chars}",
            )
        )
    if len(params.greeting) > config.max_greeting_chars:
        bad.append((where + "greeting", f"at most {config.max_greeting_chars} characters"))
    if not 0 <= params.max_turns <= config.max_turns_limit:
        bad.append((where + "max_turns", f"must be 0..{config.max_turns_limit}, got {params.max_turns}"))
    if len(params.end_phrases) > config.max_end_phrases:
        bad.append((where + "end_phrases", f"at most {config.max_end_phrases} phrases"))
    elif any(not p.strip() or len(p) > MAX_PHRASE_CHARS for p in params.end_phrases):
        bad.append((where + "end_phrases", f"each phrase needs 1..{MAX_PHRASE_CHARS} characters"))
    if not 0 <= params.tool_timeout_s <= config.max_tool_timeout_s:
        bad.append((where + "tool_timeout", f"must be 0..{config.max_tool_timeout_s:g} s"))
    if len(params.tool_filler) > MAX_FILLER_CHARS:
        bad.append((where + "tool_filler", f"at most {MAX_FILLER_CHARS} characters"))
    tools = _tools(params.tools, config, bad)
    if bad:
        raise invalid_argument("invalid assistant settings", bad, reason="INVALID_ASSISTANT")
    greeting = "" if params.no_greeting else (params.greeting.strip() or config.greeting)
    phrases = tuple(p.strip().lower() for p in params.end_phrases) or default_phrases(config)
    return Assistant(
        system_prompt=params.system_prompt.strip() or config.system_prompt,
        greeting=greeting,
        max_turns=params.max_turns or config.max_turns,
        end_phrases=phrases,
        tools=tools,
        tool_timeout_s=params.tool_timeout_s or config.tool_timeout_s,
        tool_filler=params.tool_filler.strip() or config.tool_filler,
    )


def _tools(
    declared: list[tuple[str, str, str]], config: ConversationConfig, bad: list[tuple[str, str]]
) -> tuple[Tool, ...]:
    if len(declared) > config.max_tools:
        bad.append(("start.assistant.tools", f"{len(declared)} tools; at most {config.max_tools}"))
        return ()
    tools: list[Tool] = []
    seen: set[str] = set()
    for i, (name, description, schema) in enumerate(declared):
        where = f"start.assistant.tools[{i}]"
        if not TOOL_NAME.match(name):
            bad.append((where + ".name", "1..64 letters, digits, '_' or '-'"))
            continue
        if name in seen:
            bad.append((where + ".name", f"tool {name!r} is declared twice"))
            continue
        seen.add(name)
        if len(description) > MAX_DESCRIPTION_CHARS:
            bad.append((where + ".description", f"at most {MAX_DESCRIPTION_CHARS} characters"))
        parameters = _schema(schema, where + ".parameters_json", config, bad)
        if parameters is not None:
            tools.append(Tool(name, description, parameters))
    return tuple(tools)


def _schema(
    text: str, where: str, config: ConversationConfig, bad: list[tuple[str, str]]
) -> dict[str, Any] | None:
    if not text.strip():
        return {"type": "object", "properties": {}}
    if len(text.encode()) > config.max_tool_schema_bytes:
        bad.append((where, f"at most {config.max_tool_schema_bytes} bytes"))
        return None
    try:
        schema = json.loads(text)
    except ValueError as exc:
        bad.append((where, f"not JSON: {exc}"))
        return None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        bad.append((where, 'must be a JSON schema object with "type": "object"'))
        return None
    props = schema.get("properties", {})
    if not isinstance(props, dict) or not all(isinstance(v, dict) for v in props.values()):
        bad.append((where, '"properties" must map names to schemas'))
        return None
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) and r in props for r in required):
        bad.append((where, '"required" must list names defined in "properties"'))
        return None
    return schema
