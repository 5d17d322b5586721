"""The admin listener of the real `strongroom dev` binary: /metrics parsed by
Prometheus' own text parser moves by exactly the traffic driven through
boto3 and never names a key, account, ARN or access key; /readyz follows a
real module process and a real PostgreSQL going down and coming back; the
JSON log carries one access event per request and nothing secret."""

import base64
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, DevServer
from module_fleet import ModuleFleet

# Past the admin listener's cache of store and module facts.
SCRAPE_CACHE_SECS = 5


def get(url: str):
    """(status, body) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(server) -> dict:
    """Every sample as {(name, sorted labels): value}."""
    status, text = get(server.admin + "/metrics")
    assert status == 200, text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def total(samples: dict, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


@pytest.fixture(scope="module")
def metrics_server():
    s = DevServer()
    yield s
    s.stop()


def test_counters_and_histograms_move_by_exactly_the_traffic_driven(metrics_server):
    kms = metrics_server.client()
    key_id = kms.create_key(Description="metrics")["KeyMetadata"]["KeyId"]
    before = scrape(metrics_server)
    blobs = [kms.encrypt(KeyId=key_id, Plaintext=b"x%d" % i)["CiphertextBlob"] for i in range(7)]
    assert len(blobs) == 7
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=b"\x01" + b"\x00" * 80)
        assert e.value.response["Error"]["Code"] == "InvalidCiphertextException"
    forged = boto3.client(
        "kms",
        endpoint_url=metrics_server.endpoint,
        region_name=metrics_server.env["AWS_REGION"],
        aws_access_key_id=metrics_server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key="wrong" + metrics_server.env["AWS_SECRET_ACCESS_KEY"][5:],
        config=Config(retries={"max_attempts": 1}),
    )
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            forged.encrypt(KeyId=key_id, Plaintext=b"nope")
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    time.sleep(SCRAPE_CACHE_SECS + 0.5)
    after = scrape(metrics_server)

    assert moved(before, after, "strongroom_requests_total", operation="Encrypt", error="none") == 7
    assert moved(before, after, "strongroom_request_duration_seconds_count", operation="Encrypt", error="none") == 7
    assert moved(before, after, "strongroom_request_duration_seconds_bucket",
                 operation="Encrypt", error="none", le="+Inf") == 7
    bad = dict(operation="Decrypt", error="InvalidCiphertextException")
    assert moved(before, after, "strongroom_requests_total", **bad) == 3
    assert moved(before, after, "strongroom_request_duration_seconds_count", **bad) == 3
    forged_labels = dict(operation="Encrypt", error="InvalidSignatureException")
    assert moved(before, after, "strongroom_requests_total", **forged_labels) == 2
    assert moved(before, after, "strongroom_sigv4_failures_total", reason="InvalidSignatureException") == 2
    # Nothing else was answered in between.
    assert total(after, "strongroom_requests_total") - total(before, "strongroom_requests_total") == 12
    assert value(after, "strongroom_requests_in_flight") == 0
    # 10 authenticated requests, one audit record each (the module-log
    # copier may add its own records).
    assert moved(before, after, "strongroom_audit_batch_records_sum") >= 10
    assert moved(before, after, "strongroom_audit_commit_duration_seconds_count") >= 1
    assert value(after, "strongroom_audit_writer_up") == 1
    assert moved(before, after, "strongroom_module_call_duration_seconds_count", module="in-process") >= 7
    assert value(after, "strongroom_module_up", module="in-process") == 1
    assert value(after, "strongroom_module_use_mode", module="in-process") == 1
    assert value(after, "strongroom_keys", state="Enabled", spec="SYMMETRIC_DEFAULT") >= 1
    assert moved(before, after, "strongroom_cache_lookups_total", cache="key_metadata", result="hit") >= 6
    assert value(after, "strongroom_store_up") == 1
    assert value(after, "process_resident_memory_bytes") > 0
    assert value(after, "process_start_time_seconds") > 1e9


def test_no_label_value_is_a_key_id_account_id_arn_or_access_key(metrics_server):
    kms = metrics_server.client()
    meta = kms.create_key(Description="labels")["KeyMetadata"]
    kms.create_alias(AliasName="alias/metrics-labels", TargetKeyId=meta["KeyId"])
    kms.encrypt(KeyId="alias/metrics-labels", Plaintext=b"p")
    # Hostile operation names and access key ids must not make series.
    for target in ["TrentService.Encrypt" + meta["KeyId"].replace("-", ""), "TrentService." + meta["AWSAccountId"]]:
        req = urllib.request.Request(metrics_server.endpoint, data=b"{}", method="POST",
                                     headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1",
                                              "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEHOSTILE0/x"})
        try:
            urllib.request.urlopen(req, timeout=30)
        except urllib.error.HTTPError:
            pass
    time.sleep(SCRAPE_CACHE_SECS + 0.5)
    samples = scrape(metrics_server)
    secrets = {meta["KeyId"], meta["AWSAccountId"], meta["Arn"], metrics_server.env["AWS_ACCESS_KEY_ID"],
               "AKIAEXAMPLEHOSTILE0"}
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")
    for (name, labels), _ in samples.items():
        for k, v in labels:
            assert v not in secrets, (name, k, v)
            assert not any(s in v for s in secrets), (name, k, v)
            assert not uuid.search(v), (name, k, v)
            assert not re.fullmatch(r"\d{12}", v), (name, k, v)
            assert not v.startswith("arn:"), (name, k, v)
            assert not re.fullmatch(r"AKIA[0-9A-Z]+", v), (name, k, v)
    others = sum(v for (n, labels), v in samples.items()
                 if n == "strongroom_requests_total" and ("operation", "other") in labels)
    assert others >= 2, "the hostile operation names are counted as other"


def test_healthz_is_alive_and_unknown_admin_paths_and_methods_are_refused(metrics_server):
    assert get(metrics_server.admin + "/healthz") == (200, '{"status":"alive"}')
    assert get(metrics_server.admin + "/no-such-page")[0] == 404
    # The web console is there, and its API wants a session (docs/console.md).
    assert get(metrics_server.admin + "/console/")[0] == 200
    status, body = get(metrics_server.admin + "/console/api/keys")
    assert (status, json.loads(body)["__type"]) == (400, "UnknownOperationException")
    assert get(metrics_server.admin + "/console/api/session")[0] == 403
    req = urllib.request.Request(metrics_server.admin + "/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 405


def ready(server):
    status, body = get(server.admin + "/readyz")
    return status, json.loads(body)


def wait_ready(server):
    deadline = time.monotonic() + 60
    while True:
        status, body = ready(server)
        if status == 200:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.5)


def test_readyz_follows_the_only_module_process_frozen_resumed_and_killed():
    """One real module process. Frozen (SIGSTOP), it cannot answer: not
    ready, naming it. Resumed (SIGCONT): ready again. Killed: not ready.
    (A killed module does not come back as itself: a restarted process is a
    new module that the operators join to the domain, docs/deploy.md.)"""
    front = tempfile.TemporaryDirectory(prefix="strongroom-compat-front-")
    fleet = ModuleFleet(1, Path(front.name))
    server = None
    try:
        server = DevServer(*fleet.frontend_args(), data_dir=front)
        status, body = ready(server)
        assert status == 200 and body["ready"], body
        assert body["checks"]["modules"]["serving"] == 1
        (m,) = fleet.modules

        def unready_naming_the_module():
            status, body = ready(server)
            assert status == 503, body
            assert body["ready"] is False
            modules = body["checks"]["modules"]
            assert modules["ok"] is False and modules["serving"] == 0, body
            assert modules["members"][0]["module"] == m.addr
            assert modules["members"][0]["problem"], body
            assert "no security module" in modules["problem"]
            assert body["checks"]["store"]["ok"] and body["checks"]["audit"]["ok"], body

        m.proc.send_signal(signal.SIGSTOP)
        try:
            unready_naming_the_module()
        finally:
            m.proc.send_signal(signal.SIGCONT)
        body = wait_ready(server)
        assert body["checks"]["modules"]["serving"] == 1
        m.kill()
        unready_naming_the_module()
    finally:
        if server is not None:
            server.stop()
        fleet.stop()
        front.cleanup()


def pg(*args: str):
    subprocess.run(["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", *args],
                   check=True, capture_output=True, timeout=60)


def test_readyz_names_the_store_when_postgresql_is_down_and_recovers_when_it_is_back():
    started = subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "start"], capture_output=True, text=True,
                             check=True, timeout=600).stdout
    env = dict(line[len("export "):].split("=", 1) for line in started.splitlines() if line.startswith("export "))
    pg_dir, url = env["STRONGROOM_PG_DIR"], env["STRONGROOM_TEST_POSTGRES_URL"]
    port = url.rsplit(":", 1)[1].split("/")[0]
    server = None
    try:
        server = DevServer("--store", url)
        status, body = ready(server)
        assert status == 200 and body["ready"], body
        pg("-D", f"{pg_dir}/data", "-m", "fast", "-w", "stop")
        status, body = ready(server)
        assert status == 503, body
        assert body["checks"]["store"]["ok"] is False
        assert "store" in body["checks"]["store"]["problem"]
        assert body["checks"]["modules"]["ok"], body
        pg("-D", f"{pg_dir}/data", "-l", f"{pg_dir}/log", "-w", "-o",
           f"-h 127.0.0.1 -p {port} -k {pg_dir} -c fsync=on -c max_connections=200", "start")
        body = wait_ready(server)
        assert body["checks"]["store"] == {"ok": True}
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", pg_dir], timeout=120)


def test_json_log_has_one_access_event_per_request_with_ids_and_nothing_secret():
    with tempfile.NamedTemporaryFile(prefix="strongroom-log-", suffix=".jsonl", delete=False) as log:
        log_path = log.name
    server = None
    try:
        with open(log_path, "w") as stderr:
            server = DevServer("--log-format", "json", stderr=stderr)
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
        plaintext = b"the-plaintext-never-logged"
        out = kms.encrypt(KeyId=key_id, Plaintext=plaintext)
        request_id = out["ResponseMetadata"]["RequestId"]
        blob = out["CiphertextBlob"]
        with pytest.raises(ClientError):
            kms.decrypt(CiphertextBlob=b"\x01" + b"\x00" * 80)
    finally:
        if server is not None:
            server.stop()
    text = Path(log_path).read_text()
    os.unlink(log_path)
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines, "no log lines"
    events = [e for e in lines if e.get("target") == "strongroom::request"]
    mine = [e for e in events if e["fields"].get("request_id") == request_id]
    assert len(mine) == 1, events
    f = mine[0]["fields"]
    assert f["operation"] == "Encrypt" and f["account"] == account and f["error"] == "none"
    assert isinstance(f["latency_us"], int)
    assert any(e["fields"]["operation"] == "Decrypt" and e["fields"]["error"] == "InvalidCiphertextException"
               for e in events)
    secret = server.env["AWS_SECRET_ACCESS_KEY"]
    for forbidden in [secret, plaintext.decode(), base64.b64encode(plaintext).decode(),
                      base64.b64encode(blob).decode(), "Signature=", "AWS4-HMAC-SHA256"]:
        assert forbidden not in text, forbidden


def exported_names(server) -> set:
    """Every sample name /metrics can export (families with their suffixes)."""
    status, text = get(server.admin + "/metrics")
    assert status == 200, text
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [])
        names.update(family.name + s for s in suffixes)
    return names


METRIC_NAME = re.compile(r"\b((?:strongroom|process)_[a-z0-9_]+)\b")


def test_alert_rules_parse_have_what_an_alert_needs_and_use_only_exported_metrics(metrics_server):
    import shutil

    import yaml

    path = ROOT / "deploy" / "prometheus-rules.yml"
    doc = yaml.safe_load(path.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules}
    for wanted in ["StrongroomModuleDown", "StrongroomAuditFsyncSlow", "StrongroomAuditQueueGrowing",
                   "StrongroomServerErrorRatio", "StrongroomNotReady"]:
        assert wanted in alerts
    exported = exported_names(metrics_server)
    for r in rules:
        assert set(r) >= {"alert", "expr", "labels", "annotations"}, r
        assert r["labels"]["severity"] in {"warning", "critical"}
        assert r["annotations"]["summary"]
        used = set(METRIC_NAME.findall(r["expr"]))
        assert used, r["expr"]
        assert used <= exported, (r["alert"], used - exported)
    if shutil.which("promtool"):
        out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_grafana_dashboard_is_json_whose_every_query_names_exported_metrics(metrics_server):
    dash = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exported = exported_names(metrics_server)
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        used = set(METRIC_NAME.findall(expr))
        assert used, expr
        assert used <= exported, (expr, used - exported)
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
