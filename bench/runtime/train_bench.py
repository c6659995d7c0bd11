#!/usr/bin/python3
"""Train the runtime benchmark's model with Debian's python3-xgboost and
write it with the rows it is scored on.

    /usr/bin/python3 bench/runtime/train_bench.py OUTDIR [--rows N]
        [--features F] [--trees T] [--depth D]

Writes OUTDIR/model.json (XGBoost JSON, binary:logistic) and
OUTDIR/rows.f32 (N x F float32, row-major, 1% NaN) and OUTDIR/meta.txt.
"""
import argparse
import os
import time

import numpy as np
import xgboost as xgb
from sklearn.datasets import make_classification


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    X, y = make_classification(n_samples=a.rows, n_features=a.features,
                               n_informative=min(30, max(2, a.features * 3 // 5)),
                               random_state=a.seed)
    X = X.astype(np.float32)
    rng = np.random.default_rng(a.seed)
    X[rng.random(X.shape) < 0.01] = np.nan
    t = time.time()
    booster = xgb.train({"objective": "binary:logistic", "max_depth": a.depth, "eta": 0.1,
                         "tree_method": "hist", "seed": a.seed},
                        xgb.DMatrix(X, label=y), a.trees)
    booster.save_model(os.path.join(a.outdir, "model.json"))
    X.tofile(os.path.join(a.outdir, "rows.f32"))
    with open(os.path.join(a.outdir, "meta.txt"), "w") as f:
        f.write(f"{a.rows} {a.features} {a.trees} {a.depth}\n")
    print(f"trained {a.trees} trees of depth {a.depth} on {a.rows} x {a.features} "
          f"in {time.time() - t:.1f}s -> {a.outdir}")


if __name__ == "__main__":
    main()
