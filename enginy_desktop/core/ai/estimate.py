"""Tokens and cost of an AI column counted offline, before anything is sent (no tokenizer download).

GPT tokenizers make about one token per 3.8 characters of English prose and one per 3 characters of JSON (quotes,
braces and key names split more). Each chat message adds a few tokens of framing and the reply a few more. The
figures here are calibrated against the usage the OpenAI emulator reports (which counts like the real tokenizers
do, to within a few per cent on this kind of text); ``tests/unit/test_ai_columns.py`` keeps the estimate of a whole
list within ±15 % of what a run then reports.

Prices are OpenAI's published standard prices per million tokens (input, output) for the models Enginy suggests,
as of the release date; accounts with other tiers or discounts pay differently, and an OpenAI-compatible server of
your own costs nothing per token. A model not in the table shows tokens only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["PRICES", "TokenEstimate", "cost_usd", "estimate_request", "json_tokens", "text_tokens"]

CHARS_PER_TOKEN = 3.8
JSON_CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD = 3
REPLY_OVERHEAD = 3
SCHEMA_OVERHEAD = 8

# model -> (USD per 1M input tokens, USD per 1M output tokens)
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4o": (2.50, 10.00),
}


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def json_tokens(text: str) -> int:
    return math.ceil(len(text) / JSON_CHARS_PER_TOKEN) if text else 0


@dataclass(frozen=True, slots=True)
class TokenEstimate:
    prompt: int
    completion: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def estimate_request(system: str, user: str, schema_json: str, answer_chars: int) -> TokenEstimate:
    prompt = (text_tokens(system) + text_tokens(user) + 2 * MESSAGE_OVERHEAD + REPLY_OVERHEAD
              + json_tokens(schema_json) + SCHEMA_OVERHEAD)
    return TokenEstimate(prompt, math.ceil(answer_chars / CHARS_PER_TOKEN) + 1)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, *, own_server: bool = False) -> float | None:
    """What the tokens cost at the model's list price; 0 on your own server; None for an unknown model."""
    if own_server:
        return 0.0
    price = PRICES.get(model)
    if price is None:
        return None
    return prompt_tokens / 1e6 * price[0] + completion_tokens / 1e6 * price[1]
