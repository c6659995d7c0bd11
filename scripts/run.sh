#!/bin/sh
# run.sh BIN DATA — what `make run` does once mops is built: start the server
# on the embedded store in DATA, seed the demo on first start, print the
# address and the admin token, and stay in the foreground until Ctrl-C.
# MOPS_LISTEN picks another address (default 127.0.0.1:8080).
set -eu
bin=$1
data=$2
listen=${MOPS_LISTEN:-127.0.0.1:8080}
here=$(cd "$(dirname "$0")" && pwd)
umask 077 # the data directory and its logs are private
mkdir -p "$data"
out="$data/server.stdout"
"$bin" server --data "$data" --listen "$listen" >"$out" 2>>"$data/server.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; exit 0' INT TERM

i=0
until grep -q "listening on" "$out" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "mops did not start:" >&2
    tail -n 5 "$data/server.log" >&2
    echo "(another program on $listen? try: MOPS_LISTEN=127.0.0.1:8081 make run)" >&2
    exit 1
  fi
  i=$((i + 1))
  [ $i -gt 300 ] && { echo "mops did not start within 30 s" >&2; kill $pid; exit 1; }
  sleep 0.1
done
url=$(grep -o 'http://[^ ]*' "$out" | head -n 1)
token=$(cat "$data/admin-token")
MOPS_URL=$url MOPS_TOKEN=$token "$here/demo.sh" "$bin" "$data"

cat <<BANNER

  mops is running at $url   (data in $data, logs in $data/server.log)

  admin token:  $token
                (also in $data/admin-token; demo users' tokens in $data/demo-tokens)

  Try it:
    export MOPS_URL=$url MOPS_TOKEN=\$(cat $data/admin-token)
    $bin model list
    $bin version show demo/churn champion
    curl -H "Authorization: Bearer \$MOPS_TOKEN" $url/api/v1/models
    $bin deploy show churn-api
    curl -H "Authorization: Bearer \$MOPS_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"instances": [{"tenure_months": 3, "monthly_charges": 80, "support_calls": 4}]}' \\
      $url/api/v1/deployments/churn-api/predict

  Ctrl-C stops the server.
BANNER
wait $pid
