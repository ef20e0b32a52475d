"""Emulators of notification APIs (Slack), on the kit."""
