"""The audit chain's hashing: the canonical payload of an event and its SHA-256, shared by the
writer (services) and the verifier (selectors). Changing it breaks every chain already stored."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64


def audit_event_payload(
    *, seq: int, created_at_iso: str, actor: str, action: str, target_type: str, target_id: str,
    reason: str, before: Any, after: Any, prev_hash: str,
) -> bytes:
    """Canonical serialization: sorted keys, no whitespace, UTF-8. Changing it breaks old chains."""
    body = {
        "seq": seq, "created_at": created_at_iso, "actor": actor, "action": action,
        "target_type": target_type, "target_id": target_id, "reason": reason,
        "before": before, "after": after, "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def audit_event_hash(event: Any) -> str:
    """The hash of an AuditEvent (or anything with its fields)."""
    payload = audit_event_payload(
        seq=event.seq, created_at_iso=event.created_at.isoformat(), actor=event.actor,
        action=event.action, target_type=event.target_type, target_id=event.target_id,
        reason=event.reason, before=event.before, after=event.after, prev_hash=event.prev_hash,
    )
    return hashlib.sha256(payload).hexdigest()
