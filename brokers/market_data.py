"""Public market data for the other apps: a venue's markets (rules) and current prices.

Read through the venue's one public client (brokers.clients.registry.public_client_for), never a
follower's private credential: a plan does not queue behind that follower's orders nor fail when
that follower's key fails. Markets come from the one markets cache (brokers.clients.markets).
Alpaca serves no market data without a key; for it the caller names a credential (by id) to read through."""

from __future__ import annotations

from decimal import Decimal

from .clients.base import BrokerError, MarketRules
from .clients.markets import markets_rules, markets_rules_set
from .clients.registry import client_for, public_client_for
from .models import BrokerCredential


def _reader(venue: str, *, sandbox: bool, credential_id: int | None):
    client = public_client_for(venue, sandbox=sandbox)
    if client is not None:
        return client
    credential = BrokerCredential.objects.filter(pk=credential_id).first() if credential_id else None
    if credential is None:
        raise BrokerError("this venue serves market data only to a key, and none was given", venue=venue)
    return client_for(credential)


def venue_price_readers() -> list:
    """One price reader (`.venue`, `.fetch_price(symbol)`) per venue with an active credential:
    the venue's public client, or for a keyed venue its first active credential's client. A
    credential whose client cannot be built is passed over."""
    readers, venues = [], set()
    for credential in BrokerCredential.objects.filter(status=BrokerCredential.Status.ACTIVE).order_by("pk"):
        if credential.venue in venues:
            continue
        try:
            reader = _reader(credential.venue, sandbox=credential.is_paper, credential_id=credential.pk)
        except Exception:  # noqa: BLE001, S112 - a broken credential must not stop price collection
            continue
        readers.append(reader)
        venues.add(credential.venue)
    return readers


def venue_markets(*, venue: str, sandbox: bool = False, credential_id: int | None = None) -> dict[str, MarketRules]:
    """Every market of `venue`, symbol -> rules. Raises BrokerError when the venue cannot say."""
    venue = venue.lower()
    rules = markets_rules((venue, sandbox))
    if rules is None:
        rules = _reader(venue, sandbox=sandbox, credential_id=credential_id).fetch_markets()
        markets_rules_set((venue, sandbox), rules)
    return rules


def venue_price(*, venue: str, symbol: str, sandbox: bool = False, credential_id: int | None = None) -> Decimal:
    """The current price of `symbol` on `venue`. Raises BrokerError when the venue cannot say."""
    return _reader(venue.lower(), sandbox=sandbox, credential_id=credential_id).fetch_price(symbol)
