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


def notification_dedup_key(*, account, kind: str, period: str) -> str:
    """The key that makes a notification unique: (account id | "staff", kind, period)."""
    who = f"account-{account.pk}" if account is not None else "staff"
    return f"{who}|{kind}|{period}"[:200]


class Communication(models.Model):
    """The communication log: every message to or from an account holder or to staff, and staff notes.
    A message is a row first (queued), then a worker sends it (sent, or failed with its error and the
    time of the next attempt). `dedup_key` makes a notification once per (recipient, kind, period)."""

    class Kind(models.TextChoices):
        WELCOME = "welcome", "Welcome"
        INVITATION = "invitation", "Portal invitation"
        PASSWORD_RESET = "password_reset", "Portal password reset"
        STAFF_PASSWORD_RESET = "staff_password_reset", "Back office password reset"
        STATEMENT = "statement", "Statement"
        ALERT = "alert", "Alert"
        REPORT = "report", "Report"
        NOTE = "note", "Staff note"
        OFFBOARDED = "offboarded", "Offboarded (summary)"
        TRADING_ENABLED = "trading_enabled", "Trading enabled"
        TRADING_DISABLED = "trading_disabled", "Trading disabled"
        SUSPENDED = "suspended", "Account suspended"
        REACTIVATED = "reactivated", "Account reactivated"
        DAILY_LOSS_APPROACHING = "daily_loss_approaching", "Daily loss limit approaching"
        DAILY_LOSS_REACHED = "daily_loss_reached", "Daily loss limit reached"
        BALANCE_LOW = "balance_low", "Balance low"
        BALANCE_DROP = "balance_drop", "Balance drop"
        DAILY_SUMMARY = "daily_summary", "Daily summary"
        WEEKLY_SUMMARY = "weekly_summary", "Weekly summary"
        MONTHLY_UPDATE = "monthly_update", "Monthly investor update"
        COMPLIANCE_RUN = "compliance_run", "Daily compliance check (staff)"
        INBOUND = "inbound", "Inbound message"
        CALL = "call", "Phone call"
        OTHER = "other", "Other"

    class Category(models.TextChoices):
        """The admin's "type" of an entry."""

        EMAIL_OUT = "email_out", "E-mail out"
        EMAIL_IN = "email_in", "E-mail in"
        CALL = "call", "Call"
        SYSTEM = "system", "System notification"
        ALERT = "alert", "Alert"
        PERFORMANCE = "performance", "Performance update"
        SUPPORT = "support", "Support"
        FEEDBACK = "feedback", "Feedback"
        EMERGENCY = "emergency", "Emergency"

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

    # Null for staff messages (recipients from settings.NIJA_STAFF_ALERT_EMAILS).
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="communications",
                                null=True, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.EMAIL_OUT,
                                verbose_name="type")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    recipients = models.JSONField(default=list, blank=True, help_text="E-mail addresses it goes to.")
    # The login a message carries a one-time link for (a back office password reset, addressed to
    # the login, not to an account): the sender makes the link for this login at send time.
    recipient_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", help_text="The login this message's link is for.")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    body_html = models.TextField(blank=True)
    # The period a notification covers ("2026-12-06", "2026-W49", "2026-11", "audit-1234"), and the key
    # (recipient, kind, period) that makes it unique; null for notes, calls and one-off messages.
    period = models.CharField(max_length=64, blank=True)
    dedup_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    follow_up_due = models.DateField(null=True, blank=True)
    follow_up_done = models.BooleanField(default=False)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="communication_due_idx")]

    def __str__(self) -> str:
        to = self.account.user_id if self.account_id else "staff"
        return f"{self.get_kind_display()} to {to}: {self.subject}"


class NotificationPreference(models.Model):
    """Which optional messages an account holder gets. No row = the defaults below. Messages about the
    account's state (trading on/off, suspension, the daily loss limit reached, offboarding) and the
    portal's links are always sent."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE,
                                   related_name="notification_preference")
    daily_summary = models.BooleanField(default=False, help_text="A summary of each day (opt-in).")
    weekly_summary = models.BooleanField(default=True, help_text="A summary of each week, on Mondays.")
    monthly_update = models.BooleanField(default=True, help_text="The monthly investor update, on the 1st.")
    balance_alerts = models.BooleanField(default=True, help_text="Balance low and balance drop.")
    loss_limit_warnings = models.BooleanField(default=True,
                                              help_text="The daily loss limit is approaching.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification preferences of {self.account_id}"
