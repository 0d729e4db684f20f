"""Child process of test_locks: calls PAPER credentials through the real registry and records,
inside the credential lock, when each venue call ran. Usage: lock_worker.py OUT READY GO ID..."""

import json
import os
import sys
import threading
import time

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
django.setup()

from brokers.clients.registry import client_for  # noqa: E402
from brokers.models import BrokerCredential  # noqa: E402

CALLS_PER_THREAD = 3


def main() -> None:
    out, ready, go, *ids = sys.argv[1:]
    records: list[dict] = []
    guard = threading.Lock()
    clients = []
    for credential in BrokerCredential.objects.filter(pk__in=[int(i) for i in ids]):
        client = client_for(credential)
        inner_fetch = client.inner.fetch_balances

        def timed(inner_fetch=inner_fetch, credential_id=credential.pk):
            start = time.monotonic()  # CLOCK_MONOTONIC is system-wide, so processes compare
            result = inner_fetch()
            with guard:
                records.append({"credential": credential_id, "pid": os.getpid(), "start": start,
                                "end": time.monotonic()})
            return result

        client.inner.fetch_balances = timed
        clients.append(client)
    open(ready, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)

    def work(client):
        for _ in range(CALLS_PER_THREAD):
            client.fetch_balances()

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as handle:
        json.dump(records, handle)


if __name__ == "__main__":
    main()
