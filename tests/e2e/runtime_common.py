"""Shared helpers of the runtime end-to-end tests (test_runtime_*.py): data
with missing values and categorical columns, CSV writing, running the real
`mops predict`, and comparing its output with the library's.

Imported by the tests, which run under /usr/bin/python3 with $MOPS_BIN set.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

RTOL = 1e-6


def mops_bin():
    b = os.environ.get("MOPS_BIN")
    if not b:
        raise unittest.SkipTest("MOPS_BIN is not set")
    return b


def asan():
    return os.environ.get("MOPS_MODE") == "asan"


class TempDirTest(unittest.TestCase):
    """A test case with a fresh temporary directory in self.dir."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mops-rt-")
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)


def classification(n=600, features=8, classes=2, nan_frac=0.05, seed=0, cat_cols=0, n_cats=6):
    """make_classification data as float32, with NaNs sprinkled in and the
    first cat_cols columns turned into small non-negative integer codes."""
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=n, n_features=features, n_informative=min(features, 5),
                               n_redundant=0, n_classes=classes, n_clusters_per_class=1,
                               random_state=seed)
    rng = np.random.default_rng(seed)
    for c in range(cat_cols):
        X[:, c] = np.floor(np.abs(X[:, c]) * 2) % n_cats
    X = X.astype(np.float32)
    if nan_frac:
        X[rng.random(X.shape) < nan_frac] = np.nan
    return X, y


def regression(n=600, features=8, nan_frac=0.05, seed=0, positive=False):
    from sklearn.datasets import make_regression
    X, y = make_regression(n_samples=n, n_features=features, n_informative=min(features, 5),
                           noise=0.1, random_state=seed)
    if positive:
        y = np.exp((y - y.mean()) / (3 * y.std()))
    rng = np.random.default_rng(seed)
    X = X.astype(np.float32)
    if nan_frac:
        X[rng.random(X.shape) < nan_frac] = np.nan
    return X, y


def write_csv(path, X, names=None, extra=None):
    """Write X with a header; NaN as an empty field; numbers as the exact
    decimal of the stored value (repr of the double), so mops reads back
    the very same float32/float64 the library was given. extra: a dict of
    additional columns (name -> list of strings) put first."""
    X = np.asarray(X)
    names = names or ["f%d" % i for i in range(X.shape[1])]
    extra = extra or {}
    with open(path, "w") as f:
        f.write(",".join(list(extra) + list(names)) + "\n")
        ex = list(extra.values())
        for i, row in enumerate(X):
            cells = [col[i] for col in ex]
            cells += ["" if v != v else repr(float(v)) for v in row]
            f.write(",".join(cells) + "\n")


def run_predict(model, csv, *args, check=True):
    """Run `mops predict` and return (header list, list of row lists)."""
    cmd = [mops_bin(), "predict", "--model", model, "--input", csv, "--quiet"] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise AssertionError("mops predict failed (%d): %s" % (p.returncode, p.stderr))
    lines = p.stdout.splitlines()
    if not lines:
        return [], []
    return lines[0].split(","), [l.split(",") for l in lines[1:]]


def predict_columns(model, csv, columns, *args):
    """mops predict with --columns, as a float64 array (labels excluded)."""
    header, rows = run_predict(model, csv, "--columns", columns, *args)
    return header, np.array([[float(v) for v in r] for r in rows], dtype=np.float64)


def assert_close(test, ours, ref, float32, what, rtol=RTOL):
    """Every output within rtol relative; for float32 models compared as
    float32 (mops prints them with %.9g, which reads back exactly)."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    test.assertEqual(ours.shape, ref.shape, "%s: shapes differ" % what)
    if float32:
        ours = ours.astype(np.float32).astype(np.float64)
        ref = ref.astype(np.float32).astype(np.float64)
    diff = np.abs(ours - ref)
    # Relative, with a floor for values that are (near) zero.
    tol = rtol * np.maximum(np.abs(ref), 1e-12)
    bad = np.argwhere(~(diff <= tol))
    if bad.size:
        i = tuple(bad[0])
        test.fail("%s: %d of %d outputs differ beyond %g relative; first at %s: mops %r, library %r"
                  % (what, len(bad), ours.size, rtol, i, ours[i], ref[i]))


def small_xgboost(path, names=("a", "b", "c", "d"), seed=0, rounds=3, objective="binary:logistic"):
    """Train a small XGBoost model on len(names) named features and save it
    as XGBoost JSON at path (for tests that need a model that serves).
    Returns the training rows (float32)."""
    import xgboost as xgb
    X, y = classification(n=200, features=len(names), seed=seed, nan_frac=0)
    params = {"objective": objective, "max_depth": 3, "seed": seed}
    if objective.startswith("reg:"):
        y = X[:, 0] * 2.0 + X[:, 1]
    xgb.train(params, xgb.DMatrix(X, label=y, feature_names=list(names)),
              num_boost_round=rounds).save_model(path)
    return X
