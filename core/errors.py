"""One error type for the application. Services raise it for anything a caller did wrong or a
state that forbids the operation; the API handler and commands turn it into one clear message."""

from typing import Any


class ApplicationError(Exception):
    def __init__(self, message: str, *, code: str = "invalid", extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message
