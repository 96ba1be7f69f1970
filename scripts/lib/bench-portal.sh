#!/usr/bin/env bash
# scripts/bench portal (run by scripts/bench, after scripts/lib/test-env.sh started the test
# Postgres): portal-svc's "My apps" with one developer's 200 apps, measured from another
# process. h2load sends one request at a time over one connection (latency, not
# throughput), alternating rounds of /apps (session, a ListApplications call to registry-svc
# for 200 apps, the page rendered) and /healthz (the same HTTP stack and middleware, nothing
# else), and the page's one registry call (ListApplications, 200 apps) sent to registry-svc
# directly; p50 and p99 of each from h2load's request log. The portal's own time is /apps
# minus that call.
set -euo pipefail
source "$(dirname "$0")/test-env.sh"
source "$(dirname "$0")/bench-serve.sh"
cd "$root"
rounds=${DCR_BENCH_ROUNDS:-3}
requests=${DCR_BENCH_REQUESTS:-500}

say "building the portal benchmark stack (release)"
exe=$(bench_exe portal-svc apps_page)

say "starting the stack and creating 200 apps ($exe serve)"
serve_bench portal 180 "$exe"

rows=$(curl -sS -H "cookie: $COOKIE" "http://$PORTAL/apps" | grep -c 'href="/apps/0' || true)
echo "  one GET /apps with curl: $rows apps listed"
[ "$rows" = "$APPS" ] || die "the page lists $rows apps, not $APPS"

# latency PATH LOG: h2load, one connection, one stream, every answer 200.
latency() {
  h2load -n "$requests" -c 1 -m 1 -H "cookie: $COOKIE" --log-file="$2" "http://$PORTAL$1" >"$dir/h2load.out" 2>&1 \
    || { cat "$dir/h2load.out" >&2; die "h2load failed"; }
  python3 - "$2" "$1" <<'PY'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
bad = [r for r in rows if r[1] != "200"]
if bad:
    sys.exit(f"{len(bad)} of {len(rows)} requests to {sys.argv[2]} were not 200")
lat = sorted(int(r[2]) for r in rows)
pick = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] / 1000
print(f"{pick(0.50):.3f} {pick(0.99):.3f}")
PY
}

# registry LOG: the page's ListApplications straight to registry-svc (gRPC, the portal token
# for dana), one at a time; every answer grpc-status 0 is checked once with curl first.
registry() {
  h2load -n "$requests" -c 1 -m 1 -d "$dir/list.grpc" -H 'content-type: application/grpc' -H 'te: trailers' \
    -H "authorization: Bearer $PORTAL_TOKEN" -H 'x-dcr-developer-id: dana' --log-file="$1" \
    "http://$REGISTRY/dcr.registry.v1.ApplicationService/ListApplications" >"$dir/h2load.out" 2>&1 \
    || { cat "$dir/h2load.out" >&2; die "h2load failed"; }
  python3 - "$1" /ListApplications <<'PY'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
lat = sorted(int(r[2]) for r in rows)
pick = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] / 1000
print(f"{pick(0.50):.3f} {pick(0.99):.3f}")
PY
}
status=$(curl -sS --http2-prior-knowledge -o /dev/null -D - --data-binary @"$dir/list.grpc" \
  -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: Bearer $PORTAL_TOKEN" \
  -H 'x-dcr-developer-id: dana' "http://$REGISTRY/dcr.registry.v1.ApplicationService/ListApplications" \
  | tr -d '\r' | sed -n 's/^grpc-status: //p' | tail -1)
[ "$status" = 0 ] || die "ListApplications straight to the registry: grpc-status ${status:-missing}"

say "measuring: $rounds rounds of $requests requests each: /healthz, /apps, the registry call (cores: $(nproc), 1-minute load $(cut -d' ' -f1 /proc/loadavg))"
own=()
for i in $(seq 1 "$rounds"); do
  read -r h50 h99 < <(latency /healthz "$dir/healthz.log")
  read -r a50 a99 < <(latency /apps "$dir/apps.log")
  read -r r50 r99 < <(registry "$dir/registry.log")
  o50=$(python3 -c "print(f'{$a50 - $r50:.3f}')")
  printf '  round %d  /healthz p50 %6.3f ms   /apps p50 %7.3f ms p99 %7.3f ms   ListApplications p50 %7.3f ms   portal own p50 %7.3f ms\n' \
    "$i" "$h50" "$a50" "$a99" "$r50" "$o50"
  own+=("$o50")
done
median=$(python3 -c 'import sys, statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "${own[@]}")
echo "  My apps with $APPS apps: portal-svc's own time (page p50 minus its registry call's p50), median of rounds: $median ms (target: under 50 ms)"
