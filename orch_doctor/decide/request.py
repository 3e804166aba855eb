"""What the caller asks for: a spawn in a directory, with an optional model, prompt and server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpawnRequest:
    directory: str
    model: str | None = None  # "provider/model"
    prompt: str | None = None
    server_url: str | None = None
    title: str | None = None
