"""AI providers: OpenAI and OpenAI-compatible servers."""
