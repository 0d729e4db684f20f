"""The broker vocabulary other apps may name without importing brokers.models: BrokerCredential's
own status choices are this class."""

from django.db import models


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    # Stored with --no-verify: never used for trading until the balance audit has verified it
    # (balances fetched, permissions checked, a withdraw-capable key refused).
    UNVERIFIED = "unverified", "Unverified"
    DISABLED = "disabled", "Disabled"
    ARCHIVED = "archived", "Archived"
