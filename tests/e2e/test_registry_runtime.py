"""Registering a version loads its artifact with the native runtime: the
version records its format, objective, feature count and names, and output
shape; a file that does not load is refused with the loader's message (and
no server path in it); formats mops does not execute are stored as they
are. Models are trained at test time by python3-xgboost and python3-sklearn."""
import json
import os

import numpy as np

import mopstest
import runtime_common as rc


class RegistryRuntime(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.srv.team("t")
        self.srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})

    def upload(self, path, fmt, check=True):
        return self.srv.cli("version", "upload", "t/m", path, "--format", fmt, "--json",
                            token=self.srv.admin, check=check)

    def test_xgboost_signature(self):
        import xgboost as xgb
        X, y = rc.classification(n=300, features=5, classes=3, seed=1)
        booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
                            xgb.DMatrix(X, label=y, feature_names=["a", "b", "c", "d", "e"]),
                            num_boost_round=7)
        path = os.path.join(self.tmp, "m.json")
        booster.save_model(path)
        sig = json.loads(self.upload(path, "xgboost-json").stdout)["signature"]
        self.assertEqual(sig["objective"], "multi:softprob")
        self.assertEqual(sig["kind"], "classifier")
        self.assertEqual(sig["n_features"], 5)
        self.assertEqual(sig["feature_names"], ["a", "b", "c", "d", "e"])
        self.assertEqual(sig["n_classes"], 3)
        self.assertEqual(sig["outputs"], {"value": 3, "margin": 3})
        self.assertEqual(sig["trees"], 21)
        self.assertIn("xgboost", sig["producer"].lower())
        self.assertGreater(sig["memory_bytes"], 0)
        shown = self.srv.cli("version", "show", "t/m", "1", token=self.srv.admin).stdout
        self.assertIn("multi:softprob", shown)

    def test_sklearn_signature(self):
        from sklearn.ensemble import RandomForestRegressor
        import mops_sklearn
        X, y = rc.regression(n=200, features=4, nan_frac=0, seed=2)
        model = RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(X, y)
        path = os.path.join(self.tmp, "rf.json")
        mops_sklearn.export(model, path, feature_names=["w", "x", "y", "z"])
        sig = json.loads(self.upload(path, "sklearn-json").stdout)["signature"]
        self.assertEqual((sig["objective"], sig["kind"], sig["n_features"], sig["trees"]),
                         ("RandomForestRegressor", "regressor", 4, 4))
        self.assertEqual(sig["feature_names"], ["w", "x", "y", "z"])
        self.assertIsNone(sig["class_labels"])

    def test_files_that_do_not_load_are_refused(self):
        import xgboost as xgb
        X, y = rc.classification(n=100, features=3, seed=3)
        good = os.path.join(self.tmp, "good.json")
        xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y),
                  num_boost_round=2).save_model(good)
        text = mopstest.read(good)
        cases = {
            "truncated.json": (text[:len(text) // 2], "xgboost-json", "JSON ends early at line 1"),
            "not-a-model.json": (b'{"hello": "world"}', "xgboost-json", "does not load"),
            "garbage.bin": (os.urandom(64), "sklearn-json", "does not load as sklearn-json"),
            "wrong-format.json": (text, "sklearn-json", "does not load as sklearn-json"),
        }
        for name, (data, fmt, says) in cases.items():
            path = os.path.join(self.tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            p = self.upload(path, fmt, check=False)
            self.assertEqual(p.returncode, 1, name)
            self.assertIn(says, p.stderr, name)
            self.assertIn("HTTP 400", p.stderr, name)
            self.assertNotIn(self.srv.data_dir, p.stderr, name)  # no server path leaks
        self.assertEqual(self.srv.ok("GET", "/api/v1/models/t/m")["versions"], 0)
        # The refused bytes stay uploaded (content is kept, never deleted), so
        # the same file declared as a format mops stores without running it
        # registers fine, with an empty signature.
        out = json.loads(self.upload(os.path.join(self.tmp, "garbage.bin"), "onnx").stdout)
        self.assertEqual((out["version"], out["signature"]), (1, {}))
        out = json.loads(self.upload(good, "xgboost-json").stdout)
        self.assertEqual(out["version"], 2)
        self.assertEqual(out["signature"]["objective"], "binary:logistic")
