"""Who may do what, over every endpoint: no or bad credentials get 401, a
role the permission matrix does not allow gets 403 naming the permission, an
allowed role succeeds, and a team's objects are invisible (404, exactly as if
they did not exist) to everyone outside it. Every 401 and 403 is in the
audit chain, which still verifies, and no refused write changes anything.

The endpoints come from the route tables (src/http/routes_*.c) and the
matrix from src/auth/perm.c, so a new route or permission that this file
does not know about fails it."""
import itertools
import os
import re
import tempfile
import time
import urllib.parse

import mopstest
import runtime_common

# ------------------------------------------------------------------ matrix


def perm_matrix():
    """src/auth/perm.c's table: ({permission: (scope, set of roles)}, roles
    in their declared order)."""
    text = mopstest.read(os.path.join(mopstest.SRC, "auth", "perm.c"), "r")
    roles = re.findall(r'"([a-z-]+)"', re.search(
        r"role_names\[AUTH_ROLE_COUNT\]\s*=\s*\{([^}]*)\}", text).group(1))
    short = dict(re.findall(r"#define\s+(R_\w+)\s+AUTH_ROLE_(\w+)", text))

    def role_set(expr):
        expr = expr.strip()
        if expr == "0":
            return set()
        if expr == "AUTH_ROLES_ALL":
            return set(roles)
        out = set()
        for term in expr.split("|"):
            name = short[term.strip()].lower().replace("_", "-")
            assert name in roles, name
            out.add(name)
        return out

    entries = re.findall(r'\[AUTH_\w+\]\s*=\s*\{\s*"([\w.]+)"\s*,\s*"[^"]*"\s*,\s*'
                         r"(SCOPE_\w+)\s*,\s*([^}]*?)\s*\}", text)
    assert len(entries) == len(re.findall(r"^\s*\[AUTH_\w+\]\s*=", text, re.M)), "perm.c"
    return {name: (scope, role_set(expr)) for name, scope, expr in entries}, roles


MATRIX, ROLES = perm_matrix()
q = urllib.parse.quote
A = "/api/v1/models/alpha/m"  # the model whose permissions are exercised
ALPHA_BYTES = b"alpha artifact bytes"


class Req:
    def __init__(self, method, path, body=None, content_type=None):
        self.method, self.path, self.body, self.content_type = method, path, body, content_type


class Actor:
    def __init__(self, name, token, teams=None, global_admin=False):
        self.name, self.token, self.global_admin = name, token, global_admin
        self.teams = teams or {}  # team -> set of roles

    def __repr__(self):
        return self.name


class World:
    """Two teams, a user per role in alpha, an outsider who holds every role
    in beta, a user in no team, and alpha's model with versions, an alias
    and an uploaded artifact."""

    def __init__(self, srv):
        self.srv = srv
        self.n = itertools.count(1)
        srv.team("alpha")
        srv.team("beta")
        self.actors = [Actor("admin", srv.admin, global_admin=True)]
        for r in ROLES:
            name = "a-" + r
            self.actors.append(Actor(name, srv.user(name, "alpha", [r]), {"alpha": {r}}))
        self.actors.append(Actor("outsider", srv.user("outsider", "beta", ROLES),
                                 {"beta": set(ROLES)}))
        self.actors.append(Actor("loner", srv.user("loner")))
        srv.user("other")
        srv.user("target")
        srv.ok("POST", "/api/v1/models", {"team": "alpha", "name": "m", "risk_tier": "low"})
        srv.ok("POST", "/api/v1/models", {"team": "alpha", "name": "arch", "risk_tier": "low"})
        srv.ok("POST", "/api/v1/models", {"team": "beta", "name": "bm", "risk_tier": "low"})
        self.sha = srv.version("alpha", "m", data=ALPHA_BYTES)["artifact"]["sha256"]
        srv.version("alpha", "m", data=b"second")
        srv.version("beta", "bm", data=b"beta artifact bytes")
        srv.ok("PUT", A + "/aliases/champion", {"version": 1})
        data_world(self)
        # Serving: a model that runs, a deployment of it, a finished batch job.
        srv.ok("POST", "/api/v1/models", {"team": "alpha", "name": "sm", "risk_tier": "low"})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sm.json")
            runtime_common.small_xgboost(path, names=FEATURES)
            model = mopstest.read(path)
        for _ in range(2):
            srv.version("alpha", "sm", data=model, format="xgboost-json", stage="production")
        srv.ok("POST", "/api/v1/deployments", {"name": "dep", "team": "alpha",
                                               "primary": {"model": "sm", "version": 1}})
        srv.ok("PATCH", "/api/v1/deployments/dep", {"description": "two revisions"})
        self.csv_sha = srv.ok("POST", "/api/v1/jobs/inputs/alpha", raw=CSV,
                              content_type="application/octet-stream")["sha256"]
        self.job = self.submit()
        deadline = time.time() + 30 * mopstest.SLOW
        while srv.ok("GET", "/api/v1/jobs/%d" % self.job)["status"] != "succeeded":
            assert time.time() < deadline, "the job did not finish"
            time.sleep(0.05)

        # Governance: a version the runtime executes, validated once; a
        # retired version; a policy of alpha and an org-wide one (freshness
        # rules only: they gate nothing); a webhook that takes pings only.
        self.tokens = {a.name: a.token for a in self.actors}
        exe = srv.ok("POST", A + "/versions", {
            "artifact_sha256": srv.upload("alpha", "m", XGB_MODEL), "format": "xgboost-json"})
        self.exe = A + "/versions/%d" % exe["version"]
        self.validation = srv.ok("POST", self.exe + "/validations?label=y", raw=HOLDOUT,
                                 content_type="text/csv")["id"]
        self.retired = self.fresh_version("deprecated")
        srv.ok("POST", self.retired + "/transitions", {"to": "retired", "reason": "done"})
        srv.ok("POST", "/api/v1/policies", {"source": policy_source("base", "alpha")})
        srv.ok("POST", "/api/v1/policies", {"source": policy_source("org", None)})
        srv.ok("POST", "/api/v1/teams/alpha/webhooks", {"name": "h0", "url": DEAD_URL,
                                                        "events": ["ping"], "max_attempts": 1})

    def submit(self):
        return self.srv.ok("POST", "/api/v1/jobs", {"team": "alpha", "model": "sm", "version": 1,
                                                    "input": {"upload": self.csv_sha}})["id"]

    def fresh(self, prefix):
        return "%s-%d" % (prefix, next(self.n))

    def fresh_version(self, stage):
        """A new version of alpha/m written by a-data-scientist (who never
        decides), moved by admin to stage; its path."""
        srv, ds = self.srv, self.tokens["a-data-scientist"]
        v = srv.version("alpha", "m", data=self.fresh("bytes").encode(), token=ds)["version"]
        path = A + "/versions/%d" % v
        order = ["draft", "in_review", "approved", "staging", "production", "deprecated"]
        if order.index(stage) >= 1:
            srv.ok("POST", path + "/reviews", {}, token=ds)
        if order.index(stage) >= 2:
            srv.ok("POST", path + "/approvals", {})
        for to in order[3:order.index(stage) + 1]:
            srv.ok("POST", path + "/transitions", {"to": to, "reason": "setup"})
        return path

    def fresh_policy(self, team):
        name = self.fresh("p")
        self.srv.ok("POST", "/api/v1/policies", {"source": policy_source(name, team)})
        return "/api/v1/policies/%s/%s" % (team or "_global", name)

    def fresh_hook(self):
        name = self.fresh("h")
        self.srv.ok("POST", "/api/v1/teams/alpha/webhooks", {"name": name, "url": DEAD_URL,
                                                             "enabled": False})
        return "/api/v1/teams/alpha/webhooks/" + name

    def token_of(self, user):
        return self.srv.ok("POST", "/api/v1/tokens", {"name": "t", "user": user})["id"]


class Case:
    """One way to use an endpoint: the permission it needs (None: any
    signed-in user) and how to build a request that succeeds when allowed.
    deny is the status of a refusal when it is not 403."""

    def __init__(self, perm, build, deny=403):
        self.perm, self.build, self.deny = perm, build, deny


def delete_member(w, a):
    w.srv.ok("PUT", "/api/v1/teams/alpha/members/target", {"roles": ["viewer"]})
    return Req("DELETE", "/api/v1/teams/alpha/members/target")


def delete_alias(w, a):
    w.srv.ok("PUT", A + "/aliases/tmp", {"version": 1})
    return Req("DELETE", A + "/aliases/tmp")


DSET = "/api/v1/datasets/alpha/d"  # the dataset whose permissions are exercised
DATA_BYTES = b"x,y\n5,6\n"
SUITE = {"expectations": [{"expectation_type": "expect_column_to_exist",
                           "kwargs": {"column": "x"}}]}


def data_world(w):
    """alpha/d: version 1 plain, 2 with a PII column, 3 to archive; a suite
    and a validation of version 1; an uploaded file for new versions;
    alpha/arch-d to archive; beta's own dataset."""
    srv = w.srv
    for team, name in (("alpha", "d"), ("alpha", "arch-d"), ("beta", "bd")):
        srv.ok("POST", "/api/v1/datasets", {"team": team, "name": name})
    for data in (b"x,y\n1,2\n", b"email,n\nann@example.com,1\nbob@example.org,2\n", b"x\n3\n"):
        sha = srv.ok("POST", DSET + "/uploads", raw=data,
                     content_type="application/octet-stream")["sha256"]
        srv.ok("POST", DSET + "/versions", {"sha256": sha})
    assert srv.ok("GET", DSET + "/versions/2")["pii_columns"] == ["email"]
    w.dsha = srv.ok("POST", DSET + "/uploads", raw=DATA_BYTES,
                    content_type="application/octet-stream")["sha256"]
    srv.ok("PUT", DSET + "/suite", SUITE)
    w.vid = srv.ok("POST", DSET + "/versions/1/validations")["id"]


def take_pii_tag_off(w, a):
    w.srv.ok("PUT", DSET + "/versions/1/column-tags", {"columns": {"y": [w.fresh("pii:t")]}})
    return Req("PUT", DSET + "/versions/1/column-tags", {"columns": {"y": []}})


MODEL_PATH = "/api/v1/models/:team/:model"
DS_PATH = "/api/v1/datasets/:team/:dataset"
DV_PATH = DS_PATH + "/versions/:version"
FEATURES = ("a", "b", "c", "d")
ROW = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                   "data": [0.5, -1.0, 2.0, 0.25]}]}
CSV = b"a,b,c,d\n0.5,-1,2,0.25\n1,2,3,4\n"
D = "/api/v1/deployments/dep"


def new_deployment(w, a):
    return Req("POST", "/api/v1/deployments", {"name": w.fresh("dep"), "team": "alpha",
                                               "primary": {"model": "sm", "version": 1}})


def delete_deployment(w, a):
    name = w.fresh("gone")
    w.srv.ok("POST", "/api/v1/deployments", {"name": name, "team": "alpha",
                                             "primary": {"model": "sm", "version": 1}})
    return Req("DELETE", "/api/v1/deployments/" + name)


def cancel_job(w, a):
    """A job to cancel; every job has ended first, so that no result file is
    being written while the state is compared."""
    jid = w.submit()
    deadline = time.time() + 30 * mopstest.SLOW
    while any(j["status"] in ("queued", "running")
              for j in w.srv.ok("GET", "/api/v1/jobs?limit=1000")["items"]):
        assert time.time() < deadline, "jobs did not finish"
        time.sleep(0.02)
    return Req("POST", "/api/v1/jobs/%d/cancel" % jid)


MODEL_PATH = "/api/v1/models/:team/:model"
VP = MODEL_PATH + "/versions/:version"
# A small XGBoost model (4 features, no names) and a holdout for it.
XGB_MODEL = mopstest.read(os.path.join(mopstest.SRC, "..", "tests", "fuzz", "corpus", "xgboost",
                                       "binary_logistic.json"))
HOLDOUT = b"a,b,c,d,y\n1,2,3,4,1\n0,0,0,0,0\n-1,0.5,2,-3,1\n"
DEAD_URL = "http://127.0.0.1:9/nobody"  # refuses connections: deliveries fail at once


def policy_source(name, team):
    return "name: %s\n%srules:\n  - rule: freshness\n    max_age_days: 90\n" % (
        name, "team: %s\n" % team if team else "")

# Every route of the API, by (method, pattern), with how to exercise it.
# The test checks this table covers exactly the routes the server declares.
EXPECT = {
    ("GET", "/healthz"): "public",
    ("GET", "/api/v1/whoami"): [Case(None, lambda w, a: Req("GET", "/api/v1/whoami"))],
    ("POST", "/api/v1/teams"): [
        Case("team.create", lambda w, a: Req("POST", "/api/v1/teams", {"name": w.fresh("t")}))],
    ("GET", "/api/v1/teams"): [Case(None, lambda w, a: Req("GET", "/api/v1/teams"))],
    ("GET", "/api/v1/teams/:team"): [
        Case("team.read", lambda w, a: Req("GET", "/api/v1/teams/alpha"))],
    ("PUT", "/api/v1/teams/:team/members/:user"): [
        Case("team.manage", lambda w, a: Req("PUT", "/api/v1/teams/alpha/members/target",
                                             {"roles": ["viewer"]}))],
    ("DELETE", "/api/v1/teams/:team/members/:user"): [
        Case("team.manage", delete_member)],
    ("POST", "/api/v1/users"): [
        Case("user.create", lambda w, a: Req("POST", "/api/v1/users", {"name": w.fresh("u")}))],
    ("GET", "/api/v1/users"): [Case("user.read", lambda w, a: Req("GET", "/api/v1/users"))],
    ("GET", "/api/v1/users/:user"): [
        # a user one can see: a teammate (or oneself); the invisibility of the
        # others is checked in test_team_isolation
        Case("user.read", lambda w, a: Req("GET", "/api/v1/users/" + (
            "a-viewer" if "alpha" in a.teams else a.name)))],
    ("PATCH", "/api/v1/users/:user"): [
        # one's own name and email: anyone; anything else: user.manage
        Case(None, lambda w, a: Req("PATCH", "/api/v1/users/" + a.name,
                                    {"display_name": w.fresh("Name")})),
        Case("user.manage", lambda w, a: Req("PATCH", "/api/v1/users/other",
                                             {"display_name": w.fresh("Name")})),
        Case("user.manage", lambda w, a: Req("PATCH", "/api/v1/users/" + a.name,
                                             {"admin": True}))],
    ("POST", "/api/v1/tokens"): [
        Case("token.own", lambda w, a: Req("POST", "/api/v1/tokens", {"name": "mine"})),
        Case("token.others", lambda w, a: Req("POST", "/api/v1/tokens",
                                              {"name": "theirs", "user": "other"}))],
    ("GET", "/api/v1/tokens"): [
        Case("token.own", lambda w, a: Req("GET", "/api/v1/tokens")),
        Case("token.others", lambda w, a: Req("GET", "/api/v1/tokens?user=other"))],
    ("DELETE", "/api/v1/tokens/:id"): [
        Case("token.own", lambda w, a: Req("DELETE", "/api/v1/tokens/%d" % w.token_of(a.name))),
        # someone else's token is invisible, not forbidden
        Case("token.others",
             lambda w, a: Req("DELETE", "/api/v1/tokens/%d" % w.token_of("other")), deny=404)],
    ("POST", "/api/v1/models"): [
        Case("model.write", lambda w, a: Req("POST", "/api/v1/models", {
            "team": "alpha", "name": w.fresh("new"), "risk_tier": "low"}))],
    ("GET", "/api/v1/models"): [Case(None, lambda w, a: Req("GET", "/api/v1/models"))],
    ("GET", MODEL_PATH): [Case("model.read", lambda w, a: Req("GET", A))],
    ("PATCH", MODEL_PATH): [
        Case("model.write", lambda w, a: Req("PATCH", A, {"description": w.fresh("d")}))],
    ("POST", MODEL_PATH + "/archive"): [
        Case("model.write", lambda w, a: Req("POST", "/api/v1/models/alpha/arch/archive"))],
    ("POST", MODEL_PATH + "/artifacts"): [
        Case("version.write", lambda w, a: Req("POST", A + "/artifacts", ALPHA_BYTES,
                                               "application/octet-stream"))],
    ("POST", MODEL_PATH + "/versions"): [
        Case("version.write", lambda w, a: Req("POST", A + "/versions", {
            "artifact_sha256": w.sha, "format": "custom"}))],
    ("GET", MODEL_PATH + "/versions"): [
        Case("model.read", lambda w, a: Req("GET", A + "/versions"))],
    ("GET", MODEL_PATH + "/versions/:version"): [
        Case("model.read", lambda w, a: Req("GET", A + "/versions/1"))],
    ("PATCH", MODEL_PATH + "/versions/:version"): [
        Case("version.write", lambda w, a: Req("PATCH", A + "/versions/1",
                                               {"description": w.fresh("d")}))],
    ("POST", MODEL_PATH + "/versions/:version/archive"): [
        Case("version.write", lambda w, a: Req("POST", A + "/versions/2/archive"))],
    ("GET", MODEL_PATH + "/versions/:version/artifact"): [
        Case("version.download", lambda w, a: Req("GET", A + "/versions/champion/artifact"))],
    ("PUT", MODEL_PATH + "/aliases/:alias"): [
        Case("alias.write", lambda w, a: Req("PUT", A + "/aliases/champion", {"version": 1}))],
    ("DELETE", MODEL_PATH + "/aliases/:alias"): [
        Case("alias.write", delete_alias)],
    ("POST", "/api/v1/datasets"): [
        Case("dataset.write", lambda w, a: Req("POST", "/api/v1/datasets", {
            "team": "alpha", "name": w.fresh("ds")}))],
    ("GET", "/api/v1/datasets"): [Case(None, lambda w, a: Req("GET", "/api/v1/datasets"))],
    ("GET", DS_PATH): [Case("dataset.read", lambda w, a: Req("GET", DSET))],
    ("PATCH", DS_PATH): [
        Case("dataset.write", lambda w, a: Req("PATCH", DSET, {"description": w.fresh("d")}))],
    ("POST", DS_PATH + "/archive"): [
        Case("dataset.write", lambda w, a: Req("POST", "/api/v1/datasets/alpha/arch-d/archive"))],
    ("POST", DS_PATH + "/uploads"): [
        Case("dataset.write", lambda w, a: Req("POST", DSET + "/uploads", DATA_BYTES,
                                               "application/octet-stream"))],
    ("POST", DS_PATH + "/versions"): [
        Case("dataset.write", lambda w, a: Req("POST", DSET + "/versions", {"sha256": w.dsha}))],
    ("GET", DS_PATH + "/versions"): [
        Case("dataset.read", lambda w, a: Req("GET", DSET + "/versions"))],
    ("GET", DV_PATH): [Case("dataset.read", lambda w, a: Req("GET", DSET + "/versions/1"))],
    ("PATCH", DV_PATH): [
        Case("dataset.write", lambda w, a: Req("PATCH", DSET + "/versions/1",
                                               {"description": w.fresh("d")}))],
    ("POST", DV_PATH + "/archive"): [
        Case("dataset.write", lambda w, a: Req("POST", DSET + "/versions/3/archive"))],
    ("GET", DV_PATH + "/data"): [
        Case("dataset.download", lambda w, a: Req("GET", DSET + "/versions/1/data")),
        # a version with a PII column
        Case("dataset.download_pii", lambda w, a: Req("GET", DSET + "/versions/2/data"))],
    ("GET", DV_PATH + "/sample"): [
        Case("dataset.read", lambda w, a: Req("GET", DSET + "/versions/2/sample"))],
    ("GET", DV_PATH + "/profile"): [
        Case("dataset.read", lambda w, a: Req("GET", DSET + "/versions/2/profile"))],
    ("GET", DV_PATH + "/diff"): [
        Case("dataset.read", lambda w, a: Req("GET", DSET + "/versions/2/diff"))],
    ("PUT", DV_PATH + "/column-tags"): [
        Case("dataset.write", lambda w, a: Req("PUT", DSET + "/versions/1/column-tags",
                                               {"columns": {"x": [w.fresh("t")]}})),
        Case("dataset.classify", take_pii_tag_off)],
    ("PUT", DS_PATH + "/suite"): [Case("dataset.write", lambda w, a: Req("PUT", DSET + "/suite",
                                                                         SUITE))],
    ("GET", DS_PATH + "/suite"): [Case("dataset.read", lambda w, a: Req("GET", DSET + "/suite"))],
    ("POST", DV_PATH + "/validations"): [
        Case("dataset.write", lambda w, a: Req("POST", DSET + "/versions/1/validations"))],
    ("GET", DV_PATH + "/validations"): [
        Case("dataset.read", lambda w, a: Req("GET", DSET + "/versions/1/validations"))],
    ("GET", DV_PATH + "/validations/:id"): [
        Case("dataset.read", lambda w, a: Req("GET", DSET + "/versions/1/validations/%d" % w.vid))],
    ("GET", "/api/v1/lineage/datasets/:team/:dataset/versions/:version"): [
        Case("dataset.read", lambda w, a: Req("GET", "/api/v1/lineage/datasets/alpha/d/versions/1"))],
    ("GET", "/api/v1/lineage/models/:team/:model/versions/:version"): [
        Case("model.read", lambda w, a: Req("GET", "/api/v1/lineage/models/alpha/m/versions/1"))],
    ("POST", "/api/v1/lineage/links"): [
        Case("version.write", lambda w, a: Req("POST", "/api/v1/lineage/links", {
            "model": "alpha/m@1", "dataset": "dataset:alpha/d@1", "relation": "validated-on"}))],
    ("GET", "/api/v1/governance/lifecycle"): [
        Case(None, lambda w, a: Req("GET", "/api/v1/governance/lifecycle"))],
    ("GET", "/api/v1/governance/reviews-due"): [
        Case(None, lambda w, a: Req("GET", "/api/v1/governance/reviews-due"))],
    ("POST", VP + "/transitions"): [
        Case("review.request", lambda w, a: Req("POST", w.fresh_version("draft") + "/transitions",
                                                {"to": "in_review", "reason": "look"})),
        Case("review.decide", lambda w, a: Req(
            "POST", w.fresh_version("in_review") + "/transitions",
            {"to": "rejected", "reason": "no"})),
        Case("stage.staging", lambda w, a: Req("POST", w.fresh_version("approved") +
                                               "/transitions", {"to": "staging", "reason": "c"})),
        Case("stage.production", lambda w, a: Req(
            "POST", w.fresh_version("staging") + "/transitions",
            {"to": "production", "reason": "go"})),
        Case("version.retire", lambda w, a: Req(
            "POST", w.fresh_version("deprecated") + "/transitions",
            {"to": "retired", "reason": "old", "replacement": 1}))],
    ("GET", VP + "/transitions"): [
        Case("model.read", lambda w, a: Req("GET", w.retired + "/transitions"))],
    ("POST", VP + "/reviews"): [
        Case("review.request", lambda w, a: Req("POST", w.fresh_version("draft") + "/reviews",
                                                {"comment": "please"}))],
    ("GET", VP + "/reviews"): [Case("model.read", lambda w, a: Req("GET", w.retired + "/reviews"))],
    ("POST", VP + "/approvals"): [
        Case("review.decide", lambda w, a: Req("POST", w.fresh_version("in_review") +
                                               "/approvals", {"comment": "fine"}))],
    ("POST", VP + "/rejections"): [
        Case("review.decide", lambda w, a: Req("POST", w.fresh_version("in_review") +
                                               "/rejections", {"comment": "no"}))],
    ("GET", VP + "/policy-check"): [
        Case("model.read", lambda w, a: Req("GET", A + "/versions/1/policy-check"))],
    ("POST", VP + "/validations"): [
        Case("validation.run", lambda w, a: Req("POST", w.exe + "/validations?label=y", HOLDOUT,
                                                "text/csv"))],
    ("GET", VP + "/validations"): [
        Case("model.read", lambda w, a: Req("GET", w.exe + "/validations"))],
    ("GET", VP + "/validations/:id"): [
        Case("model.read", lambda w, a: Req("GET", w.exe + "/validations/%d" % w.validation))],
    ("GET", VP + "/card"): [
        Case("model.read", lambda w, a: Req("GET", A + "/versions/1/card?format=html"))],
    ("PUT", VP + "/card"): [
        Case("card.write", lambda w, a: Req("PUT", A + "/versions/1/card",
                                            {"intended_use": w.fresh("use")}))],
    ("GET", VP + "/retirement"): [
        Case("model.read", lambda w, a: Req("GET", w.retired + "/retirement"))],
    ("GET", MODEL_PATH + "/report"): [Case("report.read", lambda w, a: Req("GET", A + "/report"))],
    ("GET", "/api/v1/reports/inventory"): [
        Case(None, lambda w, a: Req("GET", "/api/v1/reports/inventory")),
        Case("report.read", lambda w, a: Req("GET", "/api/v1/reports/inventory?team=alpha"))],
    ("POST", "/api/v1/policies"): [
        Case("policy.write", lambda w, a: Req("POST", "/api/v1/policies", {
            "source": policy_source(w.fresh("p"), "alpha")})),
        Case("policy.global", lambda w, a: Req("POST", "/api/v1/policies", {
            "source": policy_source(w.fresh("p"), None)}))],
    ("GET", "/api/v1/policies"): [Case(None, lambda w, a: Req("GET", "/api/v1/policies"))],
    ("GET", "/api/v1/policies/:scope/:name"): [
        Case("policy.read", lambda w, a: Req("GET", "/api/v1/policies/alpha/base")),
        Case(None, lambda w, a: Req("GET", "/api/v1/policies/_global/org"))],
    ("PUT", "/api/v1/policies/:scope/:name"): [
        Case("policy.write", lambda w, a: Req("PUT", "/api/v1/policies/alpha/base", {
            "source": policy_source("base", "alpha")})),
        Case("policy.global", lambda w, a: Req("PUT", "/api/v1/policies/_global/org", {
            "source": policy_source("org", None)}))],
    ("POST", "/api/v1/policies/:scope/:name/archive"): [
        Case("policy.write", lambda w, a: Req("POST", w.fresh_policy("alpha") + "/archive")),
        Case("policy.global", lambda w, a: Req("POST", w.fresh_policy(None) + "/archive"))],
    ("POST", "/api/v1/teams/:team/webhooks"): [
        Case("webhook.manage", lambda w, a: Req("POST", "/api/v1/teams/alpha/webhooks", {
            "name": w.fresh("h"), "url": DEAD_URL, "enabled": False}))],
    ("GET", "/api/v1/teams/:team/webhooks"): [
        Case("webhook.read", lambda w, a: Req("GET", "/api/v1/teams/alpha/webhooks"))],
    ("GET", "/api/v1/teams/:team/webhooks/:name"): [
        Case("webhook.read", lambda w, a: Req("GET", "/api/v1/teams/alpha/webhooks/h0"))],
    ("PATCH", "/api/v1/teams/:team/webhooks/:name"): [
        Case("webhook.manage", lambda w, a: Req("PATCH", "/api/v1/teams/alpha/webhooks/h0",
                                                {"backoff_ms": 100 + next(w.n)}))],
    ("DELETE", "/api/v1/teams/:team/webhooks/:name"): [
        Case("webhook.manage", lambda w, a: Req("DELETE", w.fresh_hook()))],
    ("POST", "/api/v1/teams/:team/webhooks/:name/ping"): [
        Case("webhook.manage", lambda w, a: Req("POST", "/api/v1/teams/alpha/webhooks/h0/ping"))],
    ("GET", "/api/v1/teams/:team/deliveries"): [
        Case("webhook.read", lambda w, a: Req("GET", "/api/v1/teams/alpha/deliveries"))],
    ("GET", "/api/v1/audit"): [Case(None, lambda w, a: Req("GET", "/api/v1/audit"))],
    ("GET", "/api/v1/audit/verify"): [
        Case("audit.verify", lambda w, a: Req("GET", "/api/v1/audit/verify"))],
    # serving: deployments
    ("POST", "/api/v1/deployments"): [Case("deployment.write", new_deployment)],
    ("GET", "/api/v1/deployments"): [Case(None, lambda w, a: Req("GET", "/api/v1/deployments"))],
    ("GET", "/api/v1/deployments/:name"): [Case("deployment.read", lambda w, a: Req("GET", D))],
    ("PATCH", "/api/v1/deployments/:name"): [
        Case("deployment.write", lambda w, a: Req("PATCH", D, {"description": w.fresh("d")}))],
    ("DELETE", "/api/v1/deployments/:name"): [Case("deployment.write", delete_deployment)],
    ("POST", "/api/v1/deployments/:name/rollback"): [
        Case("deployment.write", lambda w, a: Req("POST", D + "/rollback", {}))],
    ("GET", "/api/v1/deployments/:name/history"): [
        Case("deployment.read", lambda w, a: Req("GET", D + "/history"))],
    ("GET", "/api/v1/deployments/:name/stats"): [
        Case("deployment.read", lambda w, a: Req("GET", D + "/stats"))],
    # serving: inference, on a deployment or on a model addressed directly
    ("POST", "/api/v1/deployments/:name/predict"): [
        Case("deployment.infer", lambda w, a: Req("POST", D + "/predict",
                                                  {"instances": [{"a": 1, "b": 2}]}))],
    ("POST", "/v2/models/:name/infer"): [
        Case("deployment.infer", lambda w, a: Req("POST", "/v2/models/dep/infer", ROW)),
        Case("deployment.infer", lambda w, a: Req("POST", "/v2/models/sm/infer", ROW))],
    ("POST", "/v2/models/:name/versions/:version/infer"): [
        Case("deployment.infer",
             lambda w, a: Req("POST", "/v2/models/dep/versions/1/infer", ROW)),
        Case("deployment.infer",
             lambda w, a: Req("POST", "/v2/models/sm/versions/2/infer", ROW))],
    ("GET", "/v2/health/live"): "public",
    ("GET", "/v2/health/ready"): "public",
    ("GET", "/v2"): [Case(None, lambda w, a: Req("GET", "/v2"))],
    ("GET", "/v2/models/:name"): [
        Case("deployment.read", lambda w, a: Req("GET", "/v2/models/dep")),
        Case("model.read", lambda w, a: Req("GET", "/v2/models/sm"))],
    ("GET", "/v2/models/:name/versions/:version"): [
        Case("deployment.read", lambda w, a: Req("GET", "/v2/models/dep/versions/1")),
        Case("model.read", lambda w, a: Req("GET", "/v2/models/sm/versions/1"))],
    ("GET", "/v2/models/:name/ready"): [
        Case("deployment.read", lambda w, a: Req("GET", "/v2/models/dep/ready")),
        Case("model.read", lambda w, a: Req("GET", "/v2/models/sm/ready"))],
    ("GET", "/v2/models/:name/versions/:version/ready"): [
        Case("deployment.read", lambda w, a: Req("GET", "/v2/models/dep/versions/1/ready")),
        Case("model.read", lambda w, a: Req("GET", "/v2/models/sm/versions/2/ready"))],
    # serving: batch jobs
    ("POST", "/api/v1/jobs/inputs/:team"): [
        Case("job.run", lambda w, a: Req("POST", "/api/v1/jobs/inputs/alpha", CSV,
                                         "application/octet-stream"))],
    ("POST", "/api/v1/jobs"): [
        Case("job.run", lambda w, a: Req("POST", "/api/v1/jobs", {
            "team": "alpha", "model": "sm", "input": {"upload": w.csv_sha}}))],
    ("GET", "/api/v1/jobs"): [Case(None, lambda w, a: Req("GET", "/api/v1/jobs"))],
    ("GET", "/api/v1/jobs/:id"): [
        Case("job.read", lambda w, a: Req("GET", "/api/v1/jobs/%d" % w.job))],
    ("POST", "/api/v1/jobs/:id/cancel"): [Case("job.run", cancel_job)],
    ("GET", "/api/v1/jobs/:id/result"): [
        Case("job.read", lambda w, a: Req("GET", "/api/v1/jobs/%d/result" % w.job))],
    # FinOps and KPIs
    ("GET", "/api/v1/costs"): [
        Case(None, lambda w, a: Req("GET", "/api/v1/costs")),
        Case("cost.read", lambda w, a: Req("GET", "/api/v1/costs?team=alpha&group_by=model"))],
    ("GET", "/api/v1/costs/export"): [
        Case("cost.read", lambda w, a: Req("GET", "/api/v1/costs/export?format=focus&team=alpha"))],
    ("GET", "/api/v1/prices"): [Case(None, lambda w, a: Req("GET", "/api/v1/prices"))],
    ("PUT", "/api/v1/prices"): [
        Case("price.write", lambda w, a: Req("PUT", "/api/v1/prices", {
            "prices": {"gpu_hour": 0.9 + next(w.n) / 100}}))],
    ("GET", "/api/v1/budgets"): [
        Case(None, lambda w, a: Req("GET", "/api/v1/budgets")),
        Case("cost.read", lambda w, a: Req("GET", "/api/v1/budgets?team=alpha"))],
    ("PUT", "/api/v1/budgets/:team"): [
        Case("budget.write", lambda w, a: Req("PUT", "/api/v1/budgets/alpha", {
            "amount": 100 + next(w.n)}))],
    ("DELETE", "/api/v1/budgets/:team"): [Case("budget.write", lambda w, a: fresh_budget(w, ""))],
    ("PUT", "/api/v1/budgets/:team/:model"): [
        Case("budget.write", lambda w, a: Req("PUT", "/api/v1/budgets/alpha/m", {
            "amount": 10 + next(w.n)}))],
    ("DELETE", "/api/v1/budgets/:team/:model"): [
        Case("budget.write", lambda w, a: fresh_budget(w, "/m"))],
    ("GET", MODEL_PATH + "/value"): [Case("cost.read", lambda w, a: Req("GET", A + "/value"))],
    ("PUT", MODEL_PATH + "/value"): [
        Case("value.write", lambda w, a: Req("PUT", A + "/value", {"per_prediction": 0.1}))],
    ("POST", "/api/v1/value-events"): [
        Case("value.write", lambda w, a: Req("POST", "/api/v1/value-events", {
            "team": "alpha", "model": "m", "amount": 1}))],
    ("GET", "/api/v1/kpis"): [
        Case(None, lambda w, a: Req("GET", "/api/v1/kpis")),
        Case("kpi.read", lambda w, a: Req("GET", "/api/v1/kpis?team=alpha"))],
}


def fresh_budget(w, suffix):
    """A budget of alpha (suffix "") or of alpha/m ("/m") to delete."""
    w.srv.ok("PUT", "/api/v1/budgets/alpha" + suffix, {"amount": 7})
    return Req("DELETE", "/api/v1/budgets/alpha" + suffix)


def expected(case, actor):
    """'allow', 'deny' (403 or case.deny) or 'hidden' (404) for actor."""
    if actor.global_admin or case.perm is None:
        return "allow"
    scope, roles = MATRIX[case.perm]
    if scope == "SCOPE_ANY_USER":
        return "allow"
    if scope == "SCOPE_ADMIN":
        return "deny"
    if scope == "SCOPE_ANY_TEAM":
        return "allow" if any(r & roles for r in actor.teams.values()) else "deny"
    assert scope == "SCOPE_TEAM", scope
    if "alpha" not in actor.teams:
        return "hidden"
    return "allow" if actor.teams["alpha"] & roles else "deny"


def send(srv, req, token=None, auth=None):
    """Send req with a bearer token, or with auth as the whole Authorization
    header (when given), or with no credentials at all."""
    headers = {"Authorization": auth} if auth is not None else None
    return srv.request(req.method, req.path, body=req.body, token=token, headers=headers,
                       content_type=req.content_type)


def audit_by_request(srv):
    """Every audit entry, by request id (an admin sees them all)."""
    out, page = {}, None
    while True:
        got = srv.ok("GET", "/api/v1/audit?limit=1000" + ("&page_token=" + page if page else ""))
        for e in got["items"]:
            out.setdefault(e["request_id"], []).append(e)
        page = got["next_page_token"]
        if not page:
            return out


def without_audit(state):
    return {k: v for k, v in state.items() if k != "audit_entries"}


class Permissions(mopstest.TestCase):
    def test_tables_cover_every_route_and_permission(self):
        declared = {(r["method"], r["pattern"]): r for r in mopstest.routes()}
        self.assertEqual(sorted(set(declared) - set(EXPECT)), [],
                         "routes without permission tests: add them to EXPECT")
        self.assertEqual(sorted(set(EXPECT) - set(declared)), [],
                         "EXPECT names routes the server does not have")
        public = sorted(k for k, r in declared.items() if r["public"])
        self.assertEqual(public, sorted(k for k, v in EXPECT.items() if v == "public"))
        # health probes: the server's and the inference protocol's
        self.assertEqual(public, [("GET", "/healthz"), ("GET", "/v2/health/live"),
                                  ("GET", "/v2/health/ready")])
        # Every permission is exercised, except audit.read, which filters
        # the audit list rather than refusing (test_team_isolation).
        used = {c.perm for v in EXPECT.values() if v != "public" for c in v}
        self.assertEqual(sorted(set(MATRIX) - used), ["audit.read"])
        self.assertEqual(sorted(used - set(MATRIX) - {None}), [])
        self.assertEqual(ROLES, ["admin", "data-scientist", "ml-engineer", "risk-officer",
                                 "finops", "viewer"])

    def test_no_or_bad_credentials_get_401(self):
        srv = self.server()
        w = World(srv)
        # an expired token: valid for a moment, then refused
        soon = time.time() + 1.0
        expires_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(soon)) + \
            ".%03dZ" % (int(soon * 1000) % 1000)
        expiring = srv.ok("POST", "/api/v1/tokens", {"name": "brief", "user": "a-viewer",
                                                     "expires_at": expires_at})["token"]
        revoked = srv.ok("POST", "/api/v1/tokens", {"name": "gone", "user": "a-viewer"})
        srv.ok("DELETE", "/api/v1/tokens/%d" % revoked["id"])
        disabled = srv.user("quitter", "alpha", ["admin"])
        srv.ok("PATCH", "/api/v1/users/quitter", {"disabled": True})
        while time.time() < soon + 0.05:
            time.sleep(0.05)
        # (Authorization, what the message says, who the refusal is audited
        # as: the owner of a token that was recognised but is unusable)
        variants = [
            (None, "no API token", "anonymous"),
            ("Bearer ", "no API token", "anonymous"),
            ("Basic YWRtaW46YWRtaW4=", "must be 'Bearer <token>'", "anonymous"),
            ("Bearer " + srv.admin[:-1], "malformed API token", "anonymous"),
            ("Bearer " + srv.admin.upper(), "malformed API token", "anonymous"),
            ("Bearer mops_" + "0" * 64, "unknown API token", "anonymous"),
            ("Bearer " + revoked["token"], "was revoked", "a-viewer"),
            ("Bearer " + expiring, "expired at " + expires_at[:19], "a-viewer"),
            ("Bearer " + disabled, "user quitter is disabled", "quitter"),
        ]
        before = None
        denied = {}  # request id -> (route, path, message, audited actor)
        for r in mopstest.routes():
            if r["public"]:
                continue
            for case in EXPECT[(r["method"], r["pattern"])]:
                req = case.build(w, w.actors[0])
                if req.method != "GET":
                    before = srv.state()
                for auth, says, actor in variants:
                    got = send(srv, req, auth=auth) if auth is not None else send(srv, req)
                    what = "%s %s with %r" % (req.method, req.path, auth)
                    msg = self.assertError(got, 401, "unauthenticated", says)
                    self.assertEqual(got[2].get("WWW-Authenticate"), 'Bearer realm="mops"', what)
                    denied[got[2]["X-Request-Id"]] = (r, req.path.split("?")[0], msg, actor)
                if req.method != "GET":
                    after = srv.state()
                    self.assertEqual(without_audit(after), without_audit(before), req.path)
                    self.assertEqual(after["audit_entries"],
                                     before["audit_entries"] + len(variants), req.path)
        # each refusal is one "denied" entry of an intact chain
        entries = audit_by_request(srv)
        for rid, (r, path, msg, actor) in denied.items():
            self.assertEqual(len(entries.get(rid, [])), 1, (rid, path))
            e = entries[rid][0]
            self.assertEqual((e["outcome"], e["actor"], e["action"], e["target"]),
                             ("denied", actor, r["action"], path))
            self.assertEqual(e["detail"], {"status": 401, "reason": msg})
        verify = srv.ok("GET", "/api/v1/audit/verify")
        self.assertTrue(verify["ok"], verify)
        self.assertGreaterEqual(verify["entries"], len(denied))
        # the public endpoint needs nothing and ignores bad credentials
        for path in ("/healthz", "/v2/health/live", "/v2/health/ready"):
            self.assertEqual(srv.request("GET", path)[0], 200)
            self.assertEqual(srv.request("GET", path, token="mops_" + "0" * 64)[0], 200)

    def test_every_role_against_every_permission(self):
        srv = self.server()
        w = World(srv)
        denials = {}  # request id -> (actor, route, path, message)
        checked = {"allow": 0, "deny": 0, "hidden": 0}
        for r in mopstest.routes():
            if r["public"]:
                continue
            for case in EXPECT[(r["method"], r["pattern"])]:
                # refusals first, each between two snapshots that must agree
                order = sorted(w.actors, key=lambda a: expected(case, a) == "allow")
                for actor in order:
                    want = expected(case, actor)
                    req = case.build(w, actor)
                    what = "%s %s as %s (%s)" % (req.method, req.path, actor, case.perm)
                    write = req.method != "GET" and want != "allow"
                    before = srv.state() if write else None
                    got = send(srv, req, token=actor.token)
                    checked[want] += 1
                    if want == "allow":
                        self.assertIn(got[0], (200, 201, 204), "%s: %s" % (what, got[1]))
                        continue
                    if want == "hidden" or case.deny == 404:
                        self.assertError(got, 404, "not_found")
                    else:
                        msg = self.assertError(got, 403, "forbidden", "(%s)" % case.perm)
                        self.assertIn(actor.name, msg)
                        denials[got[2]["X-Request-Id"]] = (actor, r, req.path.split("?")[0],
                                                           msg)
                    if write:
                        after = srv.state()
                        # every refusal is audited: 403s, and 404s that hide
                        # another team's object or another user's token (a
                        # 404 for what does not exist is not a refusal)
                        audited = 1
                        self.assertEqual(without_audit(after), without_audit(before), what)
                        self.assertEqual(after["audit_entries"],
                                         before["audit_entries"] + audited, what)
        # the matrix was really exercised both ways, for every role
        self.assertGreater(checked["deny"], 40)
        self.assertGreater(checked["allow"], 100)
        self.assertGreater(checked["hidden"], 20)
        entries = audit_by_request(srv)
        for rid, (actor, r, path, msg) in denials.items():
            self.assertEqual(len(entries.get(rid, [])), 1, (rid, path))
            e = entries[rid][0]
            self.assertEqual((e["outcome"], e["actor"], e["action"], e["target"]),
                             ("denied", actor.name, r["action"], path))
            self.assertEqual(e["detail"], {"status": 403, "reason": msg})
        verify = srv.ok("GET", "/api/v1/audit/verify")
        self.assertTrue(verify["ok"], verify)

    def test_team_isolation(self):
        srv = self.server()
        w = World(srv)
        outsider = next(a for a in w.actors if a.name == "outsider")
        # Another team's objects answer exactly like ones that do not exist,
        # whatever the outsider's roles in their own team.
        srv.team("gamma")
        for r in mopstest.routes():
            if r["public"]:
                continue
            for case in EXPECT[(r["method"], r["pattern"])]:
                if case.perm is None or MATRIX[case.perm][0] != "SCOPE_TEAM":
                    continue
                req = case.build(w, outsider)
                got = send(srv, req, token=outsider.token)
                self.assertError(got, 404, "not_found")
                for ghost in ("zeta", "gamma"):  # no such team; a team without the outsider
                    fake = Req(req.method, re.sub(r"(?<=/|=)alpha(?=/|&|$)", ghost, req.path),
                               req.body, req.content_type)
                    if isinstance(req.body, dict):  # "team": "alpha", "alpha/m@1"...
                        fake.body = {k: re.sub(r"^(dataset:)?alpha(?=/|$)",
                                               lambda m: (m.group(1) or "") + ghost, v)
                                     if isinstance(v, str) else v
                                     for k, v in req.body.items()}
                    if isinstance(req.body, dict) and req.body.get("team") == "alpha":
                        fake.body = dict(req.body, team=ghost)
                    if isinstance(req.body, dict) and "team: alpha" in req.body.get("source", ""):
                        fake.body = dict(req.body, source=req.body["source"].replace(
                            "team: alpha", "team: " + ghost))
                    ref = send(srv, fake, token=outsider.token)
                    self.assertEqual(
                        (got[0], mopstest.error_message(got[1]).replace("alpha", ghost)),
                        (ref[0], mopstest.error_message(ref[1])), req.path)

        # lists show only one's own teams' objects
        insider = next(a for a in w.actors if a.name == "a-viewer")
        for token, teams in ((outsider.token, {"beta"}), (insider.token, {"alpha"})):
            got = srv.ok("GET", "/api/v1/models?archived=any", token=token)["items"]
            self.assertEqual({m["team"] for m in got}, teams)
            got = srv.ok("GET", "/api/v1/teams", token=token)["items"]
            self.assertEqual({t["name"] for t in got}, teams)
            self.assertEqual(srv.ok("GET", "/api/v1/models?team=%s" % (
                "alpha" if teams == {"beta"} else "beta"), token=token)["items"], [])
        loner = next(a for a in w.actors if a.name == "loner")
        self.assertEqual(srv.ok("GET", "/api/v1/models", token=loner.token)["items"], [])
        self.assertEqual(srv.ok("GET", "/api/v1/teams", token=loner.token)["items"], [])
        # users who share no team with one are invisible, like other teams'
        # objects; one's own record and teammates' are there
        self.assertError(srv.http("GET", "/api/v1/users/a-admin", token=outsider.token), 404,
                         "not_found", 'no user named "a-admin"')
        self.assertEqual(srv.ok("GET", "/api/v1/users/outsider", token=outsider.token)["teams"],
                         {"beta": sorted(ROLES)})
        seen = {u["name"] for u in srv.ok("GET", "/api/v1/users", token=outsider.token)["items"]}
        self.assertIn("outsider", seen)
        self.assertNotIn("a-admin", seen)
        self.assertNotIn("admin", seen)
        self.assertEqual(seen, {u["name"] for u in srv.ok("GET", "/api/v1/users")["items"]
                                if u["name"] in seen})
        # global admins see everything
        self.assertEqual({m["team"] for m in srv.ok("GET", "/api/v1/models")["items"]},
                         {"alpha", "beta"})
        self.assertEqual({t["name"] for t in srv.ok("GET", "/api/v1/teams")["items"]},
                         {"alpha", "beta", "gamma"})

        # the audit trail: entries of teams where one holds audit.read, and
        # one's own actions; nothing else
        scope, readers = MATRIX["audit.read"]
        self.assertEqual(scope, "SCOPE_TEAM")
        everything = srv.ok("GET", "/api/v1/audit?limit=1000")["items"]
        self.assertEqual({e["team"] for e in everything} - {None}, {"alpha", "beta", "gamma"})
        for actor in w.actors[1:]:
            got = srv.ok("GET", "/api/v1/audit?limit=1000", token=actor.token)["items"]
            may = {t for t, roles in actor.teams.items() if roles & readers}
            want = [e for e in everything if e["team"] in may or e["actor"] == actor.name]
            self.assertEqual([e["seq"] for e in got], [e["seq"] for e in want], actor)
            self.assertEqual(srv.ok("GET", "/api/v1/audit?team=alpha&limit=1000",
                                    token=actor.token)["items"],
                             [e for e in want if e["team"] == "alpha"], actor)

        # Artifacts are stored once for everyone, but a team may only use
        # bytes uploaded to it, and an upload does not tell whether another
        # team already has the same bytes.
        bm = "/api/v1/models/beta/bm"
        got = srv.http("POST", bm + "/versions", {"artifact_sha256": w.sha,
                                                  "format": "custom"},
                       token=outsider.token)
        self.assertError(got, 400, "invalid_argument", "not uploaded to team beta")
        self.assertIn(w.sha, got[1]["error"]["message"])
        out = srv.ok("POST", bm + "/artifacts", raw=ALPHA_BYTES, token=outsider.token,
                     content_type="application/octet-stream")
        self.assertEqual((out["sha256"], out["already_stored"]), (w.sha, False))
        out = srv.ok("POST", bm + "/artifacts", raw=ALPHA_BYTES, token=outsider.token,
                     content_type="application/octet-stream")
        self.assertEqual((out["sha256"], out["already_stored"]), (w.sha, True))
        srv.ok("POST", bm + "/versions", {"artifact_sha256": w.sha, "format": "custom"},
               token=outsider.token)
        verify = srv.ok("GET", "/api/v1/audit/verify")
        self.assertTrue(verify["ok"], verify)
