"""The read-back after a load: every write the CRM answered OK is there, with what was written.

Reads `writes.jsonl` and `accounts.json` from the report directory, signs in as each tenant's
owner and manager, and asks the edge (REST) for every record: customers (legal name, email, the
last website written), contacts, leads, conversions (the lead converted, its customer and its
opportunity there and linked: the saga finished), and deals (the last stage written, or the
won/lost status). Calls refused by the edge's quotas (429) wait as told (up to 5 s) and go again;
nothing else is retried. `verify(host, report)` returns {"checked", "missing", "lines"}; `python3
load/verify.py HOST REPORT` prints the same.

`notifications(host, report, maildir)` checks what the notification context made of the same run,
read as each tenant's owner (who may read all of a tenant's notifications): every person made (the
owner who signed up, everyone invited) got exactly one welcome email, sent, and, with `maildir`
(the cluster's SMTP server's), exactly one welcome message arrived there for them; every lead the
CRM acknowledged produced exactly one in-app notice to the tenant's sales manager (none lost, none
doubled), and no notice is left failed. `settle(processes)` waits (at most 60 s) until every
process's /metrics says its outboxes are drained, its consumer groups have no lag and nothing is
parked as a dead letter, and says how long that took or what was left.
"""

import email
import email.utils
import re
import urllib.parse

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


class Edge:
    def __init__(self, host):
        self.host = host.rstrip("/")

    def call(self, method, path, token=None, body=None):
        for _ in range(30):
            request = urllib.request.Request(self.host + path, method=method,
                                             data=json.dumps(body).encode() if body is not None else None)
            request.add_header("content-type", "application/json")
            if token:
                request.add_header("authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, json.loads(answer.read() or b"{}")
            except urllib.error.HTTPError as e:
                wait = float(e.headers.get("retry-after") or 1)
                if e.code == 429 and wait <= 5:  # the edge's per-second quotas; a longer wait is an answer
                    time.sleep(wait)
                    continue
                try:
                    return e.code, json.loads(e.read() or b"{}")
                except ValueError:
                    return e.code, {}
        return 429, {"message": "still over the quota after 30 tries"}


def run_of(report):
    """The people a run made and the writes the CRM acknowledged, from its report."""
    accounts = json.loads((report / "accounts.json").read_text())
    writes = []
    if (report / "writes.jsonl").exists():
        writes = [json.loads(line) for line in (report / "writes.jsonl").read_text().splitlines() if line]
    return accounts, writes


def sign_in(edge, account):
    status, body = edge.call("POST", "/api/v1/auth/login", body={
        "tenant": account["tenant"], "email": account["email"], "password": account["password"]})
    if status != 200:
        raise RuntimeError(f"read-back: {account['email']} cannot sign in: {status} {body}")
    return body["accessToken"]


def verify(host, report):
    report = Path(report)
    edge = Edge(host)
    accounts, writes = run_of(report)

    # Tokens of each tenant's owner and manager (they may read every record of the tenant).
    tokens = {}
    for account in accounts:
        if account["role"] in ("owner", "sales_manager"):
            tokens.setdefault(account["tenant"], []).append(sign_in(edge, account))
    turn = {"n": 0}
    lock = threading.Lock()

    def token(tenant):
        with lock:
            turn["n"] += 1
            return tokens[tenant][turn["n"] % len(tokens[tenant])]

    # What each record must hold at the end: the last write of it wins (each simulated person
    # writes only its own records, in order).
    customers, contacts, leads, conversions, deals = {}, [], {}, [], {}
    for w in writes:
        if w["kind"] == "customer":
            customers[w["id"]] = {"tenant": w["tenant"], "legal_name": w["legal_name"], "email": w["email"]}
        elif w["kind"] == "customer_update" and w["id"] in customers:
            customers[w["id"]]["website"] = w["website"]
        elif w["kind"] == "contact":
            contacts.append(w)
        elif w["kind"] == "lead":
            leads[w["id"]] = w
        elif w["kind"] == "conversion":
            conversions.append(w)
            deals.setdefault(w["opportunity_id"], {"tenant": w["tenant"]})
        elif w["kind"] == "move":
            deals.setdefault(w["id"], {"tenant": w["tenant"]})["stage_id"] = w["stage_id"]
        elif w["kind"] == "close":
            deals.setdefault(w["id"], {"tenant": w["tenant"]})["status"] = w["status"]

    problems = []

    def customer(item):
        cid, want = item
        status, body = edge.call("GET", f"/api/v1/customers/{cid}", token(want["tenant"]))
        if status != 200:
            return f"customer {cid}: HTTP {status} {body.get('message', '')}"
        got = body["customer"]
        if got.get("business", {}).get("legalName") != want["legal_name"]:
            return f"customer {cid}: legal name {got.get('business')} != {want['legal_name']}"
        if want["email"] not in [e.get("address") for e in got.get("emails", [])]:
            return f"customer {cid}: email {want['email']} missing"
        website = got.get("business", {}).get("website")
        if "website" in want and website != want["website"]:
            return f"customer {cid}: website {website} != {want['website']} (an acknowledged update lost)"
        return None

    def contact_list(item):
        (tenant, cid), ids = item
        status, body = edge.call("GET", f"/api/v1/customers/{cid}/contacts?pageSize=1000", token(tenant))
        if status != 200:
            return f"contacts of {cid}: HTTP {status} {body.get('message', '')}"
        have = {c["id"] for c in body.get("contacts", [])}
        lost = ids - have
        return f"contacts of {cid}: {len(lost)} acknowledged contacts missing" if lost else None

    def lead(item):
        lid, want = item
        status, body = edge.call("GET", f"/api/v1/leads/{lid}", token(want["tenant"]))
        if status != 200:
            return f"lead {lid}: HTTP {status} {body.get('message', '')}"
        if body["lead"].get("companyName") != want["company_name"]:
            return f"lead {lid}: company {body['lead'].get('companyName')} != {want['company_name']}"
        return None

    def conversion(w):
        status, body = edge.call("GET", f"/api/v1/leads/{w['lead_id']}", token(w["tenant"]))
        if status != 200 or body["lead"].get("status") != "LEAD_STATUS_CONVERTED":
            return f"conversion of lead {w['lead_id']}: the lead is {status} {body.get('lead', {}).get('status')}"
        status, body = edge.call("GET", f"/api/v1/customers/{w['customer_id']}", token(w["tenant"]))
        if status != 200:
            return f"conversion of lead {w['lead_id']}: its customer {w['customer_id']} is HTTP {status}"
        status, body = edge.call("GET", f"/api/v1/opportunities/{w['opportunity_id']}", token(w["tenant"]))
        if status != 200:
            return f"conversion of lead {w['lead_id']}: its opportunity is HTTP {status}"
        if body["opportunity"].get("customerId") != w["customer_id"]:
            return f"conversion of lead {w['lead_id']}: the opportunity names another customer"
        return None

    def deal(item):
        oid, want = item
        status, body = edge.call("GET", f"/api/v1/opportunities/{oid}", token(want["tenant"]))
        if status != 200:
            return f"opportunity {oid}: HTTP {status} {body.get('message', '')}"
        got = body["opportunity"]
        if "status" in want and got.get("status") != want["status"]:
            return f"opportunity {oid}: {got.get('status')} != {want['status']} (an acknowledged close lost)"
        if "status" not in want and "stage_id" in want and got.get("stageId") != want["stage_id"]:
            return f"opportunity {oid}: stage {got.get('stageId')} != {want['stage_id']} (an acknowledged move lost)"
        return None

    by_customer = {}
    for c in contacts:
        by_customer.setdefault((c["tenant"], c["customer_id"]), set()).add(c["id"])
    checks = ([(customer, i) for i in customers.items()] + [(contact_list, i) for i in by_customer.items()]
              + [(lead, i) for i in leads.items()] + [(conversion, w) for w in conversions]
              + [(deal, i) for i in deals.items()])
    with ThreadPoolExecutor(8) as pool:
        for problem in pool.map(lambda check: check[0](check[1]), checks):
            if problem:
                problems.append(problem)

    lines = [f"{len(customers)} customers (legal name, email, last website: "
             f"{sum('website' in c for c in customers.values())} updated), "
             f"{len(contacts)} contacts, {len(leads)} leads, {len(conversions)} conversions "
             f"(lead converted, customer and opportunity linked), {len(deals)} deals (last stage or close)",
             f"{len(problems)} acknowledged writes missing or different"]
    lines += problems[:20]
    if len(problems) > 20:
        lines.append(f"… and {len(problems) - 20} more")
    (report / "verify.json").write_text(json.dumps({"checked": len(checks), "problems": problems}, indent=1))
    return {"checked": len(checks), "missing": len(problems), "lines": lines}


def pages(edge, path, token, key):
    """Every item of a paged list (`pageSize`, `nextPageToken`)."""
    items, page = [], ""
    while True:
        sep = "&" if "?" in path else "?"
        status, body = edge.call("GET", f"{path}{sep}pageSize=500&pageToken={urllib.parse.quote(page)}", token)
        if status != 200:
            raise RuntimeError(f"read-back: GET {path}: HTTP {status} {body.get('message', '')}")
        items += body.get(key, [])
        page = body.get("nextPageToken") or ""
        if not page:
            return items


def messages_at(maildir):
    """Messages in the SMTP server's Maildir, by recipient address. The people a load makes get
    only their welcome (a deal's thanks goes to its customer's address)."""
    count = {}
    for box in ("new", "cur"):
        folder = Path(maildir) / box
        for path in folder.iterdir() if folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes())
            for to in email.utils.getaddresses(message.get_all("to") or []):
                count[to[1].lower()] = count.get(to[1].lower(), 0) + 1
    return count


def notifications(host, report, maildir=None):
    edge = Edge(host)
    accounts, writes = run_of(Path(report))
    leads = {}
    for w in writes:
        if w["kind"] == "lead":
            leads.setdefault(w["tenant"], set()).add(w["id"])
    arrived = messages_at(maildir) if maildir else None
    problems, emails, notices = [], 0, 0
    for owner in [a for a in accounts if a["role"] == "owner"]:
        tenant = owner["tenant"]
        token = sign_in(edge, owner)
        users = {u["email"].lower(): u for u in pages(edge, "/api/v1/users", token, "users")}
        managers = {u["id"] for u in users.values() if "sales_manager" in u.get("roles", [])}
        made = pages(edge, "/api/v1/notifications", token, "notifications")
        welcome = {}
        by_event = {}
        for n in made:
            kind = n.get("triggerEventType", "")
            if n.get("status") == "DELIVERY_STATUS_FAILED":
                problems.append(f"notification {n['id']} ({kind}, to {n.get('recipientAddress')}) failed: {n.get('lastError')}")
            if kind.endswith(".UserCreated") and n.get("channel") == "CHANNEL_EMAIL":
                welcome.setdefault(n.get("recipientAddress", "").lower(), []).append(n)
            elif kind.endswith(".LeadCreated") and n.get("channel") == "CHANNEL_IN_APP":
                by_event.setdefault(n.get("triggerEventId"), []).append(n.get("recipientUserId"))
        for person in [a for a in accounts if a["tenant"] == tenant]:
            address = person["email"].lower()
            got = welcome.get(address, [])
            emails += 1
            if len(got) != 1:
                problems.append(f"{address}: {len(got)} welcome emails made (1 expected)")
            elif got[0].get("status") != "DELIVERY_STATUS_SENT":
                problems.append(f"{address}: the welcome email is {got[0].get('status')}: {got[0].get('lastError')}")
            if arrived is not None and arrived.get(address, 0) != 1:
                problems.append(f"{address}: {arrived.get(address, 0)} messages at the SMTP server (1 welcome expected)")
        want = len(leads.get(tenant, ()))
        if len(by_event) != want:
            problems.append(f"tenant {tenant}: {len(by_event)} leads were announced in-app, {want} were acknowledged")
        for event, recipients in by_event.items():
            notices += len(recipients)
            if len(recipients) != len(set(recipients)):
                problems.append(f"lead event {event}: a recipient was notified twice")
            if not managers <= set(recipients):
                problems.append(f"lead event {event}: the sales manager was not notified")
    lines = [f"{emails} welcome emails (one each, sent{', one each at the SMTP server' if maildir else ''}), "
             f"{notices} in-app lead notices ({sum(len(v) for v in leads.values())} leads, the manager told of each once)",
             f"{len(problems)} notification problems"]
    lines += problems[:20]
    return {"checked": emails + sum(len(v) for v in leads.values()), "missing": len(problems), "lines": lines}


def metric_sums(addr, names):
    """The sum of each metric in `names` at a process's /metrics; None when it cannot be read."""
    try:
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except (OSError, urllib.error.URLError):
        return None
    sums = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)$", line)
        if match and match.group(1) in sums:
            sums[match.group(1)] += float(match.group(3))
    return sums


def settle(addresses, within=60):
    """Waits until, at every address, outboxes are drained, consumer lag is 0 and no event is
    parked; {"seconds", "left", "lines"}."""
    names = ("crm_outbox_backlog", "crm_consumer_lag", "crm_dead_letters")
    began = time.monotonic()
    while True:
        left = {}
        for addr in addresses:
            sums = metric_sums(addr, names)
            if sums is None:
                left[addr] = "its /metrics cannot be read"
                continue
            busy = {k: v for k, v in sums.items() if v}
            if busy:
                left[addr] = ", ".join(f"{k} {v:.0f}" for k, v in busy.items())
        waited = time.monotonic() - began
        if not left or waited >= within:
            break
        time.sleep(2)
    if left:
        lines = [f"not settled after {waited:.0f} s:"] + [f"{a}: {why}" for a, why in sorted(left.items())]
    else:
        lines = [f"every outbox drained, consumer lag 0 and no dead letters {waited:.0f} s after the load"]
    return {"seconds": waited, "left": len(left), "lines": lines}


if __name__ == "__main__":
    result = verify(sys.argv[1], sys.argv[2])
    print("\n".join(result["lines"]))
    sys.exit(1 if result["missing"] else 0)
