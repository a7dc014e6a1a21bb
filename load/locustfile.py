"""A batik shop's sales day, as load on the edge: `just load` (load/run.py) runs this headless.

Tenants are made at the start (`LOAD_TENANTS`, default 4), each with an owner, a manager and
reps (`LOAD_REPS`, default 6) who sign in with passwords made for this run only (never written
to the repository; kept in the run's report directory for the read-back). Each simulated person
signs in once, then works: mostly reads, as in every CRM's logs (finding a customer as you type,
opening a record, looking at the board, a manager's forecast), some writes (a new customer or
contact, a corrected record with its etag, a lead entered, qualified and converted, a deal moved,
won or lost), refreshed tokens, and a share of people holding the notification stream open.

The mix, per simulated person and minute of work (the weights below; `docs/operating.md`, "Load",
says why): reads are about 80% of calls, writes 20%, of which a tenth are conversions (the saga).
REST (JSON over HTTP/1.1, as integrations and the OpenAPI clients call) carries most calls; a
third of the reps call over gRPC (generated stubs, HTTP/2, as services and `grpcurl` do).

Every write the CRM answered OK is appended to `writes.jsonl` in the report directory with what
was written, so that `load/verify.py` can read it back through the API afterwards.
"""

import json
import os
import random
import string
import sys
import threading
import time
import uuid
from pathlib import Path

import gevent
from locust import HttpUser, User, between, events, task

STUBS = os.environ.get("LOAD_STUBS")
if STUBS:
    sys.path.insert(0, STUBS)
    import grpc.experimental.gevent
    grpc.experimental.gevent.init_gevent()  # gRPC's own threads cooperate with Locust's greenlets

REPORT = Path(os.environ.get("LOAD_REPORT", "."))
TENANTS = int(os.environ.get("LOAD_TENANTS", "4"))
REPS = int(os.environ.get("LOAD_REPS", "6"))
RUN = os.environ.get("LOAD_RUN", uuid.uuid4().hex[:8])
# Words batik customers' names are made of: searched as they are typed.
WORDS = ["batik", "songket", "canting", "kedai", "butik", "seri", "warisan", "terengganu", "kuala",
         "tenun", "sutera", "mawar", "cempaka", "kenanga", "melati", "dahlia", "permata", "nusantara"]
# Access tokens live 15 minutes; a client refreshes before that, as the console does.
REFRESH_AFTER = float(os.environ.get("LOAD_REFRESH_AFTER", 10 * 60))
PEOPLE = ["Aisyah", "Farah", "Nurul", "Siti", "Hafiz", "Amir", "Wei Ling", "Kumar", "Mei", "Azlan"]

_accounts = []          # every person of every tenant: tenant, email, password, role
_next_account = 0
_lock = threading.Lock()
_writes = None


def record(kind, **fields):
    """One acknowledged write, for the read-back."""
    global _writes
    with _lock:
        if _writes is None:
            _writes = open(REPORT / "writes.jsonl", "a", buffering=1)
        _writes.write(json.dumps({"kind": kind, "at": time.time(), **fields}) + "\n")


def secret():
    return "".join(random.SystemRandom().choice(string.ascii_letters + string.digits) for _ in range(24))


def name(words=2):
    return " ".join(random.choice(WORDS).capitalize() for _ in range(words))


@events.test_start.add_listener
def make_tenants(environment, **_):
    """The tenants and their people, made through the edge before any user starts; when that
    fails the run stops (load/run.py says why), rather than load an empty CRM."""
    try:
        _make_tenants(environment)
    except Exception as e:
        (REPORT / "setup-failed.txt").write_text(f"{type(e).__name__}: {e}\n")
        print(f"load: could not make the tenants: {e}", flush=True)
        environment.runner.quit()
        raise


def _make_tenants(environment):
    import requests
    host = environment.host.rstrip("/")
    REPORT.mkdir(parents=True, exist_ok=True)
    for t in range(TENANTS):
        password = secret()
        owner = f"owner@t{t}-{RUN}.load.example"
        answer = requests.post(f"{host}/api/v1/auth/register", timeout=60, json={
            "tenant_name": f"Batik Load {RUN} {t}", "email": owner, "password": password,
            "display_name": "Pemilik"})
        answer.raise_for_status()
        body = answer.json()
        tenant = body["tenant"]["id"]
        token = body["accessToken"]
        _accounts.append({"tenant": tenant, "email": owner, "password": password, "role": "owner"})
        people = [("manager", "sales_manager")] + [(f"rep{r}", "sales_rep") for r in range(REPS)]
        for who, role in people:
            password = secret()
            email = f"{who}@t{t}-{RUN}.load.example"
            answer = requests.post(f"{host}/api/v1/users", timeout=60,
                                   headers={"authorization": f"Bearer {token}"},
                                   json={"user": {"email": email, "displayName": who.capitalize(),
                                                  "roles": [role]},
                                         "password": password, "requestId": str(uuid.uuid4())})
            answer.raise_for_status()
            _accounts.append({"tenant": tenant, "email": email, "password": password, "role": role})
    (REPORT / "accounts.json").write_text(json.dumps(_accounts, indent=1))
    print(f"load: {TENANTS} tenants, {len(_accounts)} people made", flush=True)
    _cpu["start"] = cpu_sample()


# -- the CPU the CRM spends while the people work (`LOAD_CPU_GROUPS`, from load/capacity.py:
# {"crm": [pid, ...], "postgres": "comm:postgres"}), from /proc, written to cpu.json -------------
CPU_GROUPS = json.loads(os.environ.get("LOAD_CPU_GROUPS", "{}"))
_cpu = {}


def cpu_sample():
    if not CPU_GROUPS:
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def pids(spec):
        if isinstance(spec, list):
            return spec
        name = spec.split(":", 1)[1]
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "comm").read_text().strip() == name:
                        found.append(int(entry.name))
                except OSError:
                    pass
        return found

    def seconds(pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            return 0.0

    return {"at": time.monotonic(), **{group: {pid: seconds(pid) for pid in pids(spec)}
                                       for group, spec in CPU_GROUPS.items()}}


# -- failures with their time, for the faults load/run.py schedules (it runs them itself: a
# process holding gRPC's threads must not fork) --------------------------------------------------
_failures = []


@events.request.add_listener
def count_failure(name, exception, **_):
    if exception is not None:
        _failures.append({"time": time.time(), "reason": f"{name}: {str(exception)[:140]}"})


@events.test_stop.add_listener
def write_cpu(environment, **_):
    start, end = _cpu.get("start"), cpu_sample()
    if not start or not end:
        return
    # A process started between the samples counts whole; one that ended (a PostgreSQL backend
    # closed) loses what it spent since the first sample: the figure is a floor.
    used = {group: sum(v - start[group].get(pid, 0.0) for pid, v in end[group].items()) for group in CPU_GROUPS}
    total = environment.stats.total
    (REPORT / "cpu.json").write_text(json.dumps({
        "seconds": round(end["at"] - start["at"], 1), "requests": total.num_requests,
        "cpu_seconds": {g: round(v, 2) for g, v in used.items()}}, indent=1))


@events.test_stop.add_listener
def write_failures(**_):
    (REPORT / "failures.json").write_text(json.dumps(_failures))


EDGES = [e for e in os.environ.get("LOAD_EDGES", "").split(",") if e]
_next_edge = 0


def next_edge(host):
    """The edge this simulated person talks to: each in turn when several are given (LOAD_EDGES)."""
    global _next_edge
    if not EDGES:
        return host.rstrip("/")
    with _lock:
        _next_edge += 1
        return EDGES[_next_edge % len(EDGES)].rstrip("/")


def take_account(roles):
    """The next person of one of `roles`, round robin (several simulated users may share one)."""
    global _next_account
    with _lock:
        chosen = [a for a in _accounts if a["role"] in roles]
        account = chosen[_next_account % len(chosen)]
        _next_account += 1
        return account


class Person(HttpUser):
    """A rep over REST: the common case."""

    abstract = True
    roles = ("sales_rep",)
    wait_time = between(1, 4)

    def on_start(self):
        self.account = take_account(self.roles)
        self.edge = next_edge(self.host)
        self.customers = []      # [id, etag, legal name] of customers this person wrote
        self.opportunities = []  # [id, etag]
        self.pipeline = None
        self.stages = []
        self.sign_in()

    # -- helpers -----------------------------------------------------------------------------
    def call(self, method, path, name, body=None, ok=(200,), again=True):
        if time.monotonic() - self.token_at > REFRESH_AFTER:
            self.refresh()
        # A read, or a write carrying a request_id (the CRM answers it once), is safe to send again.
        repeatable = method == "GET" or "requestId" in (body or {})
        with self.client.request(method, self.edge + path, name=name, json=body, catch_response=True,
                                 headers={"authorization": f"Bearer {self.token}"}) as answer:
            if again and self.edge_unreachable(answer, name, repeatable):
                return self.call(method, path, name, body, ok, again=False)
            if answer.status_code in ok:
                answer.success()
                try:
                    return answer.json()
                except ValueError:
                    return {}
            reason = f"HTTP {answer.status_code}"
            try:
                reason += f" {answer.json().get('code', '')}: {answer.json().get('message', '')[:120]}"
            except ValueError:
                reason += f" {type(answer.error).__name__}" if answer.error else ""
            answer.failure(reason)
            return None

    def edge_unreachable(self, answer, name, repeatable):
        """Whether the request found no edge to answer it and should be sent again to another.

        An edge that was killed leaves its callers with a refused connection, or a kept-alive one
        that is reset: no HTTP answer at all (status 0). A load balancer in front of the edges
        takes the edge out and sends the call to another, as this does. Whether to send it again
        there is the same rule as the gateway's towards its replicas: when the connection was
        refused (the request never reached the CRM), or when the call is safe to repeat (a read,
        a write with a request_id). Otherwise the call may have been carried out: it counts as a
        failure (a call in flight on the killed edge), and this person's next calls go elsewhere.
        A call sent again is counted under its own name, not as a failure.
        """
        if answer.status_code != 0 or len(EDGES) < 2:
            return False
        others = [e.rstrip("/") for e in EDGES if e.rstrip("/") != self.edge]
        self.edge = random.choice(others)
        if repeatable or "refused" in str(answer.error).lower():
            answer.request_meta["name"] = f"{name} (edge unreachable, sent to another)"
            answer.success()
            return True
        return False

    def sign_in(self, again=True):
        with self.client.post(self.edge + "/api/v1/auth/login", name="Login", catch_response=True, json={
                "tenant": self.account["tenant"], "email": self.account["email"],
                "password": self.account["password"]}) as answer:
            if again and self.edge_unreachable(answer, "Login", repeatable=True):
                return self.sign_in(again=False)
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}: {answer.text[:200]}")
                raise RuntimeError("sign-in failed")
            body = answer.json()
            self.token, self.refresh_token = body["accessToken"], body["refreshToken"]
            self.token_at = time.monotonic()

    def default_pipeline(self):
        if self.pipeline is None:
            body = self.call("GET", "/api/v1/pipelines", "ListPipelines")
            for pipeline in (body or {}).get("pipelines", []):
                if pipeline.get("default"):
                    self.pipeline = pipeline["id"]
                    self.stages = [s["id"] for s in pipeline.get("stages", [])]
        return self.pipeline

    # -- reads (about 80% of calls) ----------------------------------------------------------
    @task(20)
    def search_as_you_type(self):
        word = random.choice(WORDS)
        for n in range(3, min(len(word), 6) + 1):
            self.call("GET", f"/api/v1/customers/search?query={word[:n]}&pageSize=10", "SearchCustomers")
            gevent.sleep(random.uniform(0.1, 0.3))

    @task(8)
    def list_customers(self):
        self.call("GET", "/api/v1/customers?pageSize=25", "ListCustomers")

    @task(12)
    def open_a_customer(self):
        if self.customers:
            customer = random.choice(self.customers)
            self.call("GET", f"/api/v1/customers/{customer[0]}", "GetCustomer")
            if random.random() < 0.4:
                self.call("GET", f"/api/v1/customers/{customer[0]}/overview", "GetCustomerOverview")

    @task(6)
    def look_at_the_board(self):
        if self.default_pipeline():
            self.call("GET", f"/api/v1/opportunities?pageSize=50&pipelineId={self.pipeline}",
                      "ListOpportunities")

    @task(4)
    def list_leads(self):
        self.call("GET", "/api/v1/leads?pageSize=25", "ListLeads")

    @task(3)
    def notifications(self):
        self.call("GET", "/api/v1/notifications?pageSize=20", "ListNotifications")

    # -- writes (about 20%) ------------------------------------------------------------------
    @task(4)
    def new_customer(self):
        legal = f"{name()} {random.randint(1, 99999)}"
        email = f"{uuid.uuid4().hex[:12]}@pelanggan.example"
        request_id = str(uuid.uuid4())
        body = self.call("POST", "/api/v1/customers", "CreateCustomer", {
            "customer": {"type": "CUSTOMER_TYPE_BUSINESS", "business": {"legalName": legal},
                         "email": email},
            "requestId": request_id})
        if body:
            customer = body["customer"]
            self.customers.append([customer["id"], customer["etag"], legal])
            record("customer", tenant=self.account["tenant"], id=customer["id"], legal_name=legal,
                   email=email)

    @task(3)
    def correct_a_customer(self):
        if not self.customers:
            return
        customer = random.choice(self.customers)
        website = f"https://{uuid.uuid4().hex[:10]}.example"
        body = self.call("PATCH", f"/api/v1/customers/{customer[0]}", "UpdateCustomer", {
            "customer": {"business": {"legalName": customer[2], "website": website}, "etag": customer[1]},
            "updateMask": "business"},
            ok=(200, 409))
        if body and body.get("customer"):
            customer[1] = body["customer"]["etag"]
            record("customer_update", tenant=self.account["tenant"], id=customer[0], website=website,
                   etag=customer[1])
        elif body is not None:
            # 409 ABORTED: someone else wrote it since (another simulated user sharing the
            # account); read it again, as a console would.
            fresh = self.call("GET", f"/api/v1/customers/{customer[0]}", "GetCustomer")
            if fresh:
                customer[1] = fresh["customer"]["etag"]

    @task(2)
    def add_a_contact(self):
        if not self.customers:
            return
        customer = random.choice(self.customers)
        given = random.choice(PEOPLE)
        email = f"{uuid.uuid4().hex[:12]}@kenalan.example"
        body = self.call("POST", f"/api/v1/customers/{customer[0]}/contacts", "AddContact", {
            "contact": {"givenName": given, "emails": [{"address": email}]},
            "requestId": str(uuid.uuid4())})
        if body:
            record("contact", tenant=self.account["tenant"], customer_id=customer[0],
                   id=body["contact"]["id"], email=email)

    @task(3)
    def a_lead_comes_in(self):
        company = f"{name()} Sdn Bhd {random.randint(1, 99999)}"
        email = f"{uuid.uuid4().hex[:12]}@prospek.example"
        body = self.call("POST", "/api/v1/leads", "CreateLead", {"lead": {
            "contactName": random.choice(PEOPLE), "companyName": company, "email": email,
            "source": "LEAD_SOURCE_TRADE_SHOW",
            "estimatedValue": {"currencyCode": "MYR", "units": str(random.randint(500, 30000))}},
            "requestId": str(uuid.uuid4())})
        if not body:
            return
        lead = body["lead"]
        record("lead", tenant=self.account["tenant"], id=lead["id"], company_name=company, email=email)
        if random.random() < 0.6:
            if not self.call("POST", f"/api/v1/leads/{lead['id']}/qualify", "QualifyLead",
                             {"qualified": True, "score": random.randint(50, 100)}):
                return
            request_id = str(uuid.uuid4())
            converted = self.call("POST", f"/api/v1/leads/{lead['id']}/convert", "ConvertLead",
                                  {"requestId": request_id})
            if converted:
                opportunity = converted["opportunity"]
                self.opportunities.append([opportunity["id"], opportunity["etag"]])
                record("conversion", tenant=self.account["tenant"], lead_id=lead["id"],
                       customer_id=converted["customerId"], opportunity_id=opportunity["id"])

    @task(3)
    def move_a_deal(self):
        if not self.opportunities or not self.default_pipeline() or len(self.stages) < 2:
            return
        opportunity = random.choice(self.opportunities)
        stage = random.choice(self.stages[1:])
        body = self.call("POST", f"/api/v1/opportunities/{opportunity[0]}/move-stage", "MoveOpportunityStage",
                         {"stageId": stage, "etag": opportunity[1]}, ok=(200, 409))
        if body and body.get("opportunity"):
            opportunity[1] = body["opportunity"]["etag"]
            record("move", tenant=self.account["tenant"], id=opportunity[0], stage_id=stage,
                   etag=opportunity[1])
        elif body is not None:
            self.opportunities.remove(opportunity)  # closed or changed by someone else

    @task(1)
    def close_a_deal(self):
        if not self.opportunities:
            return
        opportunity = self.opportunities.pop(random.randrange(len(self.opportunities)))
        if random.random() < 0.5:
            body = self.call("POST", f"/api/v1/opportunities/{opportunity[0]}/win", "WinOpportunity",
                             {"etag": opportunity[1]}, ok=(200, 409))
            status = "OPPORTUNITY_STATUS_WON"
        else:
            body = self.call("POST", f"/api/v1/opportunities/{opportunity[0]}/lose", "LoseOpportunity",
                             {"reason": "LOSS_REASON_PRICE", "etag": opportunity[1]}, ok=(200, 409))
            status = "OPPORTUNITY_STATUS_LOST"
        if body and body.get("opportunity"):
            record("close", tenant=self.account["tenant"], id=opportunity[0], status=status)

    @task(1)
    def refresh(self, again=True):
        # Not repeatable: a refresh token is good once (the CRM rotates it, and treats a second
        # use as theft), so only a refused connection sends it to another edge.
        with self.client.post(self.edge + "/api/v1/auth/refresh", name="Refresh", catch_response=True,
                              json={"refreshToken": self.refresh_token}) as answer:
            if again and self.edge_unreachable(answer, "Refresh", repeatable=False):
                return self.refresh(again=False)
            if answer.status_code == 200:
                body = answer.json()
                self.token, self.refresh_token = body["accessToken"], body["refreshToken"]
                self.token_at = time.monotonic()
            else:
                answer.failure(f"HTTP {answer.status_code}: {answer.text[:200]}")


class Rep(Person):
    """A sales rep over REST."""

    weight = 6


class Manager(Person):
    """A sales manager: the rep's work, plus the board's figures and the forecast."""

    weight = 1
    roles = ("sales_manager", "owner")

    @task(6)
    def analytics(self):
        if self.default_pipeline():
            self.call("GET", f"/api/v1/pipelines/{self.pipeline}/analytics", "GetPipelineAnalytics")

    @task(4)
    def forecast(self):
        if self.default_pipeline():
            self.call("GET", f"/api/v1/pipelines/{self.pipeline}/forecast", "GetRevenueForecast")


class Watcher(Person):
    """A console left open: the notification stream held, a reply to what comes."""

    weight = 1
    wait_time = between(1, 2)

    @task
    def hold_the_stream(self):
        # The opening is timed as the request (headers back); the hold is checked apart. An edge
        # that cannot be reached sends the watcher to another (a read: safe to open again).
        for again in (True, False):
            with self.client.get(self.edge + "/api/v1/notifications/watch", name="WatchNotifications (opened)",
                                 stream=True, timeout=(5, 61), catch_response=True,
                                 headers={"authorization": f"Bearer {self.token}"}) as answer:
                if again and self.edge_unreachable(answer, "WatchNotifications (opened)", repeatable=True):
                    continue
                if answer.status_code != 200:
                    answer.failure(f"HTTP {answer.status_code}")
                    return
                answer.success()
                break
        started, ended = time.monotonic(), None
        try:
            for _ in answer.iter_lines():
                if time.monotonic() - started > 60:
                    break
            else:
                ended = "the server ended it"
        except Exception as e:  # a read timeout after a quiet minute is a stream held, as wanted
            if time.monotonic() - started < 59:
                ended = type(e).__name__
        finally:
            answer.close()
        held = time.monotonic() - started
        if ended and held < 59:
            self.environment.events.request.fire(
                request_type="GET", name="WatchNotifications (held 60 s)", response_time=held * 1000,
                response_length=0, exception=Exception(f"ended after {held:.0f} s: {ended}"), context={})


class GrpcRep(User):
    """A rep over gRPC (HTTP/2, generated stubs): search, open, the board, and new customers."""

    weight = 3
    wait_time = between(1, 4)

    def on_start(self):
        import grpc
        from crm.customer.v1 import customers_pb2, customers_pb2_grpc
        from crm.iam.v1 import auth_pb2, auth_pb2_grpc
        from crm.sales.v1 import opportunities_pb2, opportunities_pb2_grpc
        self.pb = customers_pb2
        self.opb = opportunities_pb2
        # Every edge behind one channel, round robin: gRPC's own client-side balancing skips an
        # edge that refuses connections.
        targets = [e.split("://", 1)[-1] for e in (EDGES or [self.host])]
        self.channel = grpc.insecure_channel("ipv4:" + ",".join(targets),
                                             options=[("grpc.lb_policy_name", "round_robin"),
                                                      ("grpc.default_authority", targets[0])])
        self.customers_stub = customers_pb2_grpc.CustomerServiceStub(self.channel)
        self.opportunities_stub = opportunities_pb2_grpc.OpportunityServiceStub(self.channel)
        self.account = take_account(("sales_rep",))
        self.customers = []
        answer = self.timed("Login (gRPC)", auth_pb2_grpc.AuthServiceStub(self.channel).Login,
                            auth_pb2.LoginRequest(tenant=self.account["tenant"], email=self.account["email"],
                                                  password=self.account["password"]), auth=False)
        if answer is None:
            raise RuntimeError("sign-in failed")
        self.auth_pb2, self.auth_stub = auth_pb2, auth_pb2_grpc.AuthServiceStub(self.channel)
        self.signed_in(answer)

    def signed_in(self, answer):
        self.metadata = (("authorization", f"Bearer {answer.access_token}"),)
        self.refresh_token, self.token_at = answer.refresh_token, time.monotonic()

    def fresh_token(self):
        """Refreshes the access token before it runs out, as a client does."""
        if time.monotonic() - self.token_at > REFRESH_AFTER:
            answer = self.timed("Refresh (gRPC)", self.auth_stub.Refresh,
                                self.auth_pb2.RefreshRequest(refresh_token=self.refresh_token), auth=False)
            if answer is not None:
                self.signed_in(answer)

    def on_stop(self):
        self.channel.close()

    def timed(self, name, method, request, auth=True):
        import grpc
        if auth:
            self.fresh_token()
        started = time.perf_counter()
        exception, answer = None, None
        try:
            answer = method(request, timeout=10, metadata=self.metadata if auth else None)
        except grpc.RpcError as e:
            exception = Exception(f"{e.code().name}: {(e.details() or '')[:120]}")
        self.environment.events.request.fire(
            request_type="gRPC", name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=answer.ByteSize() if answer is not None else 0, exception=exception,
            context={})
        return answer

    @task(20)
    def search_as_you_type(self):
        word = random.choice(WORDS)
        for n in range(3, min(len(word), 6) + 1):
            self.timed("SearchCustomers (gRPC)", self.customers_stub.SearchCustomers,
                       self.pb.SearchCustomersRequest(query=word[:n], page_size=10))
            gevent.sleep(random.uniform(0.1, 0.3))

    @task(12)
    def open_a_customer(self):
        if self.customers:
            self.timed("GetCustomer (gRPC)", self.customers_stub.GetCustomer,
                       self.pb.GetCustomerRequest(id=random.choice(self.customers)))

    @task(6)
    def look_at_the_board(self):
        self.timed("ListOpportunities (gRPC)", self.opportunities_stub.ListOpportunities,
                   self.opb.ListOpportunitiesRequest(page_size=50))

    @task(4)
    def new_customer(self):
        legal = f"{name()} {random.randint(1, 99999)}"
        email = f"{uuid.uuid4().hex[:12]}@pelanggan.example"
        answer = self.timed("CreateCustomer (gRPC)", self.customers_stub.CreateCustomer,
                            self.pb.CreateCustomerRequest(
                                customer=self.pb.Customer(
                                    type=self.pb.CUSTOMER_TYPE_BUSINESS,
                                    business=self.pb.BusinessDetails(legal_name=legal), email=email),
                                request_id=str(uuid.uuid4())))
        if answer is not None:
            self.customers.append(answer.customer.id)
            record("customer", tenant=self.account["tenant"], id=answer.customer.id, legal_name=legal,
                   email=email)
