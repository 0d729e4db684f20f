"""Reads of the offboardings."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Offboarding


def offboarding_for(*, account) -> Offboarding | None:
    return Offboarding.objects.select_related("account").filter(account=account).first()


def offboardings_unfinished() -> QuerySet[Offboarding]:
    return Offboarding.objects.exclude(step=Offboarding.Step.DONE).select_related("account").order_by("pk")


def offboarding_get(*, pk: int) -> Offboarding:
    return Offboarding.objects.select_related("account").get(pk=pk)
