"""End-to-end: `mops predict` as a command — arguments, CSV handling
(missing values, quoting, CRLF, BOM, ragged rows, bad numbers), errors on
bad model files, standard input and output, threads, the progress bar on a
terminal, and the 100 MB model load (time and memory).
"""
import json
import os
import pty
import re
import subprocess
import time
import unittest

import numpy as np
import xgboost as xgb

from runtime_common import (TempDirTest, asan, assert_close, classification, mops_bin,
                            predict_columns, run_predict, write_csv)


def mops(*args, stdin=None, input_text=None):
    return subprocess.run([mops_bin()] + list(args), input=input_text, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, stdin=stdin)


class CliCase(TempDirTest):

    def setUp(self):
        super().setUp()
        X, y = classification(n=300, features=4, seed=30)
        self.X = X
        d = xgb.DMatrix(X, label=y)
        self.booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                                 d, 10)
        self.model = self.path("m.json")
        self.booster.save_model(self.model)

    def write(self, name, text, mode="w"):
        p = self.path(name)
        with open(p, mode) as f:
            f.write(text)
        return p


class TestArguments(CliCase):

    def test_help(self):
        p = mops("predict", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("--model", p.stdout)
        self.assertIn("--threads", p.stdout)
        self.assertIn("predict", mops("--help").stdout)

    def test_usage_errors(self):
        p = mops("predict", "--input", "x.csv")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--model is required", p.stderr)
        p = mops("predict", "--model", self.model, "--input", "x.csv", "--threads", "0")
        self.assertEqual(p.returncode, 2)
        p = mops("predict", "--model", self.model, "--input", "x.csv", "--bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--bogus'", p.stderr)
        p = mops("predict", "--model", self.model, "--input", "x.csv", "--columns", "nope")
        self.assertEqual(p.returncode, 2)
        p = mops("predict", "--model", self.model, "--input", "x.csv", "--iterations", "99")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--iterations must be 1..10", p.stderr)

    def test_info(self):
        p = mops("predict", "--model", self.model, "--info")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("objective:     binary:logistic", p.stdout)
        self.assertIn("features:      4", p.stdout)
        self.assertIn("trees:         10, max depth 3", p.stdout)
        self.assertRegex(p.stdout, r"memory:\s+\d+ bytes")

    def test_missing_files(self):
        p = mops("predict", "--model", self.path("nope.json"), "--input", "x.csv")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open model file", p.stderr)
        p = mops("predict", "--model", self.model, "--input", self.path("nope.csv"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open input", p.stderr)


class TestBadModels(CliCase):

    def model_error(self, text):
        m = self.write("bad.json", text)
        csv = self.write("rows.csv", "f0,f1,f2,f3\n1,2,3,4\n")
        p = mops("predict", "--model", m, "--input", csv)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        return p.stderr

    def test_truncated(self):
        with open(self.model) as f:
            text = f.read()
        err = self.model_error(text[: len(text) // 2])
        self.assertIn("JSON ends early", err)
        err = self.model_error(text.replace('"left_children":', '"left_children";', 1))
        self.assertRegex(err, r"JSON line 1, column \d+: expected ':', found ';'")

    def test_not_a_model(self):
        self.assertIn("not a model mops can read", self.model_error('{"hello": 1}'))
        self.assertIn("not a model mops can read", self.model_error("garbage"))

    def test_bad_tree(self):
        with open(self.model) as f:
            doc = json.load(f)
        tree = doc["learner"]["gradient_booster"]["model"]["trees"][3]
        tree["left_children"][0] = 999
        err = self.model_error(json.dumps(doc))
        self.assertIn("tree 3, node 0: left child 999 is out of range", err)

        with open(self.model) as f:
            doc = json.load(f)
        tree = doc["learner"]["gradient_booster"]["model"]["trees"][1]
        tree["split_indices"][0] = 7
        err = self.model_error(json.dumps(doc))
        self.assertIn("tree 1, node 0: feature index 7 is out of range (the model has 4 features)",
                      err)

        with open(self.model) as f:
            doc = json.load(f)
        tree = doc["learner"]["gradient_booster"]["model"]["trees"][2]
        tree["left_children"][1] = 0  # back to the root: a cycle
        tree["right_children"][1] = 2
        err = self.model_error(json.dumps(doc))
        self.assertIn("tree 2, node 1", err)
        self.assertIn("reached twice", err)


class TestCsv(CliCase):

    def test_missing_value_spellings(self):
        X = self.X[:6].copy()
        X[0, 1] = X[1, 2] = X[2, 3] = X[3, 0] = X[4, 1] = X[5, 2] = np.nan
        spell = ["", "NA", "NaN", "null", "n/a", " nan "]
        lines = ["f0,f1,f2,f3"]
        for i, row in enumerate(X):
            lines.append(",".join(spell[i] if v != v else repr(float(v)) for v in row))
        csv = self.write("rows.csv", "\n".join(lines) + "\n")
        _, value = predict_columns(self.model, csv, "value")
        assert_close(self, value[:, 0], self.booster.predict(xgb.DMatrix(X)), True, "missing")

    def test_quoting_crlf_bom_extra_columns(self):
        X = self.X[:5]
        names = ["f0", "f1", "f2", "f3"]
        doc = self.booster
        # Give the model names so extra columns are allowed.
        X_names_model = self.path("named.json")
        b = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                      xgb.DMatrix(self.X, label=(self.X[:, 0] > 0).astype(int),
                                  feature_names=names), 5)
        b.save_model(X_names_model)
        rows = ["\ufeffid,f0,f1,note,f2,f3"]
        for i, r in enumerate(X):
            v = ["" if x != x else repr(float(x)) for x in r]
            rows.append('%d,%s,"%s","a, ""quoted""\nnote",%s,%s' % (i, v[0], v[1], v[2], v[3]))
        csv = self.write("rows.csv", "\r\n".join(rows) + "\r\n")
        _, value = predict_columns(X_names_model, csv, "value")
        ref = b.predict(xgb.DMatrix(X, feature_names=names))
        assert_close(self, value[:, 0], ref, True, "quoted csv")
        del doc

    def csv_error(self, text):
        csv = self.write("rows.csv", text)
        p = mops("predict", "--model", self.model, "--input", csv)
        self.assertEqual(p.returncode, 1)
        out = self.path("out.csv")
        p2 = mops("predict", "--model", self.model, "--input", csv, "--output", out)
        self.assertEqual(p2.returncode, 1)
        self.assertFalse(os.path.exists(out), "a failed run left its output file")
        return p.stderr

    def test_errors_name_the_line(self):
        err = self.csv_error("f0,f1,f2,f3\n1,2,3,4\n1,2,3\n")
        self.assertIn("line 3 has 3 fields but the header has 4", err)
        err = self.csv_error("f0,f1,f2,f3\n1,2,3,4\n1,abc,3,4\n")
        self.assertIn("line 3, column 2 ('f1'): 'abc' is not a number", err)
        err = self.csv_error("f0,f1,f2,f3\n1,2,3,4\n1,2\"x\",3,4\n")
        self.assertIn("line 3: malformed quoting", err)
        err = self.csv_error("f0,f1,f2,f3\n1,2,3,4\n1,\"2,3,4\n")
        self.assertIn("line 3: a quoted field is not closed", err)  # where its record began
        err = self.csv_error("")
        self.assertIn("is empty", err)
        err = self.csv_error("a,b\n1,2\n")
        self.assertIn("the input has 2 columns but the model takes 4 features", err)
        err = self.csv_error("f0,f1,f2,f3\n0x10,2,3,4\n")
        self.assertIn("is not a number", err)

    def test_header_only_and_stdin_stdout(self):
        csv = self.write("rows.csv", "f0,f1,f2,f3\n")
        header, rows = run_predict(self.model, csv)
        self.assertEqual(header, ["label", "prob_1"])
        self.assertEqual(rows, [])
        write_csv(self.path("all.csv"), self.X)
        with open(self.path("all.csv")) as f:
            p = mops("predict", "--model", self.model, "--input", "-", "--output", "-", stdin=f)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), len(self.X) + 1)

    def test_output_file_and_threads(self):
        X, y = classification(n=20000, features=6, seed=31)
        b = xgb.train({"objective": "binary:logistic", "max_depth": 4, "nthread": 1},
                      xgb.DMatrix(X, label=y), 20)
        m = self.path("big.json")
        b.save_model(m)
        csv = self.path("big.csv")
        write_csv(csv, X)
        outs = []
        for threads in ("1", "2"):
            out = self.path("out%s.csv" % threads)
            p = mops("predict", "-m", m, "-i", csv, "-o", out, "-t", threads, "--batch", "3000",
                     "--columns", "label,value,margin")
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out) as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1])
        lines = outs[0].splitlines()
        self.assertEqual(lines[0], "label,prob_1,margin")
        value = np.array([float(l.split(",")[1]) for l in lines[1:]])
        assert_close(self, value, b.predict(xgb.DMatrix(X)), True, "threads")

    def test_progress_bar_on_a_terminal(self):
        write_csv(self.path("rows.csv"), np.repeat(self.X, 20, axis=0))
        master, slave = pty.openpty()
        p = subprocess.run([mops_bin(), "predict", "-m", self.model, "-i", self.path("rows.csv"),
                            "-o", self.path("out.csv")], stderr=slave, stdout=subprocess.PIPE)
        os.close(slave)
        err = b""
        try:
            while True:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                err += chunk
        except OSError:
            pass
        os.close(master)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"100%", err)
        self.assertIn(b"6000 rows", err)
        # Not on a pipe.
        p = mops("predict", "-m", self.model, "-i", self.path("rows.csv"), "-o", self.path("o.csv"))
        self.assertEqual(p.stderr, "")


class TestBigModel(TempDirTest):
    """A 100 MB XGBoost model loads in under 2 s and takes less memory than
    its file. The model is a trained one with its trees repeated, which
    XGBoost itself loads and scores for comparison."""

    def test_100mb_model(self):
        X, y = classification(n=2000, features=30, seed=32)
        b = xgb.train({"objective": "binary:logistic", "max_depth": 8, "eta": 0.01,
                       "nthread": 1}, xgb.DMatrix(X, label=y), 40)
        small = self.path("small.json")
        b.save_model(small)
        with open(small) as f:
            doc = json.load(f)
        gbm = doc["learner"]["gradient_booster"]["model"]
        base = gbm["trees"]
        size = len(json.dumps(base, separators=(",", ":")))
        target = (20 if asan() else 100) * 1000 * 1000
        copies = target // size + 1
        trees = []
        for c in range(copies):
            for t in base:
                t2 = dict(t)
                t2["id"] = len(trees)
                trees.append(t2)
        gbm["trees"] = trees
        gbm["tree_info"] = [0] * len(trees)
        gbm["gbtree_model_param"]["num_trees"] = str(len(trees))
        doc["learner"]["attributes"] = {}
        big = self.path("big.json")
        with open(big, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
        file_size = os.path.getsize(big)
        self.assertGreaterEqual(file_size, target)

        start = time.monotonic()
        p = mops("predict", "--model", big, "--info")
        elapsed = time.monotonic() - start
        self.assertEqual(p.returncode, 0, p.stderr)
        memory = int(re.search(r"memory:\s+(\d+) bytes", p.stdout).group(1))
        self.assertLess(memory, file_size, "loaded model is larger than its file")
        if not asan():
            self.assertLess(elapsed, 2.0, "loading %d bytes took %.2fs" % (file_size, elapsed))

        csv = self.path("rows.csv")
        write_csv(csv, X[:20])
        _, value = predict_columns(big, csv, "margin")
        ref = xgb.Booster(model_file=big).predict(xgb.DMatrix(X[:20]), output_margin=True)
        assert_close(self, value[:, 0], ref, True, "100 MB model")


if __name__ == "__main__":
    unittest.main()
