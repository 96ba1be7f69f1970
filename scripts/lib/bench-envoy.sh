#!/usr/bin/env bash
# scripts/bench envoy [APPS] (run by scripts/bench): the same bearer JWT through four Envoys
# with one worker each (authz-svc/benches/envoy.rs starts them): a plain proxy, Envoy's own
# jwt_authn, dcr's ext_authz, and dcr's fast path. h2load drives them from another process
# over HTTP/1.1 (32 clients, like a pool of gateway clients), one Envoy per round in
# rotating order; the figure is the median over rounds of fast/jwt_authn (the target is
# 0.7 or more) and ext_authz/jwt_authn. Then what the fast path costs to keep current:
# the config's size, the time from a registry change to Envoy applying it, and Envoy's
# memory against the jwt_authn Envoy's; with APPS more approved apps on the product.
set -euo pipefail
source "$(dirname "$0")/test-env.sh"
source "$(dirname "$0")/bench-serve.sh"
cd "$root"
apps=${1:-0}
rounds=${DCR_BENCH_ROUNDS:-5}
seconds=${DCR_BENCH_SECONDS:-5}
clients=${DCR_BENCH_CLIENTS:-32}

say "building the Envoy benchmark setup (release)"
exe=$(bench_exe authz-svc envoy)

say "starting the stack and four Envoys ($exe serve, $apps more approved apps)"
serve_bench envoy 300 "$exe" "$apps"
grep -h "more approved applications" "$dir/stack.log" | sed 's/^/  /' || true

# rps ADDR: one h2load round over HTTP/1.1; every answer must be 200.
rps() {
  h2load --h1 -t 1 -c "$clients" -D "$seconds" --warm-up-time=1 -H "authorization: $BEARER" \
    "http://$1/orders" >"$dir/h2load.out" 2>&1 || { cat "$dir/h2load.out" >&2; die "h2load failed"; }
  awk '/^requests:/ { done=$6; ok=$8 } /^status codes:/ { s2=$3; other=$5+$7+$9 }
       /^finished in/ { sub(/,/, "", $4); rps=$4 }
       END { if (done == 0 || ok != done || other != 0) { print "bad run" > "/dev/stderr"; exit 1 } print rps }' \
    "$dir/h2load.out" || { cat "$dir/h2load.out" >&2; die "h2load saw answers other than 200"; }
}
median() { python3 -c 'import sys, statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }
ext_authz_calls() {
  curl -sS "http://$FAST_ADMIN/stats" | awk -F': ' '/^http\.ingress\.ext_authz\.(ok|denied|error)/ { n += $2 } END { print n + 0 }'
}

names=(plain jwt_authn ext_authz fast)
addrs=("$PLAIN" "$JWT_AUTHN" "$EXT_AUTHZ" "$FAST")
echo
echo "== through Envoy 1.40 (one worker each), h2load --h1 -c $clients, $rounds rounds of ${seconds}s per Envoy, order rotating"
fast_ratios=() ext_ratios=() jwt_ratios=()
calls_before=$(ext_authz_calls)
for round in $(seq 1 "$rounds"); do
  declare -A got=()
  for k in 0 1 2 3; do
    i=$(( (k + round) % 4 ))
    got[${names[$i]}]=$(rps "${addrs[$i]}")
  done
  f=$(python3 -c "print(f'{${got[fast]}/${got[jwt_authn]}:.3f}')")
  e=$(python3 -c "print(f'{${got[ext_authz]}/${got[jwt_authn]}:.3f}')")
  j=$(python3 -c "print(f'{${got[jwt_authn]}/${got[plain]}:.3f}')")
  printf '  round %d  plain %7.0f  jwt_authn %7.0f  ext_authz %7.0f  fast %7.0f rps   fast/jwt_authn %s  ext_authz/jwt_authn %s\n' \
    "$round" "${got[plain]}" "${got[jwt_authn]}" "${got[ext_authz]}" "${got[fast]}" "$f" "$e"
  fast_ratios+=("$f"); ext_ratios+=("$e"); jwt_ratios+=("$j")
  unset got
done
calls_after=$(ext_authz_calls)
echo "  median fast/jwt_authn $(median "${fast_ratios[@]}") (target 0.7; rounds ${fast_ratios[*]})"
echo "  median ext_authz/jwt_authn $(median "${ext_ratios[@]}") (rounds ${ext_ratios[*]})"
echo "  median jwt_authn/plain $(median "${jwt_ratios[@]}")"
echo "  Checks the fast Envoy sent to authz-svc during its rounds: $((calls_after - calls_before))"
echo
echo "== keeping the fast path current ($((apps + 3)) approved apps on the product)"
echo "  config (all four filters, encoded): $CONFIG_BYTES bytes"
echo "  registry change -> Envoy applied it, ms (6 changes): $PUSH_MS"
echo "  Envoy from start to serving with the fast path: ${FAST_READY_MS} ms"
echo "  Envoy memory allocated: fast path $FAST_MEMORY bytes, jwt_authn $JWT_MEMORY bytes"
