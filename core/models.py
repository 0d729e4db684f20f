from django.db import models


class Heartbeat(models.Model):
    """When a background part last did its job ("worker", "audit_chain_verify"), with what it
    found: the staff dashboard shows each one's age, so a stopped worker is visible."""

    name = models.CharField(max_length=64, primary_key=True)
    seen_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
