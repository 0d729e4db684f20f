"""Credentials at rest: MultiFernet over NIJA_CREDENTIAL_KEYS (comma-separated, newest first).

Encrypting always uses the newest key; decrypting tries each, so keys rotate by putting a new key
first, running `rotate_credential_key`, then removing the old one. In LOCAL settings only, when no
key is configured, a key is generated once into var/credential.key (mode 0600) so `make run` works
with no configuration; production settings refuse to start without keys."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from core.errors import ApplicationError


@dataclass(frozen=True)
class CredentialSecrets:
    api_key: str
    api_secret: str
    passphrase: str = ""

    def __repr__(self) -> str:  # never let a secret reach a log or a traceback through repr()
        return f"CredentialSecrets(api_key=****{self.api_key[-4:]}, api_secret=****, passphrase=****)"

    __str__ = __repr__


def _key_file_read_or_create(path: Path) -> str:
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    # O_EXCL: if two processes race on first start, one writes and the other reads its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def credential_keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.NIJA_CREDENTIAL_KEYS if k and k.strip())
    if keys:
        return keys
    key_file = getattr(settings, "NIJA_CREDENTIAL_KEY_FILE", None)
    if key_file:
        return (_key_file_read_or_create(Path(key_file)),)
    raise ApplicationError(
        "NIJA_CREDENTIAL_KEYS is not set: give one or more Fernet keys, comma-separated, newest first",
        code="not_configured",
    )


@functools.lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError):
        raise ApplicationError(
            "NIJA_CREDENTIAL_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)",
            code="not_configured",
        ) from None


def credential_keys_problem(keys: list[str] | tuple[str, ...]) -> str:
    """'' when every configured key is a Fernet key, else which one is not (by position, never
    the value): what the system check reports before anything tries to use them."""
    for position, key in enumerate((k.strip() for k in keys if k and k.strip()), start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            return f"key {position} of NIJA_CREDENTIAL_KEYS is not a Fernet key (32 url-safe base64 bytes)"
    return ""


@functools.lru_cache(maxsize=8)
def _fingerprint_key(newest_key: str) -> bytes:
    # A key of its own, derived from the newest credential key: the fingerprint never reveals
    # anything encrypted with that key, and rotating the keys re-derives it (rotate_credential_key
    # recomputes every fingerprint).
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"nija broker credential fingerprint v1").derive(base64.urlsafe_b64decode(newest_key))


def key_fingerprint(*, venue: str, api_key: str) -> str:
    """Keyed fingerprint (HMAC-SHA256) of a venue's API key: equal keys give equal fingerprints, so
    a key already registered is found without decrypting any row; without the credential keys the
    fingerprint says nothing about the key."""
    fernet()  # refuses an unset or malformed key before deriving from it
    mac = hmac.new(_fingerprint_key(credential_keys()[0]), digestmod=hashlib.sha256)
    mac.update(f"{venue.strip().lower()}\0{api_key.strip()}".encode())
    return mac.hexdigest()


def fernet() -> MultiFernet:
    return _multifernet(credential_keys())


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ApplicationError(
            "a stored credential cannot be decrypted with NIJA_CREDENTIAL_KEYS (was a key removed too early?)",
            code="decrypt_failed",
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt under the newest key."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise ApplicationError(
            "a stored credential cannot be decrypted with NIJA_CREDENTIAL_KEYS", code="decrypt_failed"
        ) from None


def credential_secrets(credential) -> CredentialSecrets:
    return CredentialSecrets(
        api_key=decrypt(credential.api_key_encrypted),
        api_secret=decrypt(credential.api_secret_encrypted),
        passphrase=decrypt(credential.passphrase_encrypted),
    )
