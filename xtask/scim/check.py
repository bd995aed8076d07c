"""scim2-tester against a running SCIM service: `check.py URL TOKEN REPORT`.

Runs every check of scim2-tester (discovery, CRUD of each resource type the
service publishes, PATCH add/remove/replace, attribute selection, error
answers) with a client that knows only the base URL and a bearer token: the
tester learns the resource types and their schemas from the service's own
discovery endpoints.

One fact SCIM's schema language cannot state is given to it: this service's
`userName` is the user's email and its phone numbers are E.164 (RFC 7643
calls both free strings and RFC 7643 §4.1.2 only says they SHOULD follow
RFC 5321 and RFC 3966). The tester fills an attribute from the examples its
model's field carries, so after discovery `userName` and `phoneNumbers.value`
are given endless fresh examples of that form; everything else is filled as
the tester fills it. Writes every result to REPORT (JSON) and exits 1 when
any check ends in ERROR or CRITICAL.
"""

import json
import random
import sys
import uuid
from collections import Counter
from collections.abc import Sequence

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILED = {Status.ERROR, Status.CRITICAL}


class Fresh(Sequence):
    """As many examples as asked for, each made anew (`random.choice` picks
    by index, so no two draws repeat a value)."""

    def __init__(self, make):
        self.make = make

    def __len__(self):
        return 2**31

    def __getitem__(self, index):
        return self.make()


EMAILS = Fresh(lambda: f"{uuid.uuid4().hex[:12]}@example.org")
PHONES = Fresh(lambda: "+1" + "".join(random.choice("0123456789") for _ in range(10)))


def give_examples(model, seen=None):
    """Gives `userName` and every phone number's `value` their examples, in
    `model` and the complex attributes it holds."""
    seen = seen if seen is not None else set()
    if model in seen or not hasattr(model, "model_fields"):
        return
    seen.add(model)
    phone = "phone" in model.__name__.lower()
    for name, field in model.model_fields.items():
        if name == "user_name":
            field.examples = EMAILS
        elif name == "value" and phone:
            field.examples = PHONES
        for inner in getattr(field.annotation, "__args__", ()) or (field.annotation,):
            for leaf in getattr(inner, "__args__", ()) or (inner,):
                if isinstance(leaf, type):
                    give_examples(leaf, seen)


def main() -> int:
    url, token, report = sys.argv[1:4]
    http = Client(
        base_url=url.rstrip("/") + "/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    client.discover()
    for model in client.provider.models:
        give_examples(model)
    # Each resource type's model (extensions included) has fields of its own.
    for resource_type in client.provider.resource_types:
        give_examples(client.provider.model_for(resource_type))
    results = check_server(client)
    counts = Counter(r.status.name for r in results)
    rows = []
    for r in results:
        rows.append(
            {
                "status": r.status.name,
                "title": r.title,
                "resourceType": r.resource_type,
                "reason": r.reason,
                "tags": sorted(r.tags),
            }
        )
        if r.status in FAILED:
            print(f"{r.status.name:8} {r.resource_type or '-':6} {r.title}: {r.reason}")
    with open(report, "w") as out:
        json.dump({"counts": counts, "results": rows}, out, indent=2)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"scim2-tester: {len(results)} checks: {summary}")
    return 1 if any(r.status in FAILED for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
