"""The server process: configuration precedence (flag > MOPS_* environment
> config file > default) and clear refusals of bad settings, one server per
data directory, the administrator bootstrapped once, graceful stop with a
request in flight, and the same API on PostgreSQL."""
import http.client
import os
import signal
import subprocess
import threading
import time
import unittest
import urllib.parse

import mopstest


def body_of(size):
    # A JSON object of about `size` bytes.
    return {"name": "t", "description": "x" * (size - 40)}


class Config(mopstest.TestCase):
    def test_precedence(self):
        conf = os.path.join(self.tmp, "mops.conf")
        with open(conf, "w") as f:
            f.write("# limits\nmax_body = 2KiB\n\naccess_log = off\n")
        env = {"MOPS_CONFIG": conf}

        def limit_seen(srv):
            # The largest of 3, 5, 7 KiB bodies the server accepts (413 above).
            ok = 0
            for kib in (3, 5, 7):
                st, out, _ = srv.http("POST", "/api/v1/teams", body_of(kib * 1024),
                                      token=srv.admin)
                if st == 413:
                    self.assertIn("limit", out["error"]["message"])
                    break
                ok = kib
            return ok

        file_only = self.server(env=env)
        self.assertEqual(limit_seen(file_only), 0)
        self.assertFalse(os.path.exists(os.path.join(file_only.data_dir, "access.log")))
        env_over_file = self.server(env=dict(env, MOPS_MAX_BODY="6KiB"))
        self.assertEqual(limit_seen(env_over_file), 5)
        flag_over_env = self.server(args=["--max-body", "8KiB"],
                                    env=dict(env, MOPS_MAX_BODY="6KiB"))
        self.assertEqual(limit_seen(flag_over_env), 7)

    def run_server(self, *args, env=None, timeout=20):
        e = dict(os.environ, **(env or {}))
        return subprocess.run([mopstest.MOPS_BIN, "server"] + list(args), capture_output=True,
                              text=True, env=e, timeout=timeout * mopstest.SLOW)

    def test_bad_settings_are_named(self):
        data = os.path.join(self.tmp, "d")
        cases = [
            (["--max-body", "lots"], None, "max_body \"lots\" (from the command line)"),
            (["--threads", "0"], None, "threads"),
            ([], {"MOPS_MAX_UPLOAD": "-1"}, "max_upload \"-1\" (from MOPS_MAX_UPLOAD)"),
            (["--listen", "nowhere"], None, "listen address \"nowhere\""),
            (["--bogus"], None, "unknown option --bogus"),
            (["--log-level", "loud"], None, "log level \"loud\""),
            (["--db", "postgresql:///none?host=/nonexistent&port=1"], None,
             "cannot connect to PostgreSQL"),
        ]
        for args, env, says in cases:
            p = self.run_server("--data", data, *args, env=env)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(says, p.stderr, args)
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("listen = 127.0.0.1:0\ncolour = blue\n")
        p = self.run_server("--data", data, "--config", conf)
        self.assertEqual(p.returncode, 2)
        self.assertIn("line 2: unknown key 'colour'", p.stderr)
        p = self.run_server("--config", os.path.join(self.tmp, "missing.conf"))
        self.assertIn("missing.conf", p.stderr)
        p = self.run_server("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("--max-upload", p.stdout)

    def test_one_server_per_data_dir(self):
        srv = self.server()
        p = self.run_server("--data", srv.data_dir, "--listen", "127.0.0.1:0")
        self.assertEqual(p.returncode, 1)
        self.assertIn("another mops server is already running", p.stderr)

    def test_port_in_use_is_refused(self):
        srv = self.server()
        port = srv.url.rsplit(":", 1)[1]
        other = os.path.join(self.tmp, "other")
        p = self.run_server("--data", other, "--listen", "127.0.0.1:" + port)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen on 127.0.0.1:" + port, p.stderr)

    def test_admin_bootstrapped_once(self):
        srv = self.server()
        self.assertIn("created the administrator 'admin'", srv.stdout_text)
        token = srv.admin
        self.assertIn(token, srv.stdout_text)
        path = os.path.join(srv.data_dir, "admin-token")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(srv.data_dir).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(srv.data_dir, "mops.db")).st_mode & 0o777, 0o600)
        srv.stop()
        self.servers.remove(srv)
        again = self.server(data_dir=srv.data_dir)
        self.assertNotIn("created the administrator", again.stdout_text)
        self.assertEqual(again.admin, token)
        self.assertEqual(again.ok("GET", "/api/v1/whoami")["name"], "admin")

    def test_request_ids(self):
        # Generated ids are 24 hex digits, distinct, and sort by time (the
        # prediction log's index of them grows at its end); a client's own
        # id is kept.
        srv = self.server()
        ids = []
        for i in range(40):
            st, _, hdrs = srv.http("GET", "/api/v1/whoami", token=srv.admin)
            self.assertEqual(st, 200)
            ids.append(hdrs["X-Request-Id"])
            if i % 10 == 9:
                time.sleep(0.01)
        for rid in ids:
            self.assertRegex(rid, r"^[0-9a-f]{24}$")
        self.assertEqual(len(set(ids)), len(ids))
        for a, b in zip(ids[9::10], ids[10::10]):
            self.assertLess(a, b)
        st, _, hdrs = srv.http("GET", "/api/v1/whoami", token=srv.admin,
                               headers={"X-Request-Id": "mine-1"})
        self.assertEqual(hdrs["X-Request-Id"], "mine-1")


class Shutdown(mopstest.TestCase):
    def test_sigterm_finishes_request_in_flight(self):
        srv = self.server()
        srv.team("t")
        srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        u = urllib.parse.urlparse(srv.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30 * mopstest.SLOW)
        chunk, chunks = b"z" * 65536, 20
        conn.putrequest("POST", "/api/v1/models/t/m/artifacts")
        conn.putheader("Authorization", "Bearer " + srv.admin)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(len(chunk) * chunks))
        conn.endheaders()
        for i in range(chunks):
            conn.send(chunk)
            if i == chunks // 2:
                srv.proc.send_signal(signal.SIGTERM)  # mid-upload
            time.sleep(0.02)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 201, resp.read())
        resp.read()
        conn.close()
        rc = srv.proc.wait(timeout=30 * mopstest.SLOW)
        self.assertEqual(rc, 0)
        srv.proc.send_signal = lambda s: None  # already stopped; let stop() collect it
        srv.proc.wait = lambda timeout=None: rc
        self.assertIn("finishing in-flight requests", srv.stderr())


@unittest.skipUnless(os.environ.get("MOPS_TEST_PG_URI") or os.environ.get("MOPS_TEST_REQUIRE_PG"),
                     "no test PostgreSQL (run under tests/with-pg.sh)")
class Postgres(mopstest.TestCase):
    def fresh_db(self):
        admin = os.environ["MOPS_TEST_PG_URI"]
        name = "e2e_%d_%d" % (os.getpid(), int(time.time() * 1000) % 10 ** 9)
        subprocess.run(["psql", admin, "-q", "-c", "CREATE DATABASE " + name], check=True,
                       capture_output=True)
        return admin.replace("postgresql:///postgres", "postgresql:///" + name)

    def test_registry_on_postgres_with_two_servers(self):
        uri = self.fresh_db()
        a = self.server(args=["--db", uri])
        self.assertIn("store PostgreSQL", a.stdout_text)
        a.team("t")
        a.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        for i in range(3):
            self.assertEqual(a.version("t", "m", data=b"v%d" % i)["version"], i + 1)
        # A second, stateless server on the same database sees the same
        # registry and the same users (the admin was bootstrapped once).
        b = self.server(args=["--db", uri])
        self.assertNotIn("created the administrator", b.stdout_text)
        token = a.admin
        st, out, _ = b.http("GET", "/api/v1/models/t/m", token=token)
        self.assertEqual((st, out["versions"]), (200, 3))
        st, out, _ = b.http("PATCH", "/api/v1/models/t/m", {"description": "from b"}, token=token)
        self.assertEqual(st, 200)
        self.assertEqual(a.ok("GET", "/api/v1/models/t/m", token=token)["description"], "from b")
        # Writes from both servers share one audit chain.
        verdict = b.ok("GET", "/api/v1/audit/verify", token=token)
        self.assertTrue(verdict["ok"], verdict)
