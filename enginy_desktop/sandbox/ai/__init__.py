"""Emulators of AI providers (OpenAI)."""
