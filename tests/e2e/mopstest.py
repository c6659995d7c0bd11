"""Shared harness of the end-to-end tests: a real `mops server` on a free
loopback port with a fresh data directory, raw HTTP with urllib, and the real
CLI as a subprocess. Standard library only; run by /usr/bin/python3.

    class T(mopstest.TestCase):
        def test_x(self):
            srv = self.server()               # started, stopped at teardown
            st, body, hdrs = srv.http("GET", "/api/v1/whoami", token=srv.admin)
            out = srv.cli("model", "list", "--json", token=srv.admin)
"""
import json
import os
import re
import signal
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

MOPS_BIN = os.path.abspath(os.environ.get("MOPS_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "release", "mops"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "UndefinedBehaviorSanitizer")
# Sanitized builds are slower; give them more time everywhere.
SLOW = 4 if os.environ.get("MOPS_MODE") == "asan" else 1


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


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

    def team(self, name):
        return self.ok("POST", "/api/v1/teams", {"name": name})

    def upload(self, team, model, data, token=None):
        out = self.ok("POST", "/api/v1/models/%s/%s/artifacts" % (team, model), raw=data,
                      content_type="application/octet-stream", token=token)
        return out["sha256"]

    def version(self, team, model, data=b"model-bytes", token=None, **spec):
        sha = self.upload(team, model, data, token=token)
        spec.setdefault("format", "xgboost-json")
        spec["artifact_sha256"] = sha
        return self.ok("POST", "/api/v1/models/%s/%s/versions" % (team, model), spec, token=token)


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
        message mentions `says`."""
        st, body, _ = result
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIn("error", body)
        if code:
            self.assertEqual(body["error"]["code"], code, body)
        if says:
            self.assertIn(says, body["error"]["message"], body)
        return body["error"]["message"]
