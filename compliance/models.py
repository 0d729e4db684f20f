from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One link in the append-only audit chain. `hash` covers every field below plus `prev_hash`,
    so altering or deleting any row breaks the chain from that row on."""

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False, db_index=True)
    actor = models.CharField(max_length=150, help_text="Username, or cli:/system: for non-web actors.")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=128, db_index=True)
    reason = models.TextField(blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return self.log_line()

    def log_line(self) -> str:
        """`[2026-01-08 20:00:00] USER_CREATE: daivon_frazier by admin`"""
        return f"[{self.created_at:%Y-%m-%d %H:%M:%S}] {self.action}: {self.target_id} by {self.actor}"


class AuditChainHead(models.Model):
    """Single row holding the chain's tip. Appenders lock it (SELECT ... FOR UPDATE) so concurrent
    processes append one after another, and it lets verification notice a deleted last event."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_singleton")]

    def __str__(self) -> str:
        return f"audit chain head #{self.last_seq}"


class Communication(models.Model):
    """The communication log: every message to or from an account holder, and staff notes."""

    class Kind(models.TextChoices):
        WELCOME = "welcome", "Welcome"
        INVITATION = "invitation", "Portal invitation"
        PASSWORD_RESET = "password_reset", "Portal password reset"
        STATEMENT = "statement", "Statement"
        ALERT = "alert", "Alert"
        REPORT = "report", "Report"
        NOTE = "note", "Staff note"
        OFFBOARDED = "offboarded", "Offboarded (summary)"
        OTHER = "other", "Other"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        PHONE = "phone", "Phone"
        PORTAL = "portal", "Portal"
        INTERNAL = "internal", "Internal note"

    class Direction(models.TextChoices):
        OUTBOUND = "outbound", "Outbound"
        INBOUND = "inbound", "Inbound"

    class Status(models.TextChoices):
        RECORDED = "recorded", "Recorded"  # notes and phone calls: nothing to send
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="communications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.account.user_id}: {self.subject}"
