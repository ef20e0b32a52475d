"""What an AI column returns, enforced with structured outputs (``json_schema``, ``strict: true``).

Every answer is a JSON object ``{"value": …}`` whose schema depends on the output type:

=========  ==========================================  =========================================
type       schema of ``value``                          stored in the list as
=========  ==========================================  =========================================
text       string (the length limit is asked in the     the text (cut at a word if the model
           instructions: strict mode has no maxLength)   went past the limit, and counted)
label      string, ``enum`` of the labels               the label
number     number                                       the number (``42``, ``3.5``)
yes_no     boolean                                      ``Yes`` / ``No``
json       the user's own object schema                 the JSON text
=========  ==========================================  =========================================

Strict mode requires ``additionalProperties: false`` on every object and every property listed in ``required``
(OpenAI's structured-outputs rules; the official SDK's converter enforces the same): :func:`strict_schema` checks a
user's schema and adds what is missing where that changes nothing the user meant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "OutputError",
    "OutputSpec",
    "OutputType",
    "parse_answer",
    "strict_schema",
]

DEFAULT_TEXT_LIMIT = 200
MAX_TEXT_LIMIT = 4000


class OutputType(StrEnum):
    TEXT = "text"
    LABEL = "label"
    NUMBER = "number"
    YES_NO = "yes_no"
    JSON = "json"

    @property
    def label(self) -> str:
        return {
            OutputType.TEXT: "Text",
            OutputType.LABEL: "One of a set of labels",
            OutputType.NUMBER: "Number",
            OutputType.YES_NO: "Yes / No",
            OutputType.JSON: "JSON with a schema",
        }[self]


class OutputError(ValueError):
    """An output definition that cannot work, or an answer that does not fit it; ``str()`` is readable."""


def strict_schema(schema: Any, where: str = "the schema") -> dict[str, Any]:
    """A copy of ``schema`` that strict structured outputs accept: every object closed
    (``additionalProperties: false``) with all its properties required. Raises :class:`OutputError` for a schema
    that is not an object or that allows extra properties on purpose."""
    if not isinstance(schema, dict):
        raise OutputError(f"{where} must be a JSON object such as {{\"type\": \"object\", \"properties\": {{…}}}}.")

    def fix(node: Any, path: str) -> Any:
        if isinstance(node, list):
            return [fix(x, path) for x in node]
        if not isinstance(node, dict):
            return node
        out = {k: fix(v, f"{path}.{k}") for k, v in node.items()}
        if out.get("type") == "object" or "properties" in out:
            props = out.get("properties") or {}
            if not isinstance(props, dict):
                raise OutputError(f"In {where}, {path}.properties must be an object.")
            extra = out.get("additionalProperties", False)
            if extra not in (False, None):
                raise OutputError(f"In {where}, {path} allows extra properties; structured outputs need "
                                  "\"additionalProperties\": false.")
            out["additionalProperties"] = False
            out["properties"] = props
            out["required"] = list(props)
        return out

    fixed = fix(schema, "$")
    if fixed.get("type") != "object":
        raise OutputError(f"{where} must describe an object (\"type\": \"object\").")
    if not fixed.get("properties"):
        raise OutputError(f"{where} has no properties: list what the answer must contain.")
    return fixed


@dataclass(frozen=True)
class OutputSpec:
    type: OutputType
    max_length: int = DEFAULT_TEXT_LIMIT
    labels: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def build(cls, type: OutputType | str, options: Mapping[str, Any] | None = None) -> OutputSpec:
        """From the column's type and options; raises :class:`OutputError` saying what to fix."""
        t = OutputType(type)
        opts = dict(options or {})
        if t is OutputType.TEXT:
            try:
                limit = int(opts.get("max_length") or DEFAULT_TEXT_LIMIT)
            except (TypeError, ValueError):
                raise OutputError("The length limit must be a whole number of characters.") from None
            if not 1 <= limit <= MAX_TEXT_LIMIT:
                raise OutputError(f"The length limit must be between 1 and {MAX_TEXT_LIMIT:,} characters.")
            return cls(t, max_length=limit)
        if t is OutputType.LABEL:
            raw = opts.get("labels") or ()
            if isinstance(raw, str):
                raw = raw.split(",")
            labels = tuple(dict.fromkeys(str(x).strip() for x in raw if str(x).strip()))
            if len(labels) < 2:
                raise OutputError("Give at least two labels, separated by commas (for example: SMB, Mid-market, "
                                  "Enterprise).")
            return cls(t, labels=labels)
        if t is OutputType.JSON:
            raw_schema = opts.get("schema")
            if isinstance(raw_schema, str):
                try:
                    raw_schema = json.loads(raw_schema)
                except json.JSONDecodeError as exc:
                    raise OutputError(f"The schema is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
            return cls(t, schema=strict_schema(raw_schema))
        return cls(t)

    def options(self) -> dict[str, Any]:
        if self.type is OutputType.TEXT:
            return {"max_length": self.max_length}
        if self.type is OutputType.LABEL:
            return {"labels": list(self.labels)}
        if self.type is OutputType.JSON:
            return {"schema": dict(self.schema or {})}
        return {}

    def value_schema(self) -> dict[str, Any]:
        if self.type is OutputType.TEXT:
            return {"type": "string", "description": f"At most {self.max_length} characters."}
        if self.type is OutputType.LABEL:
            return {"type": "string", "enum": list(self.labels)}
        if self.type is OutputType.NUMBER:
            return {"type": "number"}
        if self.type is OutputType.YES_NO:
            return {"type": "boolean"}
        return dict(self.schema or {})

    def response_schema(self) -> dict[str, Any]:
        """The whole JSON schema sent as ``json_schema.schema`` (strict)."""
        return {
            "type": "object",
            "properties": {"value": self.value_schema()},
            "required": ["value"],
            "additionalProperties": False,
        }

    def instructions(self) -> str:
        """The system message: what to answer and in which form."""
        base = ("You fill one column of a sales prospect list. Answer only from the data given; when the data does "
                "not say, give your best short judgement. Reply with JSON matching the schema.")
        if self.type is OutputType.TEXT:
            return f"{base} The value is plain text of at most {self.max_length} characters."
        if self.type is OutputType.LABEL:
            return f"{base} The value is exactly one of: {', '.join(self.labels)}."
        if self.type is OutputType.NUMBER:
            return f"{base} The value is a number."
        if self.type is OutputType.YES_NO:
            return f"{base} The value is true for yes and false for no."
        return f"{base} The value follows the given JSON schema."

    def expected_answer_chars(self) -> int:
        """About how long an answer's JSON is, for the estimate (calibrated against the emulator's answers)."""
        if self.type is OutputType.TEXT:
            return 14 + int(self.max_length * 0.7)
        if self.type is OutputType.LABEL:
            return 14 + max(len(x) for x in self.labels)
        if self.type is OutputType.NUMBER:
            return 16
        if self.type is OutputType.YES_NO:
            return 15
        return 14 + len(json.dumps(self.schema)) // 2

    @property
    def summary(self) -> str:
        if self.type is OutputType.TEXT:
            return f"Text, at most {self.max_length:,} characters"
        if self.type is OutputType.LABEL:
            return "One of: " + ", ".join(self.labels)
        return self.type.label


@dataclass(frozen=True)
class Answer:
    value: str | None  # what the list stores
    shortened: bool = False


def _cut(text: str, limit: int) -> tuple[str, bool]:
    text = text.strip()
    if len(text) <= limit:
        return text, False
    cut = text[: max(1, limit - 1)]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…", True


def parse_answer(spec: OutputSpec, content: str) -> Answer:
    """The stored value of a model's JSON answer; :class:`OutputError` when it does not fit the output type."""
    try:
        data = json.loads(content)
    except ValueError:
        raise OutputError("The model's answer was not JSON.") from None
    if not isinstance(data, dict) or "value" not in data:
        raise OutputError("The model's answer has no \"value\".")
    value = data["value"]
    if value is None:
        return Answer(None)
    t = spec.type
    if t is OutputType.TEXT:
        if not isinstance(value, str):
            raise OutputError("The model answered something other than text.")
        text, shortened = _cut(value, spec.max_length)
        return Answer(text or None, shortened)
    if t is OutputType.LABEL:
        if value not in spec.labels:
            raise OutputError(f"The model answered “{value}”, which is not one of the labels.")
        return Answer(str(value))
    if t is OutputType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OutputError("The model answered something other than a number.")
        return Answer(str(int(value)) if float(value).is_integer() else repr(float(value)))
    if t is OutputType.YES_NO:
        if not isinstance(value, bool):
            raise OutputError("The model answered something other than yes or no.")
        return Answer("Yes" if value else "No")
    return Answer(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def labels_text(labels: Sequence[str]) -> str:
    return ", ".join(labels)
