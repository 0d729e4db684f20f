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
