"""The settings refuse an unsafe secret: too short, too plain, or a placeholder however long."""

from __future__ import annotations

import secrets

import pytest
from pydantic import SecretStr, ValidationError

from kansa.settings import PLACEHOLDERS, Settings


def test_a_placeholder_alone_is_shorter_than_any_accepted_secret() -> None:
    """Why the old rule (``len(text) < 32 or text.lower() in placeholders``) never fired on
    its second half: every placeholder is shorter than 32 characters, so the length rule
    refused it first, and a text long enough is never one of them. A placeholder is only
    caught inside a longer secret."""
    assert all(len(word) < 32 for word in [*PLACEHOLDERS, "change-me"])


@pytest.mark.parametrize(
    "typed",
    [
        "change-me-change-me-change-me-change-me",
        "placeholderplaceholderplaceholder",
        "My-Secret-Key-For-Production-2026!",
        "CHANGE_ME_0123456789abcdefghijklmnop",
    ],
)
def test_a_long_secret_holding_a_placeholder_is_refused(typed: str) -> None:
    assert len(typed) >= 32 and len(set(typed)) >= 8  # the old rules let each of these in
    with pytest.raises(ValidationError, match="not a placeholder"):
        Settings(secret_key=SecretStr(typed))


@pytest.mark.parametrize("weak", ["short", "a" * 40, "abababababababababababababababab"])
def test_a_short_or_plain_secret_is_refused(weak: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 random characters"):
        Settings(secret_key=SecretStr(weak))


def test_a_random_secret_is_kept() -> None:
    token = secrets.token_urlsafe(32)
    settings = Settings(secret_key=SecretStr(token))
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == token
