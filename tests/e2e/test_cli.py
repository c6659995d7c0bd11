"""The command line as a user meets it: --help on every command and
subcommand, exit status 0 / 1 (failure, message on stderr) / 2 (usage),
--json on every read, login from standard input, and a progress bar on
long transfers only when stderr is a terminal."""
import json
import os
import re
import subprocess

import mopstest


def run(*args, env=None, stdin=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([mopstest.MOPS_BIN] + list(args), capture_output=True, text=True,
                          env=e, input=stdin, timeout=30 * mopstest.SLOW)


def commands():
    """(command, [subcommands]) as the CLI itself lists them."""
    top = run("--help").stdout
    names = re.findall(r"^  ([a-z]+) ", top.split("commands:")[1], re.M)
    found = []
    for n in names:
        out = run(n, "--help").stdout
        subs = re.findall(r"^  ([a-z-]+) ", out.split("commands:")[1], re.M) \
            if "commands:" in out else []
        found.append((n, subs))
    return found


class Help(mopstest.TestCase):
    def test_help_everywhere(self):
        cmds = commands()
        self.assertGreaterEqual(len(cmds), 9)
        names = [c for c, _ in cmds]
        for want in ("server", "login", "team", "user", "token", "model", "version", "audit"):
            self.assertIn(want, names)
        for cmd, subs in cmds:
            p = run(cmd, "--help")
            self.assertEqual(p.returncode, 0, cmd)
            self.assertIn("usage: mops " + cmd, p.stdout)
            for sub in subs:
                for flag in ("--help", "-h"):
                    p = run(cmd, sub, flag)
                    self.assertEqual(p.returncode, 0, (cmd, sub, p.stderr))
                    self.assertIn("usage: mops %s %s" % (cmd, sub), p.stdout)
        self.assertEqual(dict(cmds)["model"], ["create", "list", "show", "update", "archive"])
        self.assertEqual(dict(cmds)["version"],
                         ["upload", "list", "show", "download", "alias", "update", "archive",
                          "transition", "promote", "retire", "history"])
        self.assertEqual(dict(cmds)["audit"], ["list", "verify"])
        self.assertEqual(dict(cmds)["review"], ["request", "approve", "reject", "list", "due"])
        self.assertEqual(dict(cmds)["policy"],
                         ["create", "update", "list", "show", "check", "archive"])
        self.assertEqual(dict(cmds)["card"], ["show", "edit"])
        self.assertEqual(dict(cmds)["webhook"],
                         ["create", "list", "show", "update", "delete", "ping", "deliveries"])
        for single in ("validate", "report"):  # commands without subcommands
            self.assertEqual(dict(cmds)[single], [])
        p = run("--version")
        self.assertRegex(p.stdout, r"^mops \d+\.\d+\.\d+")

    def test_usage_errors_exit_2(self):
        for args in (["frobnicate"], ["model"], ["model", "frob"], ["model", "list", "--frob"],
                     ["model", "show"], ["model", "show", "no-slash"], ["version", "upload",
                     "t/m"], ["token", "create"], ["team", "add-member", "t", "u"],
                     ["validate", "t/m", "1"], ["validate", "t/m", "1", "--data", "x.csv"],
                     ["report"], ["report", "--all", "t/m"], ["report", "t/m", "--html", "--json"],
                     ["version", "transition", "t/m", "1", "staging"],
                     ["version", "retire", "t/m", "1"], ["review", "reject", "t/m", "1"],
                     ["policy", "check", "t/m"], ["policy", "show", "noslash"],
                     ["card", "edit", "t/m", "1"], ["card", "show", "t/m", "1", "--format", "pdf"],
                     ["webhook", "create", "t", "h"]):
            p = run(*args, env={"MOPS_URL": "http://127.0.0.1:9"})
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertTrue(p.stderr.strip(), args)
            self.assertEqual(p.stdout, "", args)

    def test_unreachable_server(self):
        p = run("model", "list", env={"MOPS_URL": "http://127.0.0.1:9", "MOPS_TOKEN": "x"})
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot reach the mops server at http://127.0.0.1:9", p.stderr)


class Reads(mopstest.TestCase):
    def test_every_read_has_json(self):
        srv = self.server()
        srv.team("t")
        srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        srv.version("t", "m")
        srv.ok("POST", "/api/v1/policies", {"source": "name: p\nteam: t\nrules:\n"
                                                      "  - rule: freshness\n    max_age_days: 9\n"})
        srv.ok("POST", "/api/v1/teams/t/webhooks", {"name": "h", "url": "http://127.0.0.1:9/",
                                                    "enabled": False})
        reads = [["whoami"], ["team", "list"], ["team", "show", "t"], ["user", "list"],
                 ["user", "show", "admin"], ["token", "list"], ["model", "list"],
                 ["model", "show", "t/m"], ["version", "list", "t/m"],
                 ["version", "show", "t/m", "1"], ["audit", "list"], ["audit", "verify"],
                 ["version", "history", "t/m", "1"], ["review", "list", "t/m", "1"],
                 ["review", "due"], ["policy", "list"], ["policy", "show", "t/p"],
                 ["policy", "check", "t/m", "1"], ["validate", "t/m", "1", "--list"],
                 ["report", "t/m"], ["webhook", "list", "t"], ["webhook", "show", "t", "h"],
                 ["webhook", "deliveries", "t"]]
        for args in reads:
            p = srv.cli(*args, "--json", token=srv.admin)
            json.loads(p.stdout)  # parses
            table = srv.cli(*args, token=srv.admin).stdout
            self.assertTrue(table.strip(), args)
            self.assertRaises(ValueError, json.loads, table)  # people get text

    def test_failures_go_to_stderr_with_status_1(self):
        srv = self.server()
        p = srv.cli("model", "show", "t/none", token=srv.admin, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertIn('no team named "t"', p.stderr)
        self.assertIn("HTTP 404", p.stderr)
        p = srv.cli("team", "list", check=False)  # no token at all
        self.assertEqual(p.returncode, 1)
        self.assertIn("mops login", p.stderr)


class Login(mopstest.TestCase):
    def test_login_from_stdin_and_bad_token(self):
        srv = self.server()
        env = {"MOPS_URL": ""}
        p = srv.cli("login", srv.url, stdin=srv.admin + "\n", env=env)
        self.assertIn("as admin", p.stdout)
        cred = os.path.join(srv.data_dir + "-cfg", "mops", "credentials")
        self.assertEqual(os.stat(cred).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.dirname(cred)).st_mode & 0o777, 0o700)
        with open(cred) as f:
            self.assertIn(srv.admin, f.read())
        # The saved credentials are used when MOPS_URL/MOPS_TOKEN are absent.
        p = subprocess.run([mopstest.MOPS_BIN, "whoami"], capture_output=True, text=True,
                           env={k: v for k, v in dict(os.environ, XDG_CONFIG_HOME=srv.data_dir +
                                                      "-cfg").items()
                                if k not in ("MOPS_URL", "MOPS_TOKEN")})
        self.assertIn("admin", p.stdout, p.stderr)
        # A wrong token is refused and nothing is saved over the good one.
        p = srv.cli("login", srv.url, stdin="mops_" + "0" * 64 + "\n", check=False, env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("unknown API token", p.stderr)
        with open(cred) as f:
            self.assertIn(srv.admin, f.read())


class Progress(mopstest.TestCase):
    def _run(self, srv, args, tty):
        e = dict(os.environ, MOPS_URL=srv.url, MOPS_TOKEN=srv.admin)
        args = [mopstest.MOPS_BIN] + args
        if not tty:
            p = subprocess.run(args, env=e, capture_output=True, text=True)
            return p.returncode, p.stderr
        return mopstest.on_terminal(args, e)

    def test_progress_bar_only_on_a_terminal(self):
        srv = self.server()
        srv.team("t")
        srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        path = os.path.join(self.tmp, "big.onnx")
        with open(path, "wb") as f:
            f.write(os.urandom(8 << 20))
        upload = ["version", "upload", "t/m", path, "--format", "onnx"]
        rc, err = self._run(srv, upload, tty=True)
        self.assertEqual(rc, 0, err)
        self.assertIn("uploading", err)
        self.assertIn("100%", err)
        self.assertIn("8.0 MiB", err)
        rc, err = self._run(srv, upload, tty=False)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("uploading", err)
        download = ["version", "download", "t/m", "1", "-o", os.path.join(self.tmp, "dl")]
        rc, err = self._run(srv, download, tty=True)
        self.assertEqual(rc, 0, err)
        self.assertIn("downloading", err)
        self.assertIn("100%", err)
        rc, err = self._run(srv, download, tty=False)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("downloading", err)
        self.assertEqual(mopstest.read(os.path.join(self.tmp, "dl")), mopstest.read(path))
