"""Bad input, everywhere: malformed JSON, wrong types, unknown and missing
fields, oversized bodies and uploads, wrong content types, hostile names in
bodies and paths, bad query parameters. Each gets a 4xx whose message names
what is wrong, and changes nothing: after every bad request the whole state
the API shows (and the artifact files on disk) is compared with a snapshot.
The server survives it all and stops cleanly (no sanitizer report).

The endpoints come from the route tables (src/http/routes_*.c), so a new
JSON endpoint or route that this file does not know about fails it."""
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.parse

import mopstest
import runtime_common

q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
M = "/api/v1/models/fraud/churn"
MODEL_PATH = "/api/v1/models/:team/:model"
VP = MODEL_PATH + "/versions/:version"
CARD_FIELDS = ["intended_use", "out_of_scope_uses", "training_data", "evaluation",
               "limitations", "ethical_considerations", "owner", "business_kpi"]
POLICY = "name: %s\nteam: %s\nrules:\n  - rule: freshness\n    max_age_days: 30\n"
XGB_MODEL = mopstest.read(os.path.join(mopstest.SRC, "..", "tests", "fuzz", "corpus", "xgboost",
                                       "binary_logistic.json"))
HOLDOUT = b"a,b,c,d,y\n1,2,3,4,1\n0,0,0,0,0\n"

# Every JSON-body endpoint: where to send it, a body it accepts, the type of
# each field it knows and which are required. Each bad body below differs
# from the valid one in one way only, and the valid ones are sent last to
# prove they are.
STR, INT, BOOL, OBJ, STRS, ARR = "string", "integer", "boolean", "object", "strings", "array"
NUM = "number"
DSET = "/api/v1/datasets/fraud/d"
DS_PATH = "/api/v1/datasets/:team/:dataset"
DV_PATH = DS_PATH + "/versions/:version"
D = "/api/v1/deployments/dep"
OIP = {"id": "r-1", "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64",
                                "data": [0.5, -1.0, 2.0, 0.25]}],
       "outputs": [{"name": "predict"}], "parameters": {"k": "v"}}
OIP_FIELDS = {"id": STR, "parameters": OBJ, "inputs": ARR, "outputs": ARR}
JSON_ROUTES = {
    ("POST", "/api/v1/teams"): ("/api/v1/teams", {"name": "t-new", "description": "d"},
                                {"name": STR, "description": STR}, ["name"]),
    ("PUT", "/api/v1/teams/:team/members/:user"): (
        "/api/v1/teams/fraud/members/bob", {"roles": ["viewer"]}, {"roles": STRS}, ["roles"]),
    ("POST", "/api/v1/users"): (
        "/api/v1/users", {"name": "carol", "display_name": "C", "email": "c@example.com",
                          "admin": False},
        {"name": STR, "display_name": STR, "email": STR, "admin": BOOL}, ["name"]),
    ("PATCH", "/api/v1/users/:user"): (
        "/api/v1/users/bob", {"display_name": "B", "email": "b@example.com", "admin": False,
                              "disabled": False},
        {"display_name": STR, "email": STR, "admin": BOOL, "disabled": BOOL}, []),
    ("POST", "/api/v1/tokens"): (
        "/api/v1/tokens", {"name": "ci", "user": "bob", "expires_in_days": 30},
        {"name": STR, "user": STR, "expires_in_days": INT, "expires_at": STR}, ["name"]),
    ("POST", "/api/v1/models"): (
        "/api/v1/models", {"team": "fraud", "name": "fresh", "risk_tier": "low",
                           "description": "d", "owner": "admin", "purpose": "p", "tags": ["x"]},
        {"team": STR, "name": STR, "risk_tier": STR, "description": STR, "owner": STR,
         "purpose": STR, "tags": STRS}, ["team", "name", "risk_tier"]),
    ("PATCH", MODEL_PATH): (
        M, {"description": "d2", "owner": "admin", "purpose": "p2", "risk_tier": "high",
            "tags": ["y"]},
        {"description": STR, "owner": STR, "purpose": STR, "risk_tier": STR, "tags": STRS}, []),
    ("POST", MODEL_PATH + "/versions"): (
        M + "/versions", {"artifact_sha256": None, "format": "custom",
                          "framework": "xgboost", "framework_version": "1.7.4",
                          "description": "d", "source": {"uri": "git@x:y.git", "commit": "abc"},
                          "params": {"depth": 6}, "metrics": {"auc": 0.9}, "dataset": "ds@1",
                          "environment": {"python": "3.11"}, "tags": ["t"]},
        {"artifact_sha256": STR, "format": STR, "framework": STR, "framework_version": STR,
         "description": STR, "source": OBJ, "params": OBJ, "metrics": OBJ, "dataset": STR,
         "environment": OBJ, "tags": STRS}, ["artifact_sha256", "format"]),
    ("PATCH", MODEL_PATH + "/versions/:version"): (
        M + "/versions/1", {"description": "d", "tags": ["t"]},
        {"description": STR, "tags": STRS}, []),
    ("PUT", MODEL_PATH + "/aliases/:alias"): (
        M + "/aliases/challenger", {"version": 1}, {"version": INT}, ["version"]),
    ("POST", "/api/v1/datasets"): (
        "/api/v1/datasets", {"team": "fraud", "name": "d-new", "description": "d", "tags": ["x"]},
        {"team": STR, "name": STR, "description": STR, "tags": STRS}, ["team", "name"]),
    ("PATCH", DS_PATH): (DSET, {"description": "d2", "tags": ["y"]},
                         {"description": STR, "tags": STRS}, []),
    ("POST", DS_PATH + "/versions"): (
        DSET + "/versions", {"sha256": None, "description": "d", "source_uri": "s3://b/k.csv",
                          "tags": ["t"], "schema": {"columns": [
                              {"name": "a", "type": "integer", "nullable": False},
                              {"name": "b", "type": "string"}]},
                          "column_tags": {"b": ["pii:email"]}},
        {"sha256": STR, "description": STR, "source_uri": STR, "tags": STRS, "schema": OBJ,
         "column_tags": OBJ}, ["sha256"]),
    ("PATCH", DV_PATH): (DSET + "/versions/1", {"description": "d", "tags": ["t"]},
                         {"description": STR, "tags": STRS}, []),
    ("PUT", DV_PATH + "/column-tags"): (DSET + "/versions/1/column-tags",
                                        {"columns": {"b": ["pii:email"]}, "approve": True},
                                        {"columns": OBJ, "approve": BOOL}, ["columns"]),
    ("PUT", DS_PATH + "/suite"): (
        DSET + "/suite", {"expectations": [{"expectation_type": "expect_column_to_exist",
                                         "kwargs": {"column": "a"}}],
                       "name": "s", "expectation_suite_name": "s", "meta": {}},
        {"expectations": ARR, "name": STR, "expectation_suite_name": STR, "meta": OBJ},
        ["expectations"]),
    ("POST", "/api/v1/lineage/links"): (
        "/api/v1/lineage/links", {"model": "fraud/churn@1", "dataset": "dataset:fraud/d@1",
                                  "relation": "validated-on", "detail": {"by": "test"}},
        {"model": STR, "dataset": STR, "relation": STR, "detail": OBJ},
        ["model", "dataset", "relation"]),
    ("POST", "/api/v1/deployments"): (
        "/api/v1/deployments", {"name": "d-new", "team": "fraud", "description": "d",
                                "primary": {"model": "sm", "version": 1}, "canaries": [],
                                "shadows": []},
        {"name": STR, "team": STR, "description": STR, "primary": OBJ, "canaries": ARR,
         "shadows": ARR}, ["name", "team", "primary"]),
    ("PATCH", "/api/v1/deployments/:name"): (
        D, {"description": "d2"}, {"description": STR, "primary": OBJ, "canaries": ARR,
                                   "shadows": ARR, "promote": OBJ, "if_revision": INT}, []),
    ("POST", "/api/v1/deployments/:name/rollback"): (
        D + "/rollback", {"revision": 1}, {"revision": INT, "if_revision": INT}, []),
    ("POST", "/api/v1/deployments/:name/predict"): (
        D + "/predict", {"instances": [{"a": 1.5}], "parameters": {"k": 1}},
        {"instances": ARR, "parameters": OBJ}, ["instances"]),
    ("POST", "/v2/models/:name/infer"): ("/v2/models/dep/infer", OIP, OIP_FIELDS, ["inputs"]),
    ("POST", "/v2/models/:name/versions/:version/infer"): (
        "/v2/models/sm/versions/1/infer", OIP, OIP_FIELDS, ["inputs"]),
    ("POST", "/api/v1/jobs"): (
        "/api/v1/jobs", {"team": "fraud", "model": "sm", "version": 1, "input": None,
                         "outputs": ["value"], "keep": ["a"]},
        {"team": STR, "model": STR, "deployment": STR, "input": OBJ, "outputs": STRS,
         "keep": STRS}, ["input"]),
    # Governance: each move has a version of its own (see World).
    ("POST", VP + "/transitions"): (
        M + "/versions/6/transitions", {"to": "in_review", "reason": "look"},
        {"to": STR, "reason": STR, "replacement": INT, "deprecate_others": BOOL},
        ["to", "reason"]),
    ("POST", VP + "/reviews"): (M + "/versions/3/reviews", {"comment": "please"},
                                {"comment": STR}, []),
    ("POST", VP + "/approvals"): (M + "/versions/4/approvals", {"comment": "fine"},
                                  {"comment": STR}, []),
    ("POST", VP + "/rejections"): (M + "/versions/5/rejections", {"comment": "no"},
                                   {"comment": STR}, ["comment"]),
    ("PUT", VP + "/card"): (
        M + "/versions/1/card", {k: "text" for k in CARD_FIELDS}, {k: STR for k in CARD_FIELDS},
        []),
    ("POST", "/api/v1/policies"): (
        "/api/v1/policies", {"source": POLICY % ("fresh", "fraud"), "format": "yaml"},
        {"source": STR, "format": STR}, ["source"]),
    ("PUT", "/api/v1/policies/:scope/:name"): (
        "/api/v1/policies/fraud/base", {"source": POLICY % ("base", "fraud"), "format": "yaml"},
        {"source": STR, "format": STR}, ["source"]),
    ("POST", "/api/v1/teams/:team/webhooks"): (
        "/api/v1/teams/fraud/webhooks",
        {"name": "h-new", "url": "http://127.0.0.1:9/x", "events": ["ping"], "secret": "s",
         "max_attempts": 1, "backoff_ms": 100, "enabled": False},
        {"name": STR, "url": STR, "events": STRS, "secret": STR, "max_attempts": INT,
         "backoff_ms": INT, "enabled": BOOL}, ["name", "url"]),
    ("PATCH", "/api/v1/teams/:team/webhooks/:name"): (
        "/api/v1/teams/fraud/webhooks/h0",
        {"url": "http://127.0.0.1:9/y", "events": ["review."], "secret": "t", "max_attempts": 2,
         "backoff_ms": 200, "enabled": False},
        {"url": STR, "events": STRS, "secret": STR, "max_attempts": INT, "backoff_ms": INT,
         "enabled": BOOL}, []),
    # FinOps
    ("PUT", "/api/v1/prices"): (
        "/api/v1/prices", {"prices": {"cpu_core_hour": 0.05}, "currency": "USD", "note": "n",
                           "effective_from": "2026-01-01T00:00:00Z"},
        {"prices": OBJ, "currency": STR, "note": STR, "effective_from": STR}, ["prices"]),
    ("PUT", "/api/v1/budgets/:team"): ("/api/v1/budgets/fraud", {"amount": 100},
                                       {"amount": NUM}, ["amount"]),
    ("PUT", "/api/v1/budgets/:team/:model"): ("/api/v1/budgets/fraud/churn", {"amount": 10.5},
                                              {"amount": NUM}, ["amount"]),
    ("PUT", MODEL_PATH + "/value"): (M + "/value", {"per_prediction": 0.1, "per_positive": 2},
                                     {"per_prediction": NUM, "per_positive": NUM}, []),
    ("POST", "/api/v1/value-events"): (
        "/api/v1/value-events", {"team": "fraud", "model": "churn", "amount": 5, "version": 1,
                                 "at": "2026-01-01T00:00:00Z", "note": "n"},
        {"team": STR, "model": STR, "amount": NUM, "version": INT, "at": STR, "note": STR},
        ["team", "model", "amount"]),
}

# Streamed bodies and the content type each takes.
STREAM_TYPES = {("POST", VP + "/validations"): "text/csv"}

# Values of the wrong type for each expected type.
WRONG = {STR: [42, None, ["x"]], INT: ["5", 1.5, None, True], BOOL: ["true", 1, None],
         OBJ: ["x", [], None], STRS: ["x", [1], None, {}], ARR: ["x", {}, None, 1],
         NUM: ["5", None, True, [1]]}

# Names no team, user, model or alias may have.
BAD_NAMES = ["../etc", "..", ".", "a/b", "a\\b", "a\nb", "a\rb", "a\tb", "a\x01b", "a\x7fb",
             "x" * 65, "", " ", "a b", "-a", "_a", "a..b", "ünï", "日本", "a\u200bb",
             "x'; DROP TABLE models;--", "a%00b", "a\x00b", "%2e%2e", "a;b", "a?b", "a#b"]


class World:
    """A team with a model (two versions, one aliased), a second team, a
    member with a token, a user in no team."""

    def __init__(self, srv):
        self.srv = srv
        srv.team("fraud")
        srv.team("beta")
        self.alice = srv.user("alice", "fraud", ["data-scientist"])
        srv.user("bob")
        self.alice_token_id = srv.ok("GET", "/api/v1/tokens?user=alice")["items"][0]["id"]
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        srv.ok("POST", "/api/v1/models", {"team": "beta", "name": "bm", "risk_tier": "low"})
        self.sha = srv.version("fraud", "churn", data=b"v1 bytes")["artifact"]["sha256"]
        srv.version("fraud", "churn", data=b"v2 bytes")
        self.beta_sha = srv.upload("beta", "bm", b"beta-only bytes")
        srv.ok("PUT", M + "/aliases/champion", {"version": 1})
        # a dataset with a version (a, b), a suite and a validation; a file
        # uploaded for the next version
        srv.ok("POST", "/api/v1/datasets", {"team": "fraud", "name": "d"})
        for data in (b"a,b\n1,x\n", b"a,b\n2,y\n"):
            sha = srv.ok("POST", DSET + "/uploads", raw=data,
                         content_type="application/octet-stream")["sha256"]
            srv.ok("POST", DSET + "/versions", {"sha256": sha})
        self.dsha = srv.ok("POST", DSET + "/uploads", raw=b"a,b\n3,z\n",
                           content_type="application/octet-stream")["sha256"]
        srv.ok("PUT", DSET + "/suite", {"expectations": []})
        self.vid = srv.ok("POST", DSET + "/versions/1/validations")["id"]
        # serving: a model that runs, a deployment with two revisions, a job
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "sm", "risk_tier": "low"})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sm.json")
            runtime_common.small_xgboost(path)
            srv.version("fraud", "sm", data=mopstest.read(path), format="xgboost-json", stage="production")
        srv.ok("POST", "/api/v1/deployments", {"name": "dep", "team": "fraud",
                                               "primary": {"model": "sm", "version": 1}})
        srv.ok("PATCH", D, {"description": "second revision"})
        self.csv_sha = srv.ok("POST", "/api/v1/jobs/inputs/fraud", raw=b"a,b,c,d\n1,2,3,4\n",
                              content_type="application/octet-stream")["sha256"]
        self.job = srv.ok("POST", "/api/v1/jobs", {"team": "fraud", "model": "sm",
                                                   "input": {"upload": self.csv_sha}})["id"]
        deadline = time.time() + 30 * mopstest.SLOW
        while srv.ok("GET", "/api/v1/jobs/%d" % self.job)["status"] != "succeeded":
            assert time.time() < deadline, "the job did not finish"
            time.sleep(0.05)
        # Governance. Versions 3-6 by alice: 3 and 6 drafts, 4 and 5 in
        # review; 7 one the runtime executes, validated once; 8 retired. A
        # policy, a webhook taking pings only.
        for _ in range(4):
            srv.version("fraud", "churn", data=os.urandom(16), token=self.alice)
        for v in (4, 5):
            srv.ok("POST", M + "/versions/%d/reviews" % v, {}, token=self.alice)
        exe = srv.ok("POST", M + "/versions", {"artifact_sha256": srv.upload("fraud", "churn",
                                                                             XGB_MODEL),
                                               "format": "xgboost-json"})
        self.validation = srv.ok("POST", M + "/versions/%d/validations?label=y" % exe["version"],
                                 raw=HOLDOUT, content_type="text/csv")["id"]
        srv.version("fraud", "churn", data=b"to retire", token=self.alice)
        srv.ok("POST", M + "/versions/8/reviews", {}, token=self.alice)
        srv.ok("POST", M + "/versions/8/approvals", {})
        for to in ("staging", "production", "deprecated", "retired"):
            srv.ok("POST", M + "/versions/8/transitions", {"to": to, "reason": "setup"})
        srv.ok("POST", "/api/v1/policies", {"source": POLICY % ("base", "fraud")})
        srv.ok("POST", "/api/v1/teams/fraud/webhooks", {"name": "h0", "url": "http://127.0.0.1:9/h",
                                                        "events": ["ping"], "max_attempts": 1})
        # FinOps: budgets to delete
        srv.ok("PUT", "/api/v1/budgets/fraud", {"amount": 100})
        srv.ok("PUT", "/api/v1/budgets/fraud/churn", {"amount": 10})

    def targets(self):
        """A request for every route that succeeds as it stands (and, for
        writes, changes something): (path, body, content type)."""
        t = {
            ("GET", "/healthz"): ("/healthz", None, None),
            ("GET", "/api/v1/whoami"): ("/api/v1/whoami", None, None),
            ("GET", "/api/v1/teams"): ("/api/v1/teams", None, None),
            ("GET", "/api/v1/teams/:team"): ("/api/v1/teams/fraud", None, None),
            ("DELETE", "/api/v1/teams/:team/members/:user"): (
                "/api/v1/teams/fraud/members/alice", None, None),
            ("GET", "/api/v1/users"): ("/api/v1/users", None, None),
            ("GET", "/api/v1/users/:user"): ("/api/v1/users/alice", None, None),
            ("GET", "/api/v1/tokens"): ("/api/v1/tokens", None, None),
            ("DELETE", "/api/v1/tokens/:id"): ("/api/v1/tokens/%d" % self.alice_token_id,
                                               None, None),
            ("GET", "/api/v1/models"): ("/api/v1/models", None, None),
            ("GET", MODEL_PATH): (M, None, None),
            ("POST", MODEL_PATH + "/archive"): (M + "/archive", None, None),
            ("POST", MODEL_PATH + "/artifacts"): (M + "/artifacts", b"new bytes",
                                                  "application/octet-stream"),
            ("GET", MODEL_PATH + "/versions"): (M + "/versions", None, None),
            ("GET", MODEL_PATH + "/versions/:version"): (M + "/versions/1", None, None),
            ("POST", MODEL_PATH + "/versions/:version/archive"): (M + "/versions/2/archive",
                                                                  None, None),
            ("GET", MODEL_PATH + "/versions/:version/artifact"): (M + "/versions/1/artifact",
                                                                  None, None),
            ("DELETE", MODEL_PATH + "/aliases/:alias"): (M + "/aliases/champion", None, None),
            ("GET", "/api/v1/audit"): ("/api/v1/audit", None, None),
            ("GET", "/api/v1/audit/verify"): ("/api/v1/audit/verify", None, None),
            ("GET", "/api/v1/datasets"): ("/api/v1/datasets", None, None),
            ("GET", DS_PATH): (DSET, None, None),
            ("POST", DS_PATH + "/archive"): (DSET + "/archive", None, None),
            ("POST", DS_PATH + "/uploads"): (DSET + "/uploads", b"a,b\n4,w\n",
                                             "application/octet-stream"),
            ("GET", DS_PATH + "/versions"): (DSET + "/versions", None, None),
            ("GET", DV_PATH): (DSET + "/versions/1", None, None),
            ("POST", DV_PATH + "/archive"): (DSET + "/versions/2/archive", None, None),
            ("GET", DV_PATH + "/data"): (DSET + "/versions/1/data", None, None),
            ("GET", DV_PATH + "/sample"): (DSET + "/versions/1/sample", None, None),
            ("GET", DV_PATH + "/profile"): (DSET + "/versions/1/profile", None, None),
            ("GET", DV_PATH + "/diff"): (DSET + "/versions/2/diff", None, None),
            ("GET", DS_PATH + "/suite"): (DSET + "/suite", None, None),
            ("POST", DV_PATH + "/validations"): (DSET + "/versions/1/validations", None, None),
            ("GET", DV_PATH + "/validations"): (DSET + "/versions/1/validations", None, None),
            ("GET", DV_PATH + "/validations/:id"): (DSET + "/versions/1/validations/%d" % self.vid,
                                                    None, None),
            ("GET", "/api/v1/lineage/datasets/:team/:dataset/versions/:version"): (
                "/api/v1/lineage/datasets/fraud/d/versions/1", None, None),
            ("GET", "/api/v1/lineage/models/:team/:model/versions/:version"): (
                "/api/v1/lineage/models/fraud/churn/versions/1", None, None),
            ("GET", "/api/v1/deployments"): ("/api/v1/deployments", None, None),
            ("GET", "/api/v1/deployments/:name"): (D, None, None),
            ("DELETE", "/api/v1/deployments/:name"): (D, None, None),
            ("GET", "/api/v1/deployments/:name/history"): (D + "/history", None, None),
            ("GET", "/api/v1/deployments/:name/stats"): (D + "/stats", None, None),
            ("GET", "/v2/health/live"): ("/v2/health/live", None, None),
            ("GET", "/v2/health/ready"): ("/v2/health/ready", None, None),
            ("GET", "/v2"): ("/v2", None, None),
            ("GET", "/v2/models/:name"): ("/v2/models/dep", None, None),
            ("GET", "/v2/models/:name/versions/:version"): ("/v2/models/dep/versions/1", None,
                                                            None),
            ("GET", "/v2/models/:name/ready"): ("/v2/models/dep/ready", None, None),
            ("GET", "/v2/models/:name/versions/:version/ready"): (
                "/v2/models/sm/versions/1/ready", None, None),
            ("POST", "/api/v1/jobs/inputs/:team"): ("/api/v1/jobs/inputs/fraud", b"a,b\n1,2\n",
                                                    "application/octet-stream"),
            ("GET", "/api/v1/jobs"): ("/api/v1/jobs", None, None),
            ("GET", "/api/v1/jobs/:id"): ("/api/v1/jobs/%d" % self.job, None, None),
            ("POST", "/api/v1/jobs/:id/cancel"): ("/api/v1/jobs/%d/cancel" % self.job, None,
                                                  None),
            ("GET", "/api/v1/jobs/:id/result"): ("/api/v1/jobs/%d/result" % self.job, None,
                                                 None),
            ("GET", "/api/v1/governance/lifecycle"): ("/api/v1/governance/lifecycle", None, None),
            ("GET", "/api/v1/governance/reviews-due"): ("/api/v1/governance/reviews-due", None,
                                                        None),
            ("GET", VP + "/transitions"): (M + "/versions/8/transitions", None, None),
            ("GET", VP + "/reviews"): (M + "/versions/4/reviews", None, None),
            ("GET", VP + "/policy-check"): (M + "/versions/1/policy-check", None, None),
            ("POST", VP + "/validations"): (M + "/versions/7/validations?label=y", HOLDOUT,
                                            "text/csv"),
            ("GET", VP + "/validations"): (M + "/versions/7/validations", None, None),
            ("GET", VP + "/validations/:id"): (M + "/versions/7/validations/%d" % self.validation,
                                               None, None),
            ("GET", VP + "/card"): (M + "/versions/1/card", None, None),
            ("GET", VP + "/retirement"): (M + "/versions/8/retirement", None, None),
            ("GET", MODEL_PATH + "/report"): (M + "/report", None, None),
            ("GET", "/api/v1/reports/inventory"): ("/api/v1/reports/inventory", None, None),
            ("GET", "/api/v1/policies"): ("/api/v1/policies", None, None),
            ("GET", "/api/v1/policies/:scope/:name"): ("/api/v1/policies/fraud/base", None, None),
            ("POST", "/api/v1/policies/:scope/:name/archive"): (
                "/api/v1/policies/fraud/base/archive", None, None),
            ("GET", "/api/v1/teams/:team/webhooks"): ("/api/v1/teams/fraud/webhooks", None, None),
            ("GET", "/api/v1/teams/:team/webhooks/:name"): ("/api/v1/teams/fraud/webhooks/h0",
                                                            None, None),
            ("DELETE", "/api/v1/teams/:team/webhooks/:name"): (
                "/api/v1/teams/fraud/webhooks/h0", None, None),
            ("POST", "/api/v1/teams/:team/webhooks/:name/ping"): (
                "/api/v1/teams/fraud/webhooks/h0/ping", None, None),
            ("GET", "/api/v1/teams/:team/deliveries"): ("/api/v1/teams/fraud/deliveries", None,
                                                        None),
            ("GET", "/api/v1/costs"): ("/api/v1/costs?group_by=model", None, None),
            ("GET", "/api/v1/costs/export"): ("/api/v1/costs/export?format=focus", None, None),
            ("GET", "/api/v1/prices"): ("/api/v1/prices", None, None),
            ("GET", "/api/v1/budgets"): ("/api/v1/budgets", None, None),
            ("DELETE", "/api/v1/budgets/:team"): ("/api/v1/budgets/fraud", None, None),
            ("DELETE", "/api/v1/budgets/:team/:model"): ("/api/v1/budgets/fraud/churn", None,
                                                         None),
            ("GET", MODEL_PATH + "/value"): (M + "/value", None, None),
            ("GET", "/api/v1/kpis"): ("/api/v1/kpis", None, None),
        }
        for key, (path, body, _, _) in JSON_ROUTES.items():
            t[key] = (path, self.valid(key), "application/json")
        return t

    def valid(self, key):
        body = dict(JSON_ROUTES[key][1])
        if "artifact_sha256" in body:
            body["artifact_sha256"] = self.sha
        if "sha256" in body:
            body["sha256"] = self.dsha
        if "input" in body:
            body["input"] = {"upload": self.csv_sha}
        return body


class BadInput(mopstest.TestCase):
    def start(self, args=()):
        self.srv = self.server(args)
        self.w = World(self.srv)
        self.base = self.srv.state()
        return self.srv

    def refused(self, got, status, *says, code=None):
        """got is a 4xx of status whose message holds each of says, and the
        state is as it was."""
        st, body, _ = got
        self.assertLess(st, 500, body)
        msg = self.assertError(got, status, code)
        for s in says:
            self.assertIn(s, msg)
        self.assertEqual(self.srv.state(), self.base, msg)
        return msg

    def send(self, method, path, body=None, content_type=None, token=True, **kw):
        if isinstance(body, (dict, list)):
            body, content_type = json.dumps(body).encode(), content_type or "application/json"
        elif isinstance(body, str):
            body, content_type = body.encode(), content_type or "application/json"
        return self.srv.request(method, path, body=body, content_type=content_type,
                                token=self.srv.admin if token else None, **kw)

    # ------------------------------------------------------------- bodies

    def test_json_bodies(self):
        srv = self.start()
        declared = {(r["method"], r["pattern"]) for r in mopstest.routes() if r["body"] == "JSON"}
        self.assertEqual(sorted(declared ^ set(JSON_ROUTES)), [],
                         "JSON endpoints and JSON_ROUTES differ")
        for key, (path, _, fields, required) in sorted(JSON_ROUTES.items()):
            method = key[0]
            valid = self.w.valid(key)
            text = json.dumps(valid)
            first = next(iter(valid))
            # syntax
            for bad in (text[:-1], text[:len(text) // 2], "{", "{'name': 1}", "{,}",
                        text + "x", '{"a": 1,}', "\x00", text.replace(":", "=", 1)):
                self.refused(self.send(method, path, bad), 400, "malformed JSON")
            for bad in ("[]", json.dumps([valid])):
                self.refused(self.send(method, path, bad), 400, "must be a JSON object")
            for bad in ('"x"', "1", "null", "true"):  # jansson takes no bare scalars
                self.refused(self.send(method, path, bad), 400, "malformed JSON", "'{' expected")
            dup = '{"%s": %s, %s' % (first, json.dumps(valid[first]), text[1:])
            self.refused(self.send(method, path, dup), 400, "duplicate", first)
            self.refused(self.send(method, path, text.encode().replace(b'"', b'"\xff', 1),
                                   "application/json"), 400, "malformed JSON")
            self.refused(self.send(method, path, '{"x": %s1%s}' % ("[" * 3000, "]" * 3000)),
                         400, "malformed JSON")
            # fields
            self.refused(self.send(method, path, dict(valid, bogus=1)), 400,
                         'unknown field "bogus"', first)
            for name in required:
                body = {k: v for k, v in valid.items() if k != name}
                self.refused(self.send(method, path, body), 400, '"%s"' % name, "required")
            if required:
                self.refused(self.send(method, path, b"", "application/json"), 400,
                             '"%s"' % required[0], "required")
            for name, kind in fields.items():
                for wrong in WRONG[kind]:
                    self.refused(self.send(method, path, dict(valid, **{name: wrong})), 400,
                                 '"%s"' % name)
                if kind == STR:  # NUL cannot hide in a string
                    body = json.dumps(dict(valid, **{name: "@"})).replace('"@"', '"a\\u0000b"')
                    self.refused(self.send(method, path, body), 400, "\\u0000")
        # nested objects are checked as strictly
        versions = JSON_ROUTES[("POST", MODEL_PATH + "/versions")][0]
        valid = self.w.valid(("POST", MODEL_PATH + "/versions"))
        for change, says in (({"source": {"uri": 1}}, '"uri"'),
                             ({"source": {"branch": "x"}}, '"branch"'),
                             ({"metrics": {"auc": "high"}}, '"auc"'),
                             ({"metrics": {"auc": None}}, '"auc"'),
                             ({"environment": {"python": 3.11}}, '"python"'),
                             ({"tags": ["a", "a"]}, '"a"'),
                             ({"tags": ["t%d" % i for i in range(33)]}, "tags"),
                             ({"description": "x" * 4097}, "description"),
                             ({"format": "XGBoost JSON"}, "format"),
                             ({"dataset": "a\x01b"}, "dataset")):
            self.refused(self.send("POST", versions, dict(valid, **change)), 400, says)
        alias = JSON_ROUTES[("PUT", MODEL_PATH + "/aliases/:alias")][0]
        for text, status, says in (('{"version": 0}', 400, "version"),
                                   ('{"version": -1}', 400, "version"),
                                   ('{"version": 99}', 404, 'no version "99"'),
                                   ('{"version": 9223372036854775808}', 400, "malformed JSON"),
                                   ('{"version": 1e999}', 400, "malformed JSON")):
            self.refused(self.send("PUT", alias, text), status, says)
        # values of the right type that are still wrong
        models, members = ("POST", "/api/v1/models"), ("PUT", "/api/v1/teams/:team/members/:user")
        users, tokens = ("POST", "/api/v1/users"), ("POST", "/api/v1/tokens")
        for key, change, says in ((models, {"risk_tier": "extreme"}, "risk_tier"),
                                  (models, {"owner": "nobody"}, "owner"),
                                  (models, {"owner": "bob"}, "not a member"),
                                  (users, {"email": "x"}, "email"),
                                  (users, {"email": "a@b@c"}, "email"),
                                  (users, {"display_name": "x" * 201}, "display_name"),
                                  (members, {"roles": []}, "roles"),
                                  (members, {"roles": ["root"]}, 'unknown role "root"'),
                                  (tokens, {"expires_in_days": 0}, "expires_in_days"),
                                  (tokens, {"expires_in_days": 10 ** 6}, "expires_in_days"),
                                  (tokens, {"expires_at": "2030-01-01T00:00:00Z"}, "not both"),
                                  (tokens, {"name": ""}, "token name"),
                                  (tokens, {"name": "x" * 101}, "token name")):
            self.refused(self.send(key[0], JSON_ROUTES[key][0],
                                   dict(self.w.valid(key), **change)), 400, says)
        for when in ("tomorrow", "2001-01-01T00:00:00Z", "2030-13-01T00:00:00Z",
                     "2030-01-01T00:00:00"):
            self.refused(self.send("POST", "/api/v1/tokens", {"name": "x", "expires_at": when}),
                         400, "expires_at")
        # every valid body is accepted as it is, also with a charset
        for key, (path, _, _, _) in sorted(JSON_ROUTES.items()):
            got = self.send(key[0], path, self.w.valid(key),
                            content_type="application/json; charset=utf-8")
            self.assertIn(got[0], (200, 201), (key, got[1]))
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)

    def test_content_types_and_bodies_where_none_belong(self):
        srv = self.start()
        targets = self.w.targets()
        declared = {(r["method"], r["pattern"]): r for r in mopstest.routes()}
        self.assertEqual(sorted(set(declared) ^ set(targets)), [], "targets() misses routes")
        for key, r in sorted(declared.items()):
            path, body, ctype = targets[key]
            if r["body"] == "JSON":
                for ct in (None, "text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonp",
                           "application/json-patch+json"):
                    for chunked in (False, True):
                        got = srv.request(key[0], path, body=json.dumps(body).encode(),
                                          content_type=ct, chunked=chunked, token=srv.admin)
                        self.refused(got, 415, "application/json", code="unsupported_media_type")
            elif r["body"] == "STREAM":
                want = STREAM_TYPES.get(key, "application/octet-stream")
                for ct in (None, "application/json", "text/plain", "multipart/form-data",
                           "text/csv" if want != "text/csv" else "application/octet-stream"):
                    self.refused(srv.request(key[0], path, body=body, content_type=ct,
                                             token=srv.admin), 415, want)
            else:
                # a body where none belongs is refused, not ignored: the
                # request would otherwise have acted
                for chunked in (False, True):
                    got = srv.request(key[0], path, body=b"{}", content_type="application/json",
                                      chunked=chunked, token=None if r["public"] else srv.admin)
                    self.refused(got, 400, "takes no request body")
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)

    def over_limit(self, limit):
        """Every JSON endpoint refuses a body one byte over limit, with a
        length (before reading it) and in chunks."""
        for key, (path, _, _, _) in sorted(JSON_ROUTES.items()):
            text = json.dumps(self.w.valid(key)).encode()
            body = text + b" " * (limit + 1 - len(text))
            for chunked in (False, True):
                got = self.srv.request(key[0], path, body=body, chunked=chunked,
                                       content_type="application/json", token=self.srv.admin)
                self.refused(got, 413, "limit of %d bytes" % limit, code="too_large")

    def test_body_size_limits(self):
        # the default limit: 1 MiB
        srv = self.start()
        limit = 1 << 20
        self.over_limit(limit)
        pad = lambda n: ('{"name": "big", "description": "%s"}' % ("x" * n)).encode()  # noqa
        # at the limit the body is read and judged on its merits
        at = pad(limit - len(pad(0)))
        got = srv.request("POST", "/api/v1/teams", body=at, content_type="application/json",
                          token=srv.admin)
        self.refused(got, 400, "description")
        # a little over, in chunks: read to its end and refused
        got = srv.request("POST", "/api/v1/teams", body=iter([b" " * 65536] * 17),
                          content_type="application/json", token=srv.admin)
        self.refused(got, 413, "limit of %d bytes" % limit)
        # far over, in chunks: the server hangs up rather than read on
        with self.assertRaises(mopstest.ServerClosed):
            srv.request("POST", "/api/v1/teams", body=iter([b" " * 65536] * 64),
                        content_type="application/json", token=srv.admin)
        self.assertEqual(srv.state(), self.base)

        # the limit is configurable
        small = self.start(["--max-body", "4KiB"])
        self.over_limit(4096)
        body = ('{"name": "fits", "description": "%s"}' % ("x" * 3000)).encode()
        body += b" " * (4096 - len(body))
        got = small.request("POST", "/api/v1/teams", body=body, content_type="application/json",
                            token=small.admin)
        self.assertEqual(got[0], 201, got[1])
        # and bad limits are refused at start-up, naming the setting
        for flag, value in (("--max-body", "abc"), ("--max-body", "12"),
                            ("--max-upload", "0"), ("--max-upload", "-5"),
                            ("--max-upload", "1ZB")):
            p = subprocess.run([mopstest.MOPS_BIN, "server", "--data",
                                os.path.join(self.tmp, "never"), "--listen", "127.0.0.1:0",
                                flag, value], capture_output=True, text=True,
                               timeout=30 * mopstest.SLOW)
            self.assertNotEqual(p.returncode, 0, (flag, value))
            self.assertIn(flag[2:].replace("-", "_"), p.stderr)
            self.assertIn(value, p.stderr)

    # -------------------------------------------------------------- names

    def test_hostile_names(self):
        srv = self.start()
        creates = [  # (method, path, body with @ for the name, what the message says)
            ("POST", "/api/v1/teams", {"name": "@"}, "team name"),
            ("POST", "/api/v1/users", {"name": "@"}, "user name"),
            ("POST", "/api/v1/models", {"team": "fraud", "name": "@", "risk_tier": "low"},
             "model name"),
            ("POST", "/api/v1/models", {"team": "fraud", "name": "ok", "risk_tier": "low",
                                        "owner": "@"}, "owner"),
            ("PUT", M + "/aliases/@", {"version": 1}, "alias"),
            ("POST", "/api/v1/datasets", {"team": "fraud", "name": "@"}, "dataset name"),
        ]
        lookups = [  # (method, path with @, body, what a 404 says)
            ("GET", "/api/v1/teams/@", None, "no team named"),
            ("GET", "/api/v1/users/@", None, "no user named"),
            ("PATCH", "/api/v1/users/@", {"display_name": "x"}, "no user named"),
            ("GET", "/api/v1/models/@/churn", None, "no team named"),
            ("GET", "/api/v1/models/fraud/@", None, "no model named"),
            ("POST", "/api/v1/models/fraud/@/archive", None, "no model named"),
            ("GET", M + "/versions/@", None, "has no version"),
            ("POST", M + "/versions/@/archive", None, "has no version"),
            ("PUT", "/api/v1/teams/fraud/members/@", {"roles": ["viewer"]}, "no user named"),
            ("DELETE", "/api/v1/teams/@/members/alice", None, "no team named"),
            ("DELETE", M + "/aliases/@", None, "has no alias"),
            ("GET", "/api/v1/tokens?user=@", None, "no user named"),
            ("POST", "/api/v1/models", {"team": "@", "name": "ok", "risk_tier": "low"},
             "no team named"),
            ("POST", "/api/v1/tokens", {"name": "x", "user": "@"}, "no user named"),
            ("GET", "/api/v1/datasets/fraud/@", None, "no dataset named"),
            ("GET", "/api/v1/datasets/@/d", None, "no team named"),
            ("GET", DSET + "/versions/@", None, "has no version"),
            ("POST", DSET + "/versions/@/validations", None, "has no version"),
        ]
        for name in BAD_NAMES:
            for method, path, body, says in creates + lookups:
                status = 400 if (method, path, body, says) in creates else 404
                if "@" in path:
                    self.check_path(method, path, body, name, status, says)
                    continue
                text = json.dumps(body).replace('"@"', json.dumps(name))
                if "\x00" in name:
                    self.refused(self.send(method, path, text), 400, "\\u0000")
                else:
                    self.refused(self.send(method, path, text), status, says)
        # token ids are numbers
        for bad in ("abc", "-1", "1.5", "0x10", "99999999999999999999", "1%00", "%20"):
            got = self.send("DELETE", "/api/v1/tokens/" + bad)
            self.refused(got, 400, "token id" if "%00" not in bad else "NUL")
        self.refused(self.send("DELETE", "/api/v1/tokens/0"), 404, "no token")

        # SQL metacharacters are just characters: stored and returned as
        # given, matched literally
        text = "x'); DROP TABLE models;-- %_\\ \"q\" ünï"
        out = srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "sql", "risk_tier": "low",
                                                "description": text, "purpose": text})
        self.assertEqual((out["description"], out["purpose"]), (text, text))
        self.assertEqual(srv.ok("GET", "/api/v1/models/fraud/sql")["description"], text)
        self.base = srv.state()
        for query in ("team=" + q("fraud' OR '1'='1"), "prefix=%25", "prefix=_", "owner=" +
                      q("admin' --"), "tag=" + q("x' OR 1=1 --"), "stage=" + q("'; DELETE")):
            got = srv.request("GET", "/api/v1/models?" + query, token=srv.admin)
            self.assertEqual((got[0], got[1]["items"]), (200, []), query)
        self.assertEqual(srv.state(), self.base)
        self.assertEqual(len(srv.ok("GET", "/api/v1/models")["items"]), 4)  # with sm

    def check_path(self, method, path, body, name, status, says):
        """A hostile name, percent-encoded into the path: the status and
        message of its kind of use (a name being created is invalid, one
        being looked up is not found), except that a NUL byte is refused
        naming the parameter and an empty one leaves no such endpoint."""
        url = path.replace("@", q(name))
        got = self.send(method, url, body)
        if "\x00" in name:
            where = "query parameter user" if "?" in path else "path parameter"
            self.refused(got, 400, where, "NUL byte")
        elif name == "" and "?" not in path:
            self.refused(got, 404, "no such endpoint")
        else:
            self.refused(got, status, says)

    # ------------------------------------------------------------ uploads

    def test_uploads(self):
        srv = self.start(["--max-upload", "64KiB"])
        limit = 64 * 1024
        tmp = os.path.join(srv.data_dir, "artifacts", "tmp")
        up = M + "/artifacts"
        octet = "application/octet-stream"
        # over the limit with a length: refused before a byte is read
        got = srv.request("POST", up, body=os.urandom(limit + 1), content_type=octet,
                          token=srv.admin)
        self.refused(got, 413, "limit of %d bytes" % limit, "--max-upload", code="too_large")
        # over the limit in chunks: refused once the limit is passed, the
        # partial file removed at once
        got = srv.request("POST", up, body=iter([os.urandom(4096)] * 17), content_type=octet,
                          token=srv.admin)
        self.refused(got, 413, "limit of %d bytes" % limit, "--max-upload")
        self.assertEqual(os.listdir(tmp), [])
        # Far over the limit in chunks: the server cannot answer before the
        # body ends (HTTP/1.1 and libmicrohttpd read it first), so past a
        # bounded amount it hangs up instead of reading on; nothing is kept.
        with self.assertRaises(mopstest.ServerClosed):
            srv.request("POST", up, body=iter([os.urandom(65536)] * 64), content_type=octet,
                        token=srv.admin, expect_continue=False)
        self.settled()
        # a client that goes away mid-upload leaves nothing behind
        u = urllib.parse.urlsplit(srv.url)
        s = socket.create_connection((u.hostname, u.port))
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: %s\r\nContent-Length: 60000\r\n\r\n" % (up, srv.admin, octet))
                  .encode() + os.urandom(30000))
        time.sleep(0.2 * mopstest.SLOW)
        s.close()
        self.settled()
        # empty uploads, with a length and in chunks
        for chunked in (False, True):
            self.refused(srv.request("POST", up, body=b"", content_type=octet, chunked=chunked,
                                     token=srv.admin), 400, "empty")
        # wrong or missing content type
        for ct in (None, "application/json", "text/plain", "multipart/form-data; boundary=x"):
            self.refused(srv.request("POST", up, body=b"abc", content_type=ct, token=srv.admin),
                         415, "application/octet-stream")
        # no such model, an archived model
        self.refused(srv.request("POST", "/api/v1/models/fraud/nope/artifacts", body=b"abc",
                                 content_type=octet, token=srv.admin), 404, "nope")
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "old", "risk_tier": "low"})
        srv.ok("POST", "/api/v1/models/fraud/old/archive")
        self.base = srv.state()
        self.refused(srv.request("POST", "/api/v1/models/fraud/old/artifacts", body=b"abc",
                                 content_type=octet, token=srv.admin), 409, "archived")
        self.assertEqual(os.listdir(tmp), [])
        # exactly at the limit is fine
        got = srv.request("POST", up, body=os.urandom(limit), content_type=octet,
                          token=srv.admin)
        self.assertEqual((got[0], got[1]["size"]), (201, limit))
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)

    def settled(self):
        """The state comes back to the snapshot (a hung-up upload is cleaned
        up when the connection is)."""
        deadline = time.time() + 10 * mopstest.SLOW
        while self.srv.state() != self.base and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.srv.state(), self.base)
        self.assertEqual(self.srv.request("GET", "/healthz")[0], 200)

    def test_version_artifact_hash(self):
        self.start()
        path, _, _, _ = JSON_ROUTES[("POST", MODEL_PATH + "/versions")]
        valid = self.w.valid(("POST", MODEL_PATH + "/versions"))
        for sha, says in ((self.w.sha.upper(), "artifact_sha256"),
                          (self.w.sha[:-1], "artifact_sha256"),
                          (self.w.sha + "0", "artifact_sha256"),
                          ("xyz", "artifact_sha256"), ("", "artifact_sha256"),
                          ("g" * 64, "artifact_sha256"), (" " + self.w.sha[1:], "artifact_sha256"),
                          ("0" * 64, "was not uploaded to team fraud"),
                          (self.w.beta_sha, "was not uploaded to team fraud")):
            msg = self.refused(self.send("POST", path, dict(valid, artifact_sha256=sha)), 400,
                               says)
            if "uploaded" in says:
                self.assertIn(sha, msg)

    # ----------------------------------------------------------- queries

    def test_query_parameters(self):
        srv = self.start()
        targets = self.w.targets()
        for r in mopstest.routes():
            key = (r["method"], r["pattern"])
            path, body, ctype = targets[key]
            token = None if r["public"] else srv.admin
            for query, says in (("bogus=1", '"bogus"'), ("bogus", '"bogus"'),
                                ("Limit=5", '"Limit"'), ("a%62c=1", '"abc"')):
                got = srv.request(key[0], path + ("&" if "?" in path else "?") + query,
                                  body=json.dumps(body).encode()
                                  if isinstance(body, dict) else body, content_type=ctype,
                                  token=token)
                self.refused(got, 400, "unknown query parameter", says)
        lists = {"/api/v1/models": True, M + "/versions": True, "/api/v1/audit": False,
                 "/api/v1/datasets": True, DSET + "/versions": True,
                 DSET + "/versions/1/validations": False,
                 "/api/v1/deployments": False, "/api/v1/jobs": False, D + "/history": False,
                 "/api/v1/teams/fraud/deliveries": False}
        for path, has_archived in lists.items():
            bad = [("limit=0", "limit"), ("limit=abc", "limit"), ("limit=-1", "limit"),
                   ("limit=1001", "limit"), ("limit=", "limit"), ("limit", "limit"),
                   ("limit=1e3", "limit"), ("limit=99999999999999999999", "limit"),
                   ("limit=%201", "limit"), ("limit=5%00", "limit"),
                   ("page_token=abc", "page_token"), ("page_token=-1", "page_token")]
            if has_archived:
                bad += [("archived=maybe", "archived"), ("archived=", "archived"),
                        ("archived=TRUE", "archived"), ("archived=1", "archived")]
            for query, says in bad:
                self.refused(srv.request("GET", path + "?" + query, token=srv.admin), 400, says)
        for query, says in (("team=a%00b", "team"), ("t%00eam=x", "NUL"),
                            ("prefix=%FF", "prefix"), ("owner=%C0%AF", "owner")):
            self.refused(srv.request("GET", "/api/v1/models?" + query, token=srv.admin), 400,
                         says)
        self.refused(srv.request("GET", "/api/v1/tokens?user=nobody", token=srv.admin), 404,
                     "nobody")
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)
