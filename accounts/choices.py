"""The account vocabulary other apps may name (kinds, types, tiers, statuses) without importing
accounts.models: Account's own choices are these classes."""

from django.db import models


class AccountKind(models.TextChoices):
    MASTER = "MASTER", "Master"
    USER = "USER", "User"


class AccountType(models.TextChoices):
    RETAIL = "retail", "Retail"
    INVESTOR = "investor", "Investor"


class AccountTier(models.TextChoices):
    STARTER = "starter", "Starter"
    SAVER = "saver", "Saver"
    INVESTOR = "investor", "Investor"
    INCOME = "income", "Income"
    LIVABLE = "livable", "Livable"
    BALLER = "baller", "Baller"


class AccountStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    OFFBOARDING = "OFFBOARDING", "Offboarding"  # trading off, positions closing; INACTIVE once every step is done
    INACTIVE = "INACTIVE", "Inactive"
