"""Decorator-based bots, agents and webhook scripts on a Trio structured-concurrency runtime."""

__all__: list[str] = []
