"""End-to-end: models trained at test time with Debian's python3-xgboost,
saved as JSON, scored by the real `mops predict`, compared output by output
with XGBoost's own predictions (float32, within 1e-6 relative).

Covers every objective the runtime supports, multiclass, missing values,
categorical splits (one-hot and partition), depth 1 and depth 20 trees,
1 and 2,000 trees, num_parallel_tree, base_score, best_iteration and
iteration ranges, and feature names.
"""
import json
import unittest

import numpy as np
import xgboost as xgb

from runtime_common import (TempDirTest, assert_close, classification, predict_columns,
                            regression, run_predict, write_csv)


def load_json(path):
    with open(path) as f:
        return json.load(f)


class XGBoostCase(TempDirTest):

    def train(self, params, X, y, rounds, **dm):
        params = dict(params)
        params.setdefault("tree_method", "hist")
        params.setdefault("seed", 0)
        params.setdefault("nthread", 1)
        d = xgb.DMatrix(X, label=y, **dm)
        booster = xgb.train(params, d, rounds)
        path = self.path("model.json")
        booster.save_model(path)
        return booster, path

    def check(self, booster, model, X, csv=None, names=None, label_rule=None, dm=None,
              iteration_range=(0, 0), extra_args=()):
        """Compare value and margin (and label when label_rule says how the
        library decides it) for every row of X."""
        dm = dm or {}
        if csv is None:
            csv = self.path("rows.csv")
            write_csv(csv, X, names)
        d = xgb.DMatrix(X, **dm)
        ref_value = booster.predict(d, iteration_range=iteration_range)
        ref_margin = booster.predict(d, output_margin=True, iteration_range=iteration_range)
        _, value = predict_columns(model, csv, "value", *extra_args)
        _, margin = predict_columns(model, csv, "margin", *extra_args)
        assert_close(self, margin, ref_margin.reshape(margin.shape), True, "margin")
        if label_rule is None or label_rule != "softmax":
            assert_close(self, value, ref_value.reshape(value.shape), True, "value")
        if label_rule is not None:
            header, rows = run_predict(model, csv, "--columns", "label", *extra_args)
            self.assertEqual(header, ["label"])
            labels = np.array([int(r[0]) for r in rows])
            if label_rule == "gt_half":
                want = (ref_value > 0.5).astype(int)
            elif label_rule == "margin_gt_0":
                want = (ref_margin > 0).astype(int)
            elif label_rule == "argmax":
                want = np.argmax(ref_value, axis=1)
            elif label_rule == "softmax":
                want = ref_value.astype(int)  # multi:softmax predicts the class
            np.testing.assert_array_equal(labels, want)
        return value, margin


class TestObjectives(XGBoostCase):

    def test_binary_logistic(self):
        X, y = classification(n=700, features=10, seed=1)
        b, m = self.train({"objective": "binary:logistic", "max_depth": 5}, X, y, 40)
        self.check(b, m, X, label_rule="gt_half")

    def test_binary_logitraw(self):
        X, y = classification(n=500, features=6, seed=2)
        b, m = self.train({"objective": "binary:logitraw", "max_depth": 4}, X, y, 25)
        self.check(b, m, X, label_rule="margin_gt_0")

    def test_reg_squarederror(self):
        X, y = regression(n=600, features=9, seed=3)
        b, m = self.train({"objective": "reg:squarederror", "max_depth": 6}, X, y, 50)
        self.check(b, m, X)

    def test_reg_logistic(self):
        X, y = regression(n=500, features=7, seed=4)
        y = (y - y.min()) / (y.max() - y.min())
        b, m = self.train({"objective": "reg:logistic", "max_depth": 4}, X, y, 30)
        self.check(b, m, X)

    def test_reg_absoluteerror(self):
        X, y = regression(n=500, features=7, seed=5)
        b, m = self.train({"objective": "reg:absoluteerror", "max_depth": 4}, X, y, 30)
        self.check(b, m, X)

    def test_count_poisson(self):
        X, y = regression(n=500, features=7, seed=6)
        y = np.floor(np.exp((y - y.mean()) / y.std()))
        b, m = self.train({"objective": "count:poisson", "max_depth": 4}, X, y, 30)
        self.check(b, m, X)

    def test_multi_softprob(self):
        X, y = classification(n=800, features=10, classes=4, seed=7)
        b, m = self.train({"objective": "multi:softprob", "num_class": 4, "max_depth": 4}, X, y, 20)
        value, _ = self.check(b, m, X, label_rule="argmax")
        self.assertEqual(value.shape, (800, 4))

    def test_multi_softmax(self):
        X, y = classification(n=600, features=8, classes=3, seed=8)
        b, m = self.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 4}, X, y, 20)
        self.check(b, m, X, label_rule="softmax")
        # The value output is the class probabilities: what the same trees
        # give under multi:softprob.
        doc = load_json(m)
        doc["learner"]["objective"]["name"] = "multi:softprob"
        prob_path = self.path("softprob.json")
        with open(prob_path, "w") as f:
            json.dump(doc, f)
        ref = xgb.Booster(model_file=prob_path).predict(xgb.DMatrix(X))
        _, value = predict_columns(m, self.path("rows.csv"), "value")
        assert_close(self, value, ref, True, "softmax probabilities")

    def test_base_score(self):
        X, y = classification(n=400, features=6, seed=9)
        b, m = self.train({"objective": "binary:logistic", "max_depth": 3, "base_score": 0.3},
                          X, y, 10)
        self.check(b, m, X)
        X, y = regression(n=400, features=6, seed=9)
        b, m = self.train({"objective": "reg:squarederror", "max_depth": 3, "base_score": 12.5},
                          X, y, 10)
        self.check(b, m, X)

    def test_extreme_margins(self):
        # Sigmoid far in the tails, where XGBoost caps exp's argument.
        X, y = classification(n=300, features=4, seed=10, nan_frac=0)
        b, m = self.train({"objective": "binary:logistic", "max_depth": 2, "eta": 1.0,
                           "lambda": 0, "min_child_weight": 0}, X, y, 60)
        self.check(b, m, X)


class TestShapes(XGBoostCase):

    def test_depth_1_single_tree(self):
        X, y = classification(n=300, features=5, seed=11)
        b, m = self.train({"objective": "binary:logistic", "max_depth": 1}, X, y, 1)
        self.check(b, m, X)

    def test_depth_20(self):
        X, y = regression(n=3000, features=12, seed=12)
        b, m = self.train({"objective": "reg:squarederror", "max_depth": 20, "min_child_weight": 0,
                           "grow_policy": "lossguide", "max_leaves": 0}, X, y, 8)
        doc = load_json(m)
        self.assertGreaterEqual(self.max_depth(doc), 15)
        self.check(b, m, X[:300])

    def test_2000_trees(self):
        X, y = classification(n=300, features=6, seed=13)
        b, m = self.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.05}, X, y, 2000)
        self.check(b, m, X[:100])

    def test_multiclass_parallel_trees(self):
        X, y = classification(n=500, features=8, classes=3, seed=14)
        b, m = self.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3,
                           "num_parallel_tree": 3, "subsample": 0.8, "colsample_bynode": 0.8},
                          X, y, 5)
        self.check(b, m, X, label_rule="argmax")
        self.check(b, m, X, iteration_range=(0, 2), extra_args=("--iterations", "2"))

    def max_depth(self, doc):
        best = 0
        for t in doc["learner"]["gradient_booster"]["model"]["trees"]:
            L, R = t["left_children"], t["right_children"]
            stack = [(0, 0)]
            while stack:
                i, d = stack.pop()
                if L[i] == -1:
                    best = max(best, d)
                else:
                    stack += [(L[i], d + 1), (R[i], d + 1)]
        return best


class TestCategorical(XGBoostCase):

    def cat_data(self, n=1500, seed=15):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n, 4)).astype(np.float32)
        X[:, 1] = rng.integers(0, 30, size=n)
        X[:, 3] = rng.integers(0, 4, size=n)
        y = (((X[:, 1] % 3) == 0) | (X[:, 0] > 0.8) | (X[:, 3] == 2)).astype(int)
        X[rng.random(n) < 0.07, 1] = np.nan
        X[rng.random(n) < 0.05, 0] = np.nan
        return X, y

    def test_partition_and_onehot_splits(self):
        X, y = self.cat_data()
        types = ["q", "c", "q", "c"]
        for onehot in (1, 64):
            b, m = self.train({"objective": "binary:logistic", "max_depth": 4,
                               "max_cat_to_onehot": onehot}, X, y, 15,
                              feature_types=types, enable_categorical=True)
            doc = load_json(m)
            trees = doc["learner"]["gradient_booster"]["model"]["trees"]
            self.assertTrue(any(1 in t["split_type"] for t in trees), "no categorical split")
            # Rows with categories never seen in training, and fractional codes.
            Xt = X[:400].copy()
            Xt[:20, 1] = 31 + np.arange(20)
            Xt[20:30, 1] = 2.5
            self.check(b, m, Xt, dm={"feature_types": types, "enable_categorical": True})

    def test_multiclass_categorical(self):
        X, y = self.cat_data(seed=16)
        y = (y + (X[:, 3] == 1)).astype(int)
        types = ["q", "c", "q", "c"]
        b, m = self.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3,
                           "max_cat_to_onehot": 1}, X, y, 10,
                          feature_types=types, enable_categorical=True)
        self.check(b, m, X[:400], dm={"feature_types": types, "enable_categorical": True},
                   label_rule="argmax")


class TestIterations(XGBoostCase):

    def test_best_iteration(self):
        X, y = classification(n=1200, features=8, seed=17, nan_frac=0.02)
        dtrain = xgb.DMatrix(X[:800], label=y[:800])
        dvalid = xgb.DMatrix(X[800:], label=y[800:])
        booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.5,
                             "tree_method": "hist", "seed": 0, "nthread": 1},
                            dtrain, 200, evals=[(dvalid, "valid")], early_stopping_rounds=3,
                            verbose_eval=False)
        m = self.path("model.json")
        booster.save_model(m)
        best = booster.best_iteration
        self.assertLess(best + 1, booster.num_boosted_rounds(), "early stopping did not stop early")
        csv = self.path("rows.csv")
        write_csv(csv, X)
        # Default: the best iteration, as XGBClassifier.predict uses it.
        self.check(booster, m, X, csv=csv, iteration_range=(0, best + 1))
        # --iterations all: every round, as Booster.predict by default.
        self.check(booster, m, X, csv=csv, iteration_range=(0, 0),
                   extra_args=("--iterations", "all"))
        self.check(booster, m, X, csv=csv, iteration_range=(0, 2),
                   extra_args=("--iterations", "2"))


class TestFeatureNames(XGBoostCase):

    def test_columns_by_name(self):
        X, y = classification(n=400, features=5, seed=18)
        names = ["age", "income", "score", "tenure", "visits"]
        b, m = self.train({"objective": "binary:logistic", "max_depth": 3}, X, y, 10,
                          feature_names=names)
        # Columns shuffled, plus an id column the model does not use.
        order = [3, 0, 4, 2, 1]
        csv = self.path("shuffled.csv")
        write_csv(csv, X[:, order], [names[i] for i in order],
                  extra={"id": ["row%d" % i for i in range(len(X))]})
        ref = b.predict(xgb.DMatrix(X, feature_names=names))
        header, value = predict_columns(m, csv, "value")
        self.assertEqual(header, ["prob_1"])
        assert_close(self, value[:, 0], ref, True, "value by name")


if __name__ == "__main__":
    unittest.main()
