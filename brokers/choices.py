"""The broker vocabulary other apps may name without importing brokers.models: BrokerCredential's
own status choices are this class."""

from django.db import models


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"
    ARCHIVED = "archived", "Archived"
