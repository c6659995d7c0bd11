#!/bin/sh
# demo.sh BIN DATA — seed the demo through the CLI, once: a team, one user
# per role (their tokens in DATA/demo-tokens, mode 0600), and the churn model
# trained by demo/train_churn.py with a champion version, reviewed, approved
# by the risk officer, promoted to production and deployed as churn-api.
# MOPS_URL and MOPS_TOKEN say which server (scripts/run.sh sets them).
set -eu
bin=$1
data=$2
root=$(cd "$(dirname "$0")/.." && pwd)

if "$bin" team show demo >/dev/null 2>&1; then
  exit 0 # seeded on an earlier start
fi
"$bin" team create demo --description "A demo team: one user per role" >/dev/null
tokens="$data/demo-tokens"
umask 077
: >"$tokens"
for pair in alice:data-scientist bob:ml-engineer carol:risk-officer dave:finops erin:viewer; do
  user=${pair%%:*}
  role=${pair#*:}
  "$bin" user create "$user" --email "$user@example.com" --display-name "$user ($role)" >/dev/null
  "$bin" team add-member demo "$user" --role "$role" >/dev/null
  printf '%s %s %s\n' "$user" "$role" \
    "$("$bin" token create --user "$user" --name demo 2>/dev/null)" >>"$tokens"
done
"$bin" model create demo/churn --risk-tier high --owner alice \
  --purpose "Predict which customers leave in the next 90 days, to target retention offers" \
  --description "Gradient-boosted trees on six account features" -t tabular -t retention >/dev/null
"$bin" version upload demo/churn "$root/demo/churn-xgboost.json" --format xgboost-json \
  --framework xgboost --framework-version 1.7.4 --source-uri demo/train_churn.py \
  -p n_estimators=40 -p max_depth=4 -p learning_rate=0.2 -p objective=binary:logistic \
  -D demo/churn-holdout.csv -e python=3.11 -t demo >/dev/null
"$bin" version alias demo/churn champion 1 >/dev/null
"$bin" review request demo/churn 1 --comment "first version for production" >/dev/null
MOPS_TOKEN=$(awk '$1 == "carol" {print $3}' "$tokens") \
  "$bin" review approve demo/churn 1 --comment "holdout AUC checked" >/dev/null
for stage in staging production; do
  "$bin" version transition demo/churn 1 "$stage" --reason "demo" >/dev/null
done
"$bin" deploy create churn-api --team demo --primary churn@1 \
  --description "Churn scores for the retention campaign" >/dev/null
