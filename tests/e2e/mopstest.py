"""Shared harness of the end-to-end tests: a real `mops server` on a free
loopback port with a fresh data directory, raw HTTP with urllib, and the real
CLI as a subprocess. Standard library only; run by /usr/bin/python3.

    class T(mopstest.TestCase):
        def test_x(self):
            srv = self.server()               # started, stopped at teardown
            st, body, hdrs = srv.http("GET", "/api/v1/whoami", token=srv.admin)
            out = srv.cli("model", "list", "--json", token=srv.admin)
"""
import glob
import json
import os
import re
import signal
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

MOPS_BIN = os.path.abspath(os.environ.get("MOPS_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "release", "mops"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "UndefinedBehaviorSanitizer")
# Sanitized builds are slower; give them more time everywhere.
SLOW = 4 if os.environ.get("MOPS_MODE") == "asan" else 1
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def routes():
    """The REST API as the server declares it: every entry of the route
    tables in src/http/routes_*.c, as dicts with method, pattern, action,
    body ("NONE", "JSON" or "STREAM"), public and file. Tests that must cover
    every endpoint compare their own tables with this, so a new route
    without tests fails them."""
    entry = re.compile(r'(?:\bROUTE\(|\{)\s*"([A-Z]+)"\s*,\s*((?:"[^"]*"|[A-Za-z_]\w*)'
                       r'(?:\s*(?:"[^"]*"|[A-Za-z_]\w*))*)\s*,\s*"([^"]*)"\s*,\s*'
                       r'HTTP_BODY_(NONE|JSON|STREAM)(?:\s*,\s*(\d+))?')
    out = []
    files = sorted(glob.glob(os.path.join(SRC, "http", "routes_*.c")))
    assert files, "no route tables under " + SRC
    for path in files:
        text = read(path, "r")
        strings = dict(re.findall(r'#define\s+(\w+)\s+"([^"]*)"', text))
        macro = re.search(r'#define\s+ROUTE\(([^)]*)\)\s*\{([^}]*)\}', text)
        macro_public = None
        if macro:
            params = [x.strip() for x in macro.group(1).split(",")]
            fields = [x.strip() for x in macro.group(2).split(",")]
            assert fields[:4] == params[:4], "%s: unexpected ROUTE macro" % path
            macro_public = fields[4] == "1"
        found = 0
        for m in entry.finditer(text):
            method, pexpr, action, body, public = m.groups()
            pattern = "".join(t[1:-1] if t.startswith('"') else strings[t]
                              for t in re.findall(r'"[^"]*"|\w+', pexpr))
            is_macro = m.group(0).startswith("ROUTE")
            out.append({"method": method, "pattern": pattern, "action": action, "body": body,
                        "public": macro_public if is_macro else public == "1",
                        "file": os.path.basename(path)})
            found += 1
        # Every route entry names its body kind once: a miss means the
        # table's shape changed and this parser must learn it.
        declared = len(re.findall(r"HTTP_BODY_(?:NONE|JSON|STREAM)\b", text))
        assert found == declared, "%s: parsed %d routes of %d" % (path, found, declared)
    return out


class ServerClosed(Exception):
    """The server hung up without answering."""


class Server:
    """One mops server process."""

    def __init__(self, data_dir, args=(), env=None):
        self.data_dir = data_dir
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.url = None
        self.stdout_text = ""
        self.stderr_path = os.path.join(data_dir + "-logs", "stderr")
        os.makedirs(os.path.dirname(self.stderr_path), exist_ok=True)

    def start(self, timeout=15):
        self.stderr_file = open(self.stderr_path, "ab")
        cmd = [MOPS_BIN, "server", "--data", self.data_dir, "--listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen(cmd + self.args, stdout=subprocess.PIPE,
                                     stderr=self.stderr_file, env=self.env, text=True)
        deadline = time.time() + timeout * SLOW
        lines = []
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on (http://[^ ]+)", line)
            if m:
                self.url = m.group(1)
                break
        self.stdout_text = "".join(lines)
        if not self.url:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not start: %s%s" % (self.stdout_text, self.stderr()))
        return self

    @property
    def admin(self):
        with open(os.path.join(self.data_dir, "admin-token")) as f:
            return f.read().strip()

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, check=True):
        """Stop the server; by default insist on a clean exit and a clean
        sanitizer report."""
        if not self.proc:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=30 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not stop on %s" % sig)
        finally:
            self.proc.stdout.close()
            self.stderr_file.close()
            self.proc = None
        err = self.stderr()
        if check:
            for marker in SANITIZER_MARKERS:
                if marker in err:
                    raise AssertionError("sanitizer report from the server:\n" + err)
            if sig == signal.SIGTERM and rc != 0:
                raise AssertionError("server exited with %d:\n%s" % (rc, err))
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.stderr_file.close()
        self.proc = None

    # ---------------------------------------------------------------- HTTP

    def http(self, method, path, body=None, token=None, headers=None, raw=None,
             content_type=None, timeout=30):
        """Returns (status, parsed JSON or raw bytes or None, headers dict)."""
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if content_type:
            hdrs["Content-Type"] = content_type
        if token:
            hdrs["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout * SLOW) as r:
                status, payload, rh = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, payload, rh = e.code, e.read(), dict(e.headers)
        ct = rh.get("Content-Type", "")
        if payload and ct.startswith("application/json"):
            payload = json.loads(payload)
        elif not payload:
            payload = None
        return status, payload, rh

    def ok(self, method, path, body=None, token=None, status=None, **kw):
        """http() that insists on success (or on the given status)."""
        st, out, _ = self.http(method, path, body=body, token=token or self.admin, **kw)
        want = status or (200, 201, 204)
        if (st not in want) if isinstance(want, tuple) else (st != want):
            raise AssertionError("%s %s -> %d %s" % (method, path, st, out))
        return out

    def request(self, method, path, body=None, token=None, headers=None, content_type=None,
                chunked=False, expect_continue=None, timeout=30):
        """HTTP/1.1 over a raw socket, for what urllib cannot send: the path
        exactly as given, chunked bodies (chunked=True, or body an iterable of
        byte strings) and Expect: 100-continue (the default with a body), so
        a refusal sent before the body is read, as servers do, arrives
        without a race against sending it. body may be bytes, or a dict or
        list sent as JSON. Returns (status, payload, headers) like http();
        raises ServerClosed when the server hangs up without an answer."""
        u = urllib.parse.urlsplit(self.url)
        hdrs = {"Host": u.netloc, "Connection": "close"}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, bytearray)):
            chunked = True
        if body is not None:
            if chunked:
                hdrs["Transfer-Encoding"] = "chunked"
            else:
                hdrs["Content-Length"] = str(len(body))
            if expect_continue is None or expect_continue:
                hdrs["Expect"] = "100-continue"
        hdrs.update(headers or {})
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        head += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
        sock = socket.create_connection((u.hostname, u.port), timeout=timeout * SLOW)
        try:
            f = sock.makefile("rb")
            try:
                sock.sendall(head.encode("latin-1"))
                if body is not None:
                    if "Expect" in hdrs:
                        got = _read_response(f)
                        if got[0] != 100:
                            return got
                    if chunked:
                        pieces = [body] if isinstance(body, (bytes, bytearray)) else body
                        for piece in pieces:
                            if piece:
                                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                        sock.sendall(b"0\r\n\r\n")
                    else:
                        sock.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading: its answer, if any, follows
            try:
                while True:
                    got = _read_response(f)
                    if got[0] != 100:
                        return got
            except ConnectionResetError as e:
                raise ServerClosed("the server reset the connection without an answer") from e
        finally:
            sock.close()

    def state(self):
        """Everything the API shows an administrator, for before/after
        comparisons: teams with members, users, every user's tokens, models
        and versions (archived too), datasets with their versions and suites,
        the audit chain length; plus the files in the artifact store. Fields
        that change by merely reading (last_used_at) or with the clock (a
        token's state) are left out."""
        q = urllib.parse.quote
        teams = self.ok("GET", "/api/v1/teams")["items"]
        users = self.ok("GET", "/api/v1/users")["items"]
        models = self.ok("GET", "/api/v1/models?archived=any&limit=1000")["items"]
        tokens = {}
        for u in users:
            items = self.ok("GET", "/api/v1/tokens?user=" + q(u["name"], safe=""))["items"]
            tokens[u["name"]] = [{k: v for k, v in t.items() if k not in ("last_used_at", "state")}
                                 for t in items]
        versions = {}
        for m in models:
            path = "/api/v1/models/%s/%s/versions?archived=any&limit=1000" % (
                q(m["team"], safe=""), q(m["name"], safe=""))
            versions[m["team"] + "/" + m["name"]] = self.ok("GET", path)["items"]
        datasets = self.ok("GET", "/api/v1/datasets?archived=any&limit=1000")["items"]
        dversions = {}
        for d in datasets:
            path = "/api/v1/datasets/%s/%s" % (q(d["team"], safe=""), q(d["name"], safe=""))
            dversions[d["team"] + "/" + d["name"]] = {
                "versions": self.ok("GET", path + "/versions?archived=any&limit=1000")["items"],
                "suite": self.ok("GET", path + "/suite")}
        verify = self.ok("GET", "/api/v1/audit/verify")
        assert verify["ok"], verify
        store = os.path.join(self.data_dir, "artifacts")
        files = sorted(os.path.relpath(os.path.join(d, n), store)
                       for d, _, names in os.walk(store) for n in names)
        return {"teams": [self.ok("GET", "/api/v1/teams/" + q(t["name"], safe="")) for t in teams],
                "users": users, "tokens": tokens, "models": models, "versions": versions,
                "datasets": datasets, "dataset_versions": dversions,
                "audit_entries": verify["entries"], "files": files}

    # ----------------------------------------------------------------- CLI

    def cli(self, *args, token=None, check=True, stdin=None, env=None, timeout=60):
        """Run the CLI against this server. Returns CompletedProcess."""
        e = dict(os.environ)
        e.update({"MOPS_URL": self.url, "XDG_CONFIG_HOME": self.data_dir + "-cfg"})
        if token:
            e["MOPS_TOKEN"] = token
        else:
            e.pop("MOPS_TOKEN", None)
        e.update(env or {})
        p = subprocess.run([MOPS_BIN] + list(args), env=e, input=stdin, capture_output=True,
                           text=True, timeout=timeout * SLOW)
        for marker in SANITIZER_MARKERS:
            if marker in p.stderr:
                raise AssertionError("sanitizer report from the CLI:\n" + p.stderr)
        if check and p.returncode != 0:
            raise AssertionError("mops %s -> %d\nstdout: %s\nstderr: %s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def cli_json(self, *args, token=None):
        return json.loads(self.cli(*args, "--json", token=token or self.admin).stdout)

    # ------------------------------------------------------------ fixtures

    def user(self, name, team=None, roles=(), admin=False):
        """Create a user (optionally with roles in a team) and return a token."""
        self.ok("POST", "/api/v1/users", {"name": name, "admin": admin})
        if team and roles:
            self.ok("PUT", "/api/v1/teams/%s/members/%s" % (team, name), {"roles": list(roles)})
        out = self.ok("POST", "/api/v1/tokens", {"name": "test", "user": name})
        return out["token"]

    def promote(self, team, model, version, to="production", token=None):
        """Take a version through review to `to` (staging or production), as
        deployments need: production takes primary traffic, staging canary
        and shadow traffic (docs/governance.md). The approval comes from a
        second administrator, never the author; returns the version's path."""
        if not getattr(self, "_approver", None):
            self._approver = self.user("approver-%d" % os.getpid(), admin=True)
        path = "/api/v1/models/%s/%s/versions/%s" % (team, model, version)
        self.ok("POST", path + "/reviews", {}, token=token)
        self.ok("POST", path + "/approvals", {}, token=self._approver)
        for stage in ("staging", "production")[:2 if to == "production" else 1]:
            self.ok("POST", path + "/transitions", {"to": stage, "reason": "test"}, token=token)
        return path

    def team(self, name):
        return self.ok("POST", "/api/v1/teams", {"name": name})

    def upload(self, team, model, data, token=None):
        out = self.ok("POST", "/api/v1/models/%s/%s/artifacts" % (team, model), raw=data,
                      content_type="application/octet-stream", token=token)
        return out["sha256"]

    def version(self, team, model, data=b"model-bytes", token=None, stage=None, **spec):
        """Register a version (uploading data); with stage ("staging" or
        "production"), take it there too (promote)."""
        sha = self.upload(team, model, data, token=token)
        # A format mops stores but does not execute: placeholder bytes are
        # fine. (Formats the runtime executes are loaded on registration.)
        spec.setdefault("format", "custom")
        spec["artifact_sha256"] = sha
        out = self.ok("POST", "/api/v1/models/%s/%s/versions" % (team, model), spec, token=token)
        if stage:
            self.promote(team, model, out["version"], to=stage, token=token)
        return out


def on_terminal(args, env, timeout=120):
    """Run args with stderr on a pseudo-terminal (progress bars show only
    there); returns (exit status, what it wrote to stderr)."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=timeout * SLOW), out.decode(errors="replace")


def _read_response(f):
    """One HTTP response from a socket file: (status, payload, headers)."""
    line = f.readline()
    if not line:
        raise ServerClosed("the server closed the connection without an answer")
    status = int(line.split()[1])
    hdrs = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        hdrs[k.strip()] = v.strip()
    if status == 100:
        return status, None, hdrs
    n = {k.lower(): v for k, v in hdrs.items()}.get("content-length")
    payload = f.read(int(n)) if n is not None else f.read()
    if payload and hdrs.get("Content-Type", "").startswith("application/json"):
        payload = json.loads(payload)
    elif not payload:
        payload = None
    return status, payload, hdrs


class TestCase(unittest.TestCase):
    """Gives each test fresh data directories and stops its servers."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mops-e2e-")
        self.servers = []

    def tearDown(self):
        try:
            for s in self.servers:
                s.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, args=(), env=None, data_dir=None):
        d = data_dir or os.path.join(self.tmp, "data%d" % len(self.servers))
        s = Server(d, args, env).start()
        self.servers.append(s)
        return s

    def assertError(self, result, status, code=None, says=None):
        """result is http()'s tuple: check status, error code and that the
        message mentions `says`. The Open Inference Protocol's endpoints
        (/v2) answer {"error": "message"}: their code is the status's."""
        st, body, _ = result
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIn("error", body)
        if isinstance(body["error"], str):
            if code:
                self.assertIn(code, OIP_CODES.get(status, ()), body)
            if says:
                self.assertIn(says, body["error"], body)
            return body["error"]
        if code:
            self.assertEqual(body["error"]["code"], code, body)
        if says:
            self.assertIn(says, body["error"]["message"], body)
        return body["error"]["message"]


# The codes an error of each status may have, for answers in the Open
# Inference Protocol's shape, which carry none.
OIP_CODES = {400: ("invalid_argument",), 401: ("unauthenticated",), 403: ("forbidden",),
             404: ("not_found",), 405: ("method_not_allowed",),
             409: ("conflict", "failed_precondition"), 413: ("too_large",),
             415: ("unsupported_media_type",), 503: ("unavailable",)}


def error_message(body):
    """The message of an error answer in either shape."""
    err = body["error"]
    return err if isinstance(err, str) else err["message"]
