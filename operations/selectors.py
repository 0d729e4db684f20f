"""Reads of the offboardings."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import ComplianceFinding, ComplianceRun, Offboarding


def offboarding_for(*, account) -> Offboarding | None:
    return Offboarding.objects.select_related("account").filter(account=account).first()


def offboardings_unfinished() -> QuerySet[Offboarding]:
    return Offboarding.objects.exclude(step=Offboarding.Step.DONE).select_related("account").order_by("pk")


def offboarding_get(*, pk: int) -> Offboarding:
    return Offboarding.objects.select_related("account").get(pk=pk)



# --- the daily compliance check ------------------------------------------------------------------
def findings_current_of_kinds(*, kinds, for_update: bool = False) -> QuerySet[ComplianceFinding]:
    """Findings not resolved (open or acknowledged) of these kinds, in id order."""
    qs = ComplianceFinding.objects.filter(kind__in=list(kinds)).exclude(status=ComplianceFinding.Status.RESOLVED)
    return (qs.select_for_update() if for_update else qs).order_by("pk")


def findings_current_for(*, account) -> list[ComplianceFinding]:
    """The account's findings not resolved yet, newest sighting first (its admin page)."""
    return list(ComplianceFinding.objects.filter(account=account).exclude(status=ComplianceFinding.Status.RESOLVED)
                .order_by("-last_seen_at", "pk"))


def compliance_runs_latest() -> dict[str, ComplianceRun | None]:
    """The latest run of each kind (daily, weekly), or None."""
    return {kind: ComplianceRun.objects.filter(kind=kind).order_by("-started_at", "-id").first()
            for kind in ComplianceRun.Kind.values}


def findings_open_counts() -> dict[str, dict[str, int]]:
    """Findings not resolved, by status (open, acknowledged) and kind: the dashboard's strip."""
    rows = (ComplianceFinding.objects.exclude(status=ComplianceFinding.Status.RESOLVED).order_by()
            .values("status", "kind").annotate(n=Count("id")).order_by("status", "kind"))
    found: dict[str, dict[str, int]] = {ComplianceFinding.Status.OPEN: {}, ComplianceFinding.Status.ACKNOWLEDGED: {}}
    for row in rows:
        found[row["status"]][row["kind"]] = row["n"]
    return found


def findings_of_run(*, run: ComplianceRun) -> list[ComplianceFinding]:
    """The findings this run saw (last seen by it), with their account, by kind then account."""
    return list(ComplianceFinding.objects.filter(last_run=run).select_related("account")
                .order_by("kind", "account__user_id", "pk"))
