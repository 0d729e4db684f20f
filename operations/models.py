"""Offboarding: one resumable procedure per account, its progress stored step by step."""

from __future__ import annotations

from django.db import models


class Offboarding(models.Model):
    """The offboarding of one account (issue #15 §1). `step` is the step it is on; a step is done
    when `step` has moved past it, so a re-run (or the beat task) continues where it stopped."""

    class Step(models.TextChoices):
        TRADING_STOP = "trading_stop", "Stop trading and copying"
        POSITIONS_CLOSE = "positions_close", "Close positions"
        FILLS_RECONCILE = "fills_reconcile", "Reconcile the closing fills"
        FINAL_REPORT = "final_report", "Final P&L and report"
        CREDENTIALS_ARCHIVE = "credentials_archive", "Archive credentials"
        DEACTIVATE = "deactivate", "Status INACTIVE"
        NOTIFY = "notify", "Send the summary to the investor"
        DONE = "done", "Done"

    account = models.OneToOneField("accounts.Account", on_delete=models.PROTECT, related_name="offboarding")
    reason = models.TextField()
    keep_positions = models.BooleanField(default=False, help_text="investor takes the assets in kind")
    step = models.CharField(max_length=24, choices=Step.choices, default=Step.TRADING_STOP)
    waiting_on = models.CharField(max_length=500, blank=True, help_text="what the current step waits for")
    requested_by = models.CharField(max_length=150)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    closes = models.JSONField(default=list, blank=True, help_text="the close orders and what was left")
    report_id = models.BigIntegerField(null=True, blank=True, help_text="reporting.Report (period final)")
    summary = models.JSONField(default=dict, blank=True)
    communication_id = models.BigIntegerField(null=True, blank=True, help_text="compliance.Communication sent")

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(step__in=["trading_stop", "positions_close", "fills_reconcile", "final_report",
                                             "credentials_archive", "deactivate", "notify", "done"]),
                name="operations_offboarding_step_valid"),
        ]

    def __str__(self) -> str:
        return f"Offboarding of {self.account.user_id} ({self.get_step_display()})"

    @property
    def is_done(self) -> bool:
        return self.step == self.Step.DONE

    def progress_text(self) -> str:
        """What the account shows while offboarding: the step and what it waits on."""
        if self.is_done:
            return "offboarded"
        return f"{self.get_step_display()}: {self.waiting_on}" if self.waiting_on else self.get_step_display()


class ComplianceRun(models.Model):
    """One run of the daily compliance check (or of the weekly review, Mondays): when, what it
    checked and what it found. `summary` holds, per check, how many findings it saw or why it
    could not run; `counts` the findings seen by kind."""

    class Kind(models.TextChoices):
        DAILY = "daily", "Daily check"
        WEEKLY = "weekly", "Weekly review"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DAILY)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True, help_text="empty while it runs, or if it died")
    triggered_by = models.CharField(max_length=150)
    findings_seen = models.PositiveIntegerField(default=0)
    findings_new = models.PositiveIntegerField(default=0)
    findings_resolved = models.PositiveIntegerField(default=0, help_text="open findings this run no longer saw")
    open_after = models.PositiveIntegerField(default=0, help_text="findings open or acknowledged after the run")
    counts = models.JSONField(default=dict, blank=True, help_text="findings seen, by kind")
    summary = models.JSONField(default=dict, blank=True, help_text="per check: findings seen, or its error")
    failed_checks = models.PositiveSmallIntegerField(default=0)
    communication_ids = models.JSONField(default=list, blank=True, help_text="compliance.Communication to staff")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=["daily", "weekly"]),
                                   name="operations_compliance_run_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of {self.started_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None


class FindingKind(models.TextChoices):
    """What a compliance finding is about: a closed list."""

    CREDENTIAL_MISSING = "credential_missing", "ACTIVE account without a usable credential"
    CREDENTIAL_FAILING = "credential_failing", "Credential keeps failing authentication"
    BALANCE_STALE = "balance_stale", "Balance older than the threshold"
    BALANCE_UNAVAILABLE = "balance_unavailable", "Balance unavailable for several audits"
    DAILY_LOSS_LIMIT = "daily_loss_limit", "Daily loss limit reached"
    POSITION_CONCENTRATION = "position_concentration", "Position above its % of equity"
    POSITION_NOTIONAL = "position_notional", "Position above its notional limit"
    EXPOSURE_LIMIT = "exposure_limit", "Exposure above the leverage limit"
    POSITIONS_COUNT = "positions_count", "More open positions than allowed"
    RECONCILIATION_BREAK = "reconciliation_break", "Reconciliation break open for more than a day"
    PENDING_TOO_LONG = "pending_too_long", "Account PENDING for too long"
    CREDENTIALS_NOT_ERASED = "credentials_not_erased", "INACTIVE account's secrets kept past retention"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken", "Audit chain verification failed"
    AUDIT_CHAIN_UNVERIFIED = "audit_chain_unverified", "Audit chain not verified recently"
    COPY_ORDERS_FAILED = "copy_orders_failed", "Signal with FAILED copy orders"
    COPY_ORDERS_STUCK = "copy_orders_stuck", "Signal with copy orders SUBMITTING for too long"
    DRAWDOWN = "drawdown", "Drawdown beyond the threshold (weekly)"
    LOSS_STREAK = "loss_streak", "Losing days in a row (weekly)"
    MISSED_COPIES = "missed_copies", "Many missed copies (weekly)"


class ComplianceFinding(models.Model):
    """Something the compliance check found that staff must look at. `key` names the condition
    (kind, account and what it is about, e.g. the credential or the signal), so the same condition
    found again the next day is the same row: `last_seen_at`, `last_run` and `facts` move on.

    Open -> acknowledged (staff saw it, with a note) -> resolved. A finding the check no longer sees
    is resolved by the system (audited, with the run that stopped seeing it), unless its kind
    records an event that does not go away by itself (FAILED copy orders): those stay until staff
    resolve them. A condition found again after it was resolved is a new finding."""

    Kind = FindingKind

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    key = models.CharField(max_length=200, help_text="the condition: kind, account and subject")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="compliance_findings", help_text="empty: about the whole book")
    summary = models.CharField(max_length=300, help_text="what was found, in one line")
    facts = models.JSONField(default=dict, blank=True, help_text="the figures behind it (amounts as strings)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    first_run = models.ForeignKey(ComplianceRun, on_delete=models.PROTECT, related_name="+")
    last_run = models.ForeignKey(ComplianceRun, on_delete=models.PROTECT, related_name="findings")
    times_seen = models.PositiveIntegerField(default=1)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen_at", "kind", "id"]
        indexes = [models.Index(fields=["status", "kind"])]
        constraints = [
            # While a condition lasts there is exactly one finding for it.
            models.UniqueConstraint(fields=["key"], condition=~models.Q(status="resolved"),
                                    name="operations_finding_one_current_per_key"),
            models.CheckConstraint(condition=models.Q(status__in=["open", "acknowledged", "resolved"]),
                                   name="operations_finding_status_valid"),
            models.CheckConstraint(condition=models.Q(kind__in=FindingKind.values),
                                   name="operations_finding_kind_valid"),
            models.CheckConstraint(condition=~models.Q(status="resolved") | models.Q(resolved_at__isnull=False),
                                   name="operations_finding_resolved_has_time"),
            models.CheckConstraint(condition=~models.Q(status="acknowledged") | models.Q(acknowledged_at__isnull=False),
                                   name="operations_finding_acknowledged_has_time"),
        ]

    def __str__(self) -> str:
        who = self.account.user_id if self.account_id else "book"
        return f"{self.get_kind_display()} ({who}): {self.summary}"

    def snapshot(self) -> dict:
        """What an audit event records before and after a status change."""
        return {"key": self.key, "kind": self.kind, "status": self.status, "summary": self.summary,
                "acknowledged_by": self.acknowledged_by, "acknowledged_note": self.acknowledged_note,
                "resolved_by": self.resolved_by, "resolution_note": self.resolution_note}
