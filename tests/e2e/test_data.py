"""Datasets end to end, through the real CLI and HTTP: registering CSV files
(schema, profile, PII found on real-looking customer data), versions and
their schema changes, samples and downloads by role with their audit
entries, and every kind of bad file the issue names refused with its line,
leaving nothing behind."""
import csv
import hashlib
import io
import json
import os
import random
import socket
import time
import urllib.parse

import mopstest

FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jon"]
LAST = ["Lee", "Ray", "Müller", "Ng", "Okafor", "Silva", "Tanaka", "Weiss", "Young", "Zhou"]


def luhn_complete(prefix, length):
    """A card number of `length` digits starting with prefix, passing Luhn."""
    rng = random.Random(prefix + str(length))
    digits = [int(c) for c in prefix] + [rng.randrange(10) for _ in range(length - len(prefix) - 1)]
    for check in range(10):
        ds = digits + [check]
        total = 0
        for i, d in enumerate(reversed(ds)):
            if i % 2:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        if total % 10 == 0:
            return "".join(map(str, ds))
    raise AssertionError("unreachable")


def customers(n, seed=1):
    """Rows of a CRM export: personal data in some columns, none in others."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        card = luhn_complete(rng.choice(["4", "51", "37"]), 16)
        rows.append({
            "customer_id": 100000 + i,
            "full_name": "%s %s" % (first, last),
            "email": "%s.%s%d@example.com" % (first.lower(), last.lower(), i),
            "phone": "+1 %03d %03d %04d" % (rng.randrange(200, 999), rng.randrange(100, 999),
                                            rng.randrange(10000)),
            "card_number": " ".join(card[k:k + 4] for k in range(0, 16, 4)),
            "ssn": "%03d-%02d-%04d" % (rng.randrange(1, 665), rng.randrange(1, 99),
                                       rng.randrange(1, 9999)),
            "signup": "2024-%02d-%02d" % (rng.randrange(1, 13), rng.randrange(1, 29)),
            "plan": rng.choice(["free", "pro", "team"]),
            "monthly_spend": "%.2f" % rng.lognormvariate(3, 0.7),
            "last_ip": "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            "zip": "%05d" % rng.randrange(100000),
            "churned": rng.choice(["true", "false"]),
        })
    return rows


def to_csv(rows):
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode()


OCTET = "application/octet-stream"


class Datasets(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.srv.team("crm")
        self.tokens = {r: self.srv.user("u-" + r, "crm", [r])
                       for r in ("data-scientist", "ml-engineer", "risk-officer", "viewer")}

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def cli(self, *args, role=None, check=True):
        token = self.tokens[role] if role else self.srv.admin
        return self.srv.cli(*args, token=token, check=check)

    def test_register_profile_pii_and_downloads(self):
        srv = self.srv
        rows = customers(400)
        path = self.write("customers.csv", to_csv(rows))
        p = self.cli("data", "register", "crm/customers", path, "-d", "March export",
                     "--source-uri", "s3://crm/exports/2024-03.csv", "--column-tag",
                     "zip=internal", role="data-scientist")
        out = p.stdout
        self.assertIn("registered dataset:crm/customers@1", out)
        self.assertIn("400 rows, 12 columns", out)
        self.assertIn("personal data found", out)
        v = srv.ok("GET", "/api/v1/datasets/crm/customers/versions/1")
        types = {c["name"]: c["type"] for c in v["schema"]["columns"]}
        self.assertEqual(types, {"customer_id": "integer", "full_name": "string",
                                 "email": "string", "phone": "string", "card_number": "string",
                                 "ssn": "string", "signup": "timestamp", "plan": "string",
                                 "monthly_spend": "float", "last_ip": "string",
                                 "zip": "integer", "churned": "boolean"})
        tags = {c: [t["tag"] for t in ts] for c, ts in v["column_tags"].items()}
        self.assertEqual(tags, {"full_name": ["pii:name"], "email": ["pii:email"],
                                "phone": ["pii:phone"], "card_number": ["pii:card"],
                                "ssn": ["pii:id"], "zip": ["internal"]})
        self.assertEqual(sorted(v["pii_columns"]), ["card_number", "email", "full_name", "phone",
                                                    "ssn"])
        self.assertEqual(v["source_uri"], "s3://crm/exports/2024-03.csv")
        # the profile: exact where it can be, masked where it holds PII
        prof = srv.ok("GET", "/api/v1/datasets/crm/customers/versions/1/profile",
                      token=self.tokens["viewer"])
        cols = {c["name"]: c for c in prof["columns"]}
        spend = [float(r["monthly_spend"]) for r in rows]
        self.assertEqual(cols["monthly_spend"]["min"], min(spend))
        self.assertEqual(cols["monthly_spend"]["max"], max(spend))
        self.assertAlmostEqual(cols["monthly_spend"]["mean"], sum(spend) / len(spend), places=9)
        self.assertEqual(cols["plan"]["distinct"]["estimate"], 3)
        self.assertEqual(sum(t["count"] for t in cols["plan"]["top"]), 400)
        self.assertEqual(cols["churned"]["true"] + cols["churned"]["false"], 400)
        self.assertTrue(cols["email"]["redacted"])
        self.assertNotIn("top", cols["email"])
        self.assertIn("top", srv.ok("GET", "/api/v1/datasets/crm/customers/versions/1/profile",
                                    token=self.tokens["data-scientist"])["columns"][2])
        # people read it as a table
        p = self.cli("data", "profile", "crm/customers", "1", role="viewer")
        self.assertIn("monthly_spend", p.stdout)
        self.assertIn("(PII: not shown)", p.stdout)

        # samples: masked unless the role may see PII, and then audited
        s = srv.ok("GET", "/api/v1/datasets/crm/customers/versions/1/sample?rows=3",
                   token=self.tokens["ml-engineer"])
        self.assertEqual(len(s["rows"]), 3)
        self.assertEqual(s["rows"][0][2], "***")
        self.assertEqual(s["rows"][0][0], str(rows[0]["customer_id"]))
        s = srv.ok("GET", "/api/v1/datasets/crm/customers/versions/1/sample?rows=2",
                   token=self.tokens["data-scientist"])
        self.assertEqual(s["rows"][1][2], rows[1]["email"])
        p = self.cli("data", "sample", "crm/customers", "1", "--rows", "2", role="ml-engineer")
        self.assertIn("(masked: ", p.stdout)

        # downloads: the matrix decides; every download is audited
        dl = os.path.join(self.tmp, "dl.csv")
        p = self.cli("data", "download", "crm/customers", "1", "-o", dl, role="ml-engineer",
                     check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("dataset.download_pii", p.stderr)
        self.assertIn("has PII columns", p.stderr)
        self.assertFalse(os.path.exists(dl))
        p = self.cli("data", "download", "crm/customers", "1", "-o", dl, role="risk-officer")
        self.assertIn("verified", p.stdout)
        self.assertEqual(mopstest.read(dl), mopstest.read(path))
        st, _, hdrs = srv.http("GET", "/api/v1/datasets/crm/customers/versions/1/data",
                               token=self.tokens["viewer"])
        self.assertEqual(st, 403)
        audit = srv.ok("GET", "/api/v1/audit?action=dataset.download&limit=100")["items"]
        ok = [e for e in audit if e["outcome"] == "ok"]
        self.assertEqual([e["actor"] for e in ok], ["u-risk-officer"])
        self.assertEqual(ok[0]["target"], "crm/customers@1")
        self.assertEqual(ok[0]["detail"]["sha256"], hashlib.sha256(mopstest.read(path)).hexdigest())
        self.assertEqual(len(ok[0]["detail"]["pii_columns"]), 5)
        denied = [e for e in audit if e["outcome"] == "denied"]
        self.assertEqual(sorted(e["actor"] for e in denied), ["u-ml-engineer", "u-viewer"])
        self.assertTrue(any(e["action"] == "dataset.sample" and e["actor"] == "u-data-scientist"
                            for e in srv.ok("GET", "/api/v1/audit?action=dataset.sample")["items"]))

        # the PII tags: a risk officer takes a wrong one off, a data scientist may not
        p = self.cli("data", "tags", "crm/customers", "1", "phone=", role="data-scientist",
                     check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("dataset.classify", p.stderr)
        for col in ("phone", "card_number", "ssn", "full_name", "email"):
            self.cli("data", "tags", "crm/customers", "1", col + "=", role="risk-officer")
        # no PII left: the ML engineer may download now, and it is audited too
        self.cli("data", "download", "crm/customers", "1", "-o", dl, role="ml-engineer")
        self.assertEqual(len([e for e in srv.ok("GET", "/api/v1/audit?action=dataset.download")
                              ["items"] if e["outcome"] == "ok"]), 2)
        tags = json.loads(self.cli("data", "tags", "crm/customers", "1", "--json").stdout)
        self.assertEqual(list(tags), ["zip"])

        # version 2: schema changes listed; tags of kept columns kept
        rows2 = [dict(r, zip="Z" + r["zip"]) for r in customers(50, seed=2)]
        for r in rows2:
            del r["last_ip"]
            r["segment"] = "b2c"
        self.cli("data", "tags", "crm/customers", "1", "email=pii:email")
        p = self.cli("data", "register", "crm/customers", self.write("c2.csv", to_csv(rows2)))
        self.assertIn("added        segment (string)", p.stdout)
        self.assertIn("removed      last_ip (string)", p.stdout)
        self.assertIn("retyped      zip: integer -> string", p.stdout)
        d = json.loads(self.cli("data", "diff", "crm/customers", "1", "2", "--json").stdout)
        self.assertEqual([c["name"] for c in d["added"]], ["segment"])
        self.assertEqual(d["rows"], {"from": 400, "to": 50})
        v2 = srv.ok("GET", "/api/v1/datasets/crm/customers/versions/2")
        self.assertEqual(v2["column_tags"]["email"][0]["state"], "confirmed")
        self.assertEqual(v2["column_tags"]["zip"][0]["tag"], "internal")
        # approving the use of a PII column is a classifier's call
        p = self.cli("data", "tags", "crm/customers", "2", "email=pii:email", "--approve",
                     role="data-scientist", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("dataset.classify", p.stderr)
        self.cli("data", "tags", "crm/customers", "2", "email=pii:email", "--approve",
                 role="risk-officer")
        v2 = srv.ok("GET", "/api/v1/datasets/crm/customers/versions/2")
        self.assertEqual(v2["approved_pii_columns"], ["email"])
        self.assertEqual(v2["column_tags"]["email"][0]["state"], "approved")
        # reads have --json and tables
        for args in (["data", "list"], ["data", "show", "crm/customers"],
                     ["data", "show", "crm/customers", "2"], ["data", "versions", "crm/customers"],
                     ["data", "profile", "crm/customers", "2"],
                     ["data", "sample", "crm/customers", "2"],
                     ["data", "tags", "crm/customers", "2"]):
            json.loads(self.cli(*args, "--json").stdout)
            self.assertTrue(self.cli(*args).stdout.strip(), args)
        # identical bytes are one file
        p = self.cli("data", "register", "crm/customers", path, "--json")
        self.assertEqual(json.loads(p.stdout)["sha256"], v["sha256"])
        store = os.path.join(srv.data_dir, "artifacts", "sha256")
        files = [n for _, _, ns in os.walk(store) for n in ns]
        self.assertEqual(len([f for f in files if v["sha256"][2:] == f]), 1)
        verify = srv.ok("GET", "/api/v1/audit/verify")
        self.assertTrue(verify["ok"], verify)

    def test_bad_files(self):
        """Each bad file the issue names: 400 with the line at fault, from
        the API and the CLI, and nothing registered, stored or left over."""
        srv = self.srv
        srv.ok("POST", "/api/v1/datasets", {"team": "crm", "name": "d"})
        up = "/api/v1/datasets/crm/d/uploads"
        cases = [
            ("ragged rows", b"id,name\n1,Ann\n2,Bob,extra\n3,Cy\n",
             "line 3: 3 fields where the header has 2"),
            ("bad quoting", b"id,name\n1,Ann\n2,Bo\"b\n", "line 3: malformed quoting"),
            ("unclosed quote", b"id,name\n1,Ann\n2,\"Bob\n3,Cy\n",
             "line 3: a quoted field is not closed"),
            ("invalid UTF-8", b"id,name\n1,Ann\n2,B\xe9b\n",
             "line 3: the value of column \"name\" is not valid UTF-8"),
            ("empty file", b"", "is empty: a dataset file needs a header row"),
            ("duplicate header names", b"id,name,id\n1,Ann,2\n",
             "line 1: columns 1 and 3 have the same name \"id\""),
        ]
        base = srv.state()
        for name, data, says in cases:
            got = srv.request("POST", up, body=data, content_type=OCTET, token=srv.admin)
            self.assertEqual(got[0], 400, (name, got[1]))
            self.assertIn(says, got[1]["error"]["message"], name)
            path = self.write(name.replace(" ", "-") + ".csv", data)
            p = self.cli("data", "register", "crm/d", path, check=False)
            self.assertEqual(p.returncode, 1, name)
            self.assertIn(path + (", " if "empty" not in name else " "), p.stderr)
            self.assertIn(says, p.stderr, name)
        # a field of a gigabyte, streamed in chunks: refused at the field
        # limit with its line, the rest read and dropped, nothing kept
        chunk = b"x" * (1 << 20)

        def body():
            yield b"id,blob\n1,small\n2,"
            for _ in range(1024):
                yield chunk
            yield b"\n"
        got = srv.request("POST", up, body=body(), content_type=OCTET, token=srv.admin,
                          timeout=120)
        self.assertEqual(got[0], 400, got[1])
        self.assertIn("line 3: a field is longer than 1048576 bytes", got[1]["error"]["message"])
        self.assertEqual(srv.state(), base)
        tmp = os.path.join(srv.data_dir, "artifacts", "tmp")
        self.assertEqual(os.listdir(tmp), [])
        # a client that hangs up mid-upload leaves nothing either
        u = urllib.parse.urlsplit(srv.url)
        s = socket.create_connection((u.hostname, u.port))
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: %s\r\nContent-Length: 100000\r\n\r\nid,x\n1,2\n" %
                   (up, srv.admin, OCTET)).encode())
        s.close()
        deadline = time.time() + 10 * mopstest.SLOW  # the server notices the hang-up
        while srv.state() != base and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(srv.state(), base)
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        # the server's upload limit still answers 413
        small = self.server(["--max-upload", "64KiB"])
        small.team("t")
        small.ok("POST", "/api/v1/datasets", {"team": "t", "name": "d"})
        got = small.request("POST", "/api/v1/datasets/t/d/uploads", body=b"a\n" + b"1\n" * 40000,
                            content_type=OCTET, token=small.admin)
        self.assertEqual(got[0], 413, got[1])
