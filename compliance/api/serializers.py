"""Query parameters and output of the staff audit-events API."""

from __future__ import annotations

from rest_framework import serializers

from core.api import DayField


class AuditEventFilterSerializer(serializers.Serializer):
    action = serializers.CharField(required=False, max_length=64, help_text="e.g. TRADING_DISABLE")
    actor = serializers.CharField(required=False, max_length=150, help_text="username, cli:NAME or system:NAME")
    target_type = serializers.CharField(required=False, max_length=64, help_text="e.g. account")
    target_id = serializers.CharField(required=False, max_length=128, help_text="e.g. a user id")
    since = DayField(help_text="on or after this UTC day")
    until = DayField(help_text="on or before this UTC day")


class AuditEventSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="position in the hash chain")
    created_at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    reason = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    prev_hash = serializers.CharField()
    hash = serializers.CharField()
