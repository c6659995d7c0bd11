#!/usr/bin/python3
"""Write a large XGBoost JSON model for the load benchmark: a model trained
with python3-xgboost (depth-8 trees on 30 features) whose trees are
repeated until the file reaches the asked size. XGBoost loads it like any
other model.

    /usr/bin/python3 bench/runtime/make_big_model.py OUT.json [--mb 100]
"""
import argparse
import json

import numpy as np
import xgboost as xgb
from sklearn.datasets import make_classification


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=100)
    a = ap.parse_args()
    X, y = make_classification(n_samples=5000, n_features=30, random_state=1)
    b = xgb.train({"objective": "binary:logistic", "max_depth": 8, "eta": 0.05},
                  xgb.DMatrix(X.astype(np.float32), label=y), 50)
    doc = json.loads(b.save_raw("json"))
    gbm = doc["learner"]["gradient_booster"]["model"]
    base = gbm["trees"]
    size = len(json.dumps(base, separators=(",", ":")))
    copies = int(a.mb * 1e6) // size + 1
    trees = []
    for _ in range(copies):
        for t in base:
            t2 = dict(t)
            t2["id"] = len(trees)
            trees.append(t2)
    gbm["trees"] = trees
    gbm["tree_info"] = [0] * len(trees)
    gbm["gbtree_model_param"]["num_trees"] = str(len(trees))
    doc["learner"]["attributes"] = {}
    with open(a.out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print("wrote %s: %d trees" % (a.out, len(trees)))


if __name__ == "__main__":
    main()
