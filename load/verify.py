"""The read-back after a load: every write the CRM answered OK is there, with what was written.

Reads `writes.jsonl` and `accounts.json` from the report directory, signs in as each tenant's
owner and manager, and asks the edge (REST) for every record: customers (legal name, email, the
last website written), contacts, leads, conversions (the lead converted, its customer and its
opportunity there and linked: the saga finished), and deals (the last stage written, or the
won/lost status). Calls refused by the edge's quotas (429) wait as told (up to 5 s) and go again;
nothing else is retried. `verify(host, report)` returns {"checked", "missing", "lines"}; `python3
load/verify.py HOST REPORT` prints the same.
"""

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


def verify(host, report):
    report = Path(report)
    edge = Edge(host)
    accounts = json.loads((report / "accounts.json").read_text())
    writes = []
    if (report / "writes.jsonl").exists():
        writes = [json.loads(line) for line in (report / "writes.jsonl").read_text().splitlines() if line]

    # Tokens of each tenant's owner and manager (they may read every record of the tenant).
    tokens = {}
    for account in accounts:
        if account["role"] in ("owner", "sales_manager"):
            status, body = edge.call("POST", "/api/v1/auth/login", body={
                "tenant": account["tenant"], "email": account["email"], "password": account["password"]})
            if status != 200:
                raise RuntimeError(f"read-back: {account['email']} cannot sign in: {status} {body}")
            tokens.setdefault(account["tenant"], []).append(body["accessToken"])
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


if __name__ == "__main__":
    result = verify(sys.argv[1], sys.argv[2])
    print("\n".join(result["lines"]))
    sys.exit(1 if result["missing"] else 0)
