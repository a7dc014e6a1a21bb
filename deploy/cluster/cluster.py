#!/usr/bin/env python3
"""The production shape on one machine: `just cluster up | ps | down`.

`up` starts, in the background, one `crm serve --target <context>` process per replica in
microservices mode (iam x1, customer x2, sales x2, notification x1, activity x1, edge x2, every edge seeing
every upstream process) on PostgreSQL (the local server, a database of the cluster's own), Redis
(the local server, a logical database of the cluster's own) and Kafka (a tansu broker keeping its
topics and offsets in PostgreSQL, so a broker restart loses nothing), with an SMTP server
(aiosmtpd) that keeps every message it gets in a Maildir. Migrations, signing keys and the JWK
Set are made first by the same commands the chart's and compose's jobs run (`crm migrate`,
`crm keys rotate --if-none`, `crm keys jwks`). Its last line is `edge 127.0.0.1:PORT`.

`ps` prints one JSON object per line for every process (crm's and the backing services').
`check` runs a sales day's first steps through the edges over REST (sign-up, a customer written
through one edge and read through the other, a lead qualified and converted: the saga from sales
to customers, the pipeline sales seeded from IAM's event over Kafka) and waits for the welcome
email at the SMTP server: every context, the broker and the mail, once.
`down` stops what `up` started (by pid) and removes its data: the databases, the Redis database,
the state directory.

Faults, for the load's chaos: `kill | stop | start | restart NAME` (a process by name:
customer-1, kafka-0), `stop-redis` and `start-redis` (the machine's Redis), `cut-postgres` (every
connection of the cluster's processes to its database ended, new ones refused) and
`restore-postgres`.

Everything lives under $KILANG_CLUSTER_DIR (default ~/.cache/kilang-crm/cluster): `state.json`,
`logs/<target>-<replica>.log`, `mail/` (the SMTP server's Maildir), the keys and the JWK Set.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KILANG_CI_CACHE", Path.home() / ".cache" / "kilang-crm"))
DIR = Path(os.environ.get("KILANG_CLUSTER_DIR", CACHE / "cluster"))
STATE = DIR / "state.json"
POSTGRES = os.environ.get("CLUSTER_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "crm_cluster"
BROKER_DATABASE = "crm_cluster_broker"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 7
AIOSMTPD_PATH = Path(os.environ.get("AIOSMTPD_PYTHONPATH", CACHE / "py"))
# How many processes of each context; the edge is last, so that its upstreams are known.
REPLICAS = [("iam", 1), ("customer", 2), ("sales", 2), ("notification", 1), ("activity", 1), ("edge", 2)]


def say(text):
    print(f"==> {text}", file=sys.stderr, flush=True)


def fail(text):
    print(f"cluster: {text}", file=sys.stderr, flush=True)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie (ended, not yet reaped) is not running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def psql(database, sql=None, file=None):
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", f"{POSTGRES}/{database}"]
    command += ["-f", str(file)] if file else ["-c", sql]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"psql on {database}: {done.stderr.strip()}")


def crm_binary():
    """The crm binary with Kafka (the `production` features), built if needed."""
    if os.environ.get("CRM"):
        return os.environ["CRM"]
    profile = os.environ.get("CLUSTER_PROFILE", "release")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    say(f"building crm ({profile} profile, features: production)")
    command = ["cargo", "build", "-q", "-p", "crm", "--features", "production"]
    if profile == "release":
        command.append("--release")
    subprocess.run(command, cwd=ROOT, check=True)
    return str(target / ("release" if profile == "release" else "debug") / "crm")


def tansu_binary():
    # The same build the test suites use (.ci/services.sh keeps it: in-memory and PostgreSQL storage).
    done = subprocess.run(["bash", str(ROOT / ".ci" / "services.sh"), "tansu"], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        fail("the tansu broker did not build; see ~/.cache/kilang-crm/tansu-install.log")
    return Path(done.stdout.strip().splitlines()[-1])


def start(name, command, env=None, log=None):
    """Starts `command` in its own session (it outlives this script), its output in `log`."""
    log = log or DIR / "logs" / f"{name}.log"
    out = open(log, "ab")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})}, cwd=DIR, start_new_session=True)
    return process.pid, log


def wait_for_port(name, pid, port, log, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if not alive(pid):
            fail(f"{name} ended at start; its log ({log}) ends with:\n{tail(log)}")
        time.sleep(0.2)
    fail(f"{name} did not listen on {port} within {seconds} s; see {log}")


def wait_for_ready(name, pid, log, seconds=120):
    """The address a crm process prints on its ready line (`crm serving … on ADDR`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for line in Path(log).read_text(errors="replace").splitlines():
            if line.startswith("crm serving "):
                return line.strip().rsplit(" on ", 1)[1]
        if not alive(pid):
            fail(f"{name} ended at start; its log ({log}) ends with:\n{tail(log)}")
        time.sleep(0.2)
    fail(f"{name} was not ready within {seconds} s; see {log}")


def tail(log, lines=15):
    return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])


def run(command, env=None, what=""):
    done = subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True, text=True, cwd=DIR)
    if done.returncode != 0:
        fail(f"{what or ' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def load_state():
    if not STATE.exists():
        return None
    return json.loads(STATE.read_text())


def save_state(state):
    STATE.touch(mode=0o600)
    STATE.write_text(json.dumps(state, indent=2) + "\n")


def up():
    state = load_state()
    if state and any(alive(p.get("pid")) for p in state["processes"]):
        fail(f"a cluster is already up (see `just cluster ps`); stop it with `just cluster down` first")
    if state:
        down(quiet=True)
    if not port_open(5432):
        fail("PostgreSQL does not answer on 127.0.0.1:5432: start it with `just up` (.ci/services.sh up)")
    if not port_open(REDIS_PORT):
        fail("Redis does not answer on 127.0.0.1:6379: start it with `just up` (.ci/services.sh up)")
    if not (AIOSMTPD_PATH / "aiosmtpd").exists():
        fail(f"aiosmtpd is not in {AIOSMTPD_PATH}: install it with `just up` (.ci/services.sh up)")
    crm = crm_binary()
    tansu = tansu_binary()
    (DIR / "logs").mkdir(parents=True, exist_ok=True)
    for box in ("tmp", "new", "cur"):  # a Maildir: aiosmtpd's Mailbox makes none in a directory that exists
        (DIR / "mail" / box).mkdir(parents=True, exist_ok=True)
    processes = []
    state = {"crm": crm, "processes": processes, "databases": [DATABASE, BROKER_DATABASE],
             "redis": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"}
    save_state(state)

    # Backing services: the machine's PostgreSQL and Redis (databases of the cluster's own),
    # and the broker and the SMTP server, started here.
    processes.append({"target": "postgres", "replica": 0, "pid": None, "addr": "127.0.0.1:5432",
                      "stopped_by": f"not by the cluster: the machine's server; `down` drops {DATABASE} and {BROKER_DATABASE}"})
    processes.append({"target": "redis", "replica": 0, "pid": None, "addr": f"{REDIS_HOST}:{REDIS_PORT}",
                      "stopped_by": f"not by the cluster: the machine's server; `down` empties its database {REDIS_DB}"})
    say(f"PostgreSQL databases {DATABASE} and {BROKER_DATABASE}, Redis database {REDIS_DB}")
    for database in (DATABASE, BROKER_DATABASE):
        psql("postgres", f"drop database if exists {database} with (force)")
        psql("postgres", f"create database {database}")
    psql(BROKER_DATABASE, file=ROOT / "deploy" / "cluster" / "tansu-schema.sql")
    subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "-n", str(REDIS_DB), "flushdb"],
                   check=True, capture_output=True)

    kafka_port = free_port()
    broker = [str(tansu), "broker", "--listener-url", f"tcp://127.0.0.1:{kafka_port}",
              "--advertised-listener-url", f"tcp://127.0.0.1:{kafka_port}",
              "--storage-engine", f"{POSTGRES}/{BROKER_DATABASE}?sslmode=disable"]
    pid, log = start("kafka-0", broker)
    processes.append({"target": "kafka", "replica": 0, "pid": pid, "addr": f"127.0.0.1:{kafka_port}",
                      "log": str(log), "stopped_by": "kill (SIGTERM) by pid", "command": broker, "env": {}})
    save_state(state)
    wait_for_port("the tansu broker", pid, kafka_port, log)
    say(f"tansu on 127.0.0.1:{kafka_port} (storage: PostgreSQL database {BROKER_DATABASE})")

    smtp_port = free_port()
    pid, log = start("smtp-0", [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}",
                                "-c", "aiosmtpd.handlers.Mailbox", str(DIR / "mail")],
                     env={"PYTHONPATH": str(AIOSMTPD_PATH)})
    processes.append({"target": "smtp", "replica": 0, "pid": pid, "addr": f"127.0.0.1:{smtp_port}",
                      "log": str(log), "stopped_by": "kill (SIGTERM) by pid"})
    save_state(state)
    wait_for_port("the SMTP server", pid, smtp_port, log)
    say(f"aiosmtpd on 127.0.0.1:{smtp_port} (mail kept in {DIR / 'mail'})")

    database_url = f"{POSTGRES}/{DATABASE}"
    common = {"DATABASE_URL": database_url, "REDIS_URL": state["redis"],
              "KAFKA_BROKERS": f"127.0.0.1:{kafka_port}", "CRM_LOG__FORMAT": "json"}
    for key in ("MONGODB_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "CRM_CONFIG"):
        os.environ.pop(key, None)

    # The jobs the chart and compose run first.
    say("crm migrate, crm keys rotate --if-none (the chart's and compose's jobs)")
    run([crm, "migrate", "--target", "iam,customer,sales,notification,activity"], {"DATABASE_URL": database_url})
    keys = DIR / "keys"
    run([crm, "keys", "rotate", "--if-none"], {"CRM_IAM__SIGNING_KEYS_DIR": str(keys)})
    secrets = dict(line.split("=", 1) for line in
                   run([crm, "service-account", "secret", "sales", "--env"]).splitlines() if "=" in line)

    def serve(target, replica, env):
        name = f"{target}-{replica}"
        data = DIR / "data" / name
        data.mkdir(parents=True, exist_ok=True)
        command = [crm, "serve", "--target", target, "--listen", "127.0.0.1:0", "--data-dir", str(data)]
        pid, log = start(name, command, {**common, **env})
        # The command and its settings are kept (state.json is the operator's own, mode 0600) so
        # that `start NAME` brings a stopped process back on the same address.
        entry = {"target": target, "replica": replica, "pid": pid, "addr": None, "log": str(log),
                 "command": command, "env": {**common, **env}}
        processes.append(entry)
        save_state(state)
        entry["addr"] = wait_for_ready(name, pid, log)
        save_state(state)
        say(f"{name} on {entry['addr']} (pid {pid}, log {log})")
        return entry

    # Every client of this machine comes from 127.0.0.1: the sign-up throttle per address would
    # count a load's tenants as one client's (the limit for everyone together stays).
    iam = serve("iam", 0, {"CRM_IAM__SIGNING_KEYS_DIR": str(keys), "CRM_IAM__SIGNUP_ADDRESS_LIMIT": "0",
                           "CRM_IAM__SERVICE_ACCOUNTS__SALES": secrets["CRM_IAM__SERVICE_ACCOUNTS__SALES"]})
    jwks = DIR / "jwks.json"
    say("crm keys jwks (the chart's and compose's job)")
    run([crm, "keys", "jwks", "--server", f"http://{iam['addr']}", "--out", str(jwks)])
    verified = {"CRM_AUTH__JWKS_FILE": str(jwks)}
    iam_url = f"http://{iam['addr']}"
    customers = [serve("customer", r, {**verified, "CRM_CUSTOMER__IAM_ENDPOINT": iam_url}) for r in range(2)]
    # Sales reaches every customer process, in turn and around the ones that fail, as the edges do.
    customer_urls = ",".join(f"http://{c['addr']}" for c in customers)
    sales = [serve("sales", r, {**verified, "CRM_SALES__CUSTOMER_ENDPOINT": customer_urls,
                                "CRM_SALES__IAM_ENDPOINT": iam_url,
                                "CRM_SALES__SERVICE_SECRET": secrets["CRM_SALES__SERVICE_SECRET"]})
             for r in range(2)]
    notifications = [serve("notification", 0, {**verified,
                                               "CRM_NOTIFICATION__SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
                                               "CRM_NOTIFICATION__EMAIL_FROM": "Kilang CRM <crm@kilang.example>"})]

    # One process on these two cores (the chart runs two: each reminder fires once between
    # replicas, claimed in the database, as the store suite races it).
    activities = [serve("activity", 0, verified)]

    def upstream(entries):
        return ",".join(f"http://{e['addr']}" for e in entries)

    edges = [serve("edge", r, {**verified, "CRM_EDGE__UPSTREAMS__IAM": iam_url,
                               "CRM_EDGE__UPSTREAMS__CUSTOMER": upstream(customers),
                               "CRM_EDGE__UPSTREAMS__SALES": upstream(sales),
                               "CRM_EDGE__UPSTREAMS__NOTIFICATION": upstream(notifications),
                               "CRM_EDGE__UPSTREAMS__ACTIVITY": upstream(activities)})
             for r in range(2)]
    state["edges"] = [e["addr"] for e in edges]
    save_state(state)
    print(f"edge {edges[0]['addr']}", flush=True)


def find(state, name):
    for p in state["processes"]:
        if f"{p['target']}-{p['replica']}" == name and p.get("command"):
            return p
    names = [f"{p['target']}-{p['replica']}" for p in state["processes"] if p.get("command")]
    fail(f"no process `{name}` here; the cluster's are {', '.join(names)}")


def fault(action, name):
    """`kill NAME` (SIGKILL: a crash), `stop NAME` (SIGTERM, drained), `start NAME` (again, on its
    own address), `restart NAME` (stop, then start): the faults a soak schedules."""
    state = load_state()
    if not state:
        fail("no cluster is up here; start one with `just cluster up`")
    p = find(state, name)
    if action in ("kill", "stop", "restart"):
        if alive(p["pid"]):
            if action == "kill":
                os.kill(p["pid"], signal.SIGKILL)
                while alive(p["pid"]):
                    time.sleep(0.05)
            else:
                stop(p["pid"])
        say(f"{name} {'killed' if action == 'kill' else 'stopped'} (pid {p['pid']})")
    if action in ("start", "restart"):
        if alive(p["pid"]):
            fail(f"{name} is running (pid {p['pid']}); stop or kill it first")
        command = [p["addr"] if arg == "127.0.0.1:0" else arg for arg in p["command"]]
        offset = Path(p["log"]).stat().st_size if Path(p["log"]).exists() else 0
        pid, log = start(name, command, p["env"], log=p["log"])
        p["pid"] = pid
        save_state(state)
        port = int(p["addr"].rsplit(":", 1)[1])
        wait_for_port(name, pid, port, log)
        if p["target"] not in ("kafka", "smtp"):
            # Ready once it says so again (its log is appended to).
            deadline = time.monotonic() + 120
            marker = f"crm serving {p['target']} on {p['addr']}"
            while marker not in Path(log).read_bytes()[offset:].decode(errors="replace") \
                    and time.monotonic() < deadline:
                if not alive(pid):
                    fail(f"{name} ended at start; its log ({log}) ends with:\n{tail(log)}")
                time.sleep(0.1)
        say(f"{name} started again on {p['addr']} (pid {pid})")


def ps():
    state = load_state()
    if not state:
        fail("no cluster is up here; start one with `just cluster up`")
    for p in state["processes"]:
        row = {"target": p["target"], "replica": p["replica"], "pid": p["pid"], "addr": p["addr"]}
        if p.get("pid"):
            row["running"] = alive(p["pid"])
        if p.get("stopped_by"):
            row["stopped_by"] = p["stopped_by"]
        if p.get("log"):
            row["log"] = p["log"]
        print(json.dumps(row), flush=True)


def stop(pid, grace=10.0):
    if not alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def down(quiet=False):
    state = load_state()
    if not state:
        if not quiet:
            say("no cluster is up here")
        return
    # The edges first (no new calls), the broker and the SMTP server last.
    for p in reversed(state["processes"]):
        if p.get("pid"):
            stop(p["pid"])
            if not quiet:
                say(f"stopped {p['target']}-{p['replica']} (pid {p['pid']})")
    if port_open(5432):
        for database in state.get("databases", []):
            psql("postgres", f"drop database if exists {database} with (force)")
    if port_open(REDIS_PORT):
        subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "-n", str(REDIS_DB), "flushdb"],
                       capture_output=True)
    shutil.rmtree(DIR, ignore_errors=True)
    if not quiet:
        say(f"removed its databases, Redis database {REDIS_DB} and {DIR}")


def rest(edge, method, path, body=None, token=None):
    """One REST call to the edge: (HTTP status, JSON answer); the load's read-back client."""
    sys.path.insert(0, str(ROOT / "load"))
    from verify import Edge
    return Edge(f"http://{edge}").call(method, path, token, body)


def expect(what, answer, status=200):
    code, body = answer
    if code != status:
        fail(f"{what}: HTTP {code}, {json.dumps(body)}")
    say(f"{what}: ok")
    return body


def check():
    state = load_state()
    if not state or not state.get("edges"):
        fail("no cluster is up here; start one with `just cluster up`")
    first, second = state["edges"][0], state["edges"][-1]
    stamp = time.strftime("%H%M%S")
    email = f"owner-{stamp}-{os.getpid()}@cluster.example"
    token = expect("sign-up through the first edge (IAM)", rest(first, "POST", "/api/v1/auth/register", {
        "tenant_name": f"Batik Cluster {stamp} {os.getpid()}", "email": email,
        "password": "batik canting motif", "display_name": "Owner"}))["accessToken"]
    customer = expect("a customer written through the first edge (customers)", rest(
        first, "POST", "/api/v1/customers",
        {"customer": {"type": "CUSTOMER_TYPE_BUSINESS", "business": {"legalName": "Butik Seri Batik"}}},
        token))["customer"]
    expect("and read through the second", rest(second, "GET", f"/api/v1/customers/{customer['id']}", token=token))
    lead = expect("a lead (sales)", rest(first, "POST", "/api/v1/leads", {"lead": {
        "contact_name": "Aisyah binti Omar", "company_name": "Hotel Seri Malaysia",
        "email": f"aisyah-{stamp}@hotel.example", "source": "LEAD_SOURCE_TRADE_SHOW",
        "estimated_value": {"currency_code": "MYR", "units": "25000"}}}, token))["lead"]
    expect("qualified", rest(second, "POST", f"/api/v1/leads/{lead['id']}/qualify",
                             {"qualified": True, "score": 80}, token))
    # The default pipeline is seeded by sales from IAM's TenantCreated, over Kafka.
    deadline = time.monotonic() + 60
    while True:
        code, body = rest(first, "POST", f"/api/v1/leads/{lead['id']}/convert",
                          {"request_id": f"cluster-check-{lead['id']}"}, token)
        if code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    converted = expect("converted into a customer and an opportunity (the saga, sales to customers)",
                       (code, body))
    if not converted.get("opportunity", {}).get("id"):
        fail(f"the conversion answered no opportunity: {json.dumps(converted)}")
    # The welcome email: IAM's event through Kafka to notifications, then SMTP.
    mail = DIR / "mail"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for box in ("new", "cur"):
            for message in (mail / box).glob("*") if (mail / box).exists() else []:
                if email in message.read_text(errors="replace"):
                    say(f"the welcome email reached the SMTP server ({message.name}): ok")
                    print("check passed", flush=True)
                    return
        time.sleep(0.5)
    fail(f"no email to {email} reached the SMTP server within 60 s (see {mail} and the notification log)")


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    if command == "up":
        up()
    elif command == "ps":
        ps()
    elif command == "down":
        down()
    elif command == "check":
        check()
    elif command == "stop-redis":
        # The machine's Redis (the quotas' store): the soak's fault; `start-redis` brings it back.
        subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "shutdown", "nosave"],
                       capture_output=True)
        say("Redis stopped")
    elif command == "start-redis":
        subprocess.run(["bash", str(ROOT / ".ci" / "services.sh"), "redis"], check=True, capture_output=True)
        say("Redis started")
    elif command == "cut-postgres":
        # The CRM's database gone, as in a failover: every connection of the cluster's processes
        # to it ended and new ones refused until `restore-postgres` (the broker's database stays).
        psql("postgres", f"alter database {DATABASE} allow_connections false")
        psql("postgres", "select pg_terminate_backend(pid) from pg_stat_activity "
                         f"where datname = '{DATABASE}' and pid <> pg_backend_pid()")
        say(f"PostgreSQL database {DATABASE} cut: its connections ended, new ones refused")
    elif command == "restore-postgres":
        psql("postgres", f"alter database {DATABASE} allow_connections true")
        say(f"PostgreSQL database {DATABASE} takes connections again")
    elif command in ("kill", "stop", "start", "restart") and len(sys.argv) == 3:
        fault(command, sys.argv[2])
    else:
        fail(f"unknown command `{' '.join(sys.argv[1:])}`: use up, ps, check, down, "
             "kill | stop | start | restart NAME (e.g. customer-1, kafka-0), stop-redis, start-redis, "
             "cut-postgres or restore-postgres")


if __name__ == "__main__":
    main()
