#!/usr/bin/env bash
# scripts/bench envoy-callgrind [N] (run by scripts/bench): instructions per request that
# Envoy's worker spends on the same bearer JWT with Envoy's own jwt_authn, with dcr's fast
# path, and as a plain proxy: a noise-free second figure next to `scripts/bench envoy`'s
# rates, which move with whatever else the machine runs. Starts the Envoy bench's setup
# (authz-svc/benches/envoy.rs), then, one at a time, a copy of each of those Envoys under
# valgrind --tool=callgrind (same flags, same authz-svc), sends it 200 requests to warm
# up, zeroes its counters, sends N more (h2load, HTTP/1.1, 4 clients) and reads what its
# busiest thread (the worker) executed. The fast path's config is renewed every second
# on the main thread, so the worker's count is the request path's.
set -euo pipefail
source "$(dirname "$0")/test-env.sh"
source "$(dirname "$0")/bench-serve.sh"
cd "$root"
n=${1:-2000}

say "building the Envoy benchmark setup (release)"
exe=$(bench_exe authz-svc envoy)

say "starting the stack and its Envoys ($exe serve)"
serve_bench envoy-callgrind 300 "$exe"

# The flags the setup started each Envoy with, from its start.py command line.
flags_of() {
  ps -eo args | awk -v mode="--mode $1" 'index($0, "start.py") && index($0, mode) { sub(/.*start\.py --envoy [^ ]+ /, ""); print; exit }'
}
wrapper="$dir/envoy-under-callgrind"
cat >"$wrapper" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --separate-threads=yes --dump-instr=no \
  --callgrind-out-file="$dir/cg.%p" "$DCR_TEST_ENVOY" "\$@"
EOF
chmod +x "$wrapper"

# per_request MODE: Ir of the busiest thread per request, for N requests.
per_request() {
  local flags fifo pid line port
  flags=$(flags_of "$1")
  [ -n "$flags" ] || die "no Envoy of mode $1 in the setup"
  fifo="$dir/stdin.$1"; mkfifo "$fifo"
  rm -f "$dir"/cg.*
  # start.py stops Envoy when its stdin closes: hold it open on a descriptor.
  # shellcheck disable=SC2086
  python3 tests/peers/envoy/start.py --envoy "$wrapper" --startup-timeout-s 600 $flags \
    <"$fifo" >"$dir/listening.$1" 2>"$dir/envoy.$1.log" &
  pid=$!
  exec 9>"$fifo"
  for _ in $(seq 1 3000); do
    line=$(head -1 "$dir/listening.$1" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/envoy.$1.log" >&2; die "Envoy ($1) under callgrind exited"; }
    sleep 0.2
  done
  port=$(echo "$line" | awk '{ print $2 }')
  [ -n "$port" ] || die "Envoy ($1) under callgrind did not listen"
  local vg
  vg=$(pgrep -f "valgrind.*callgrind-out-file=$dir/cg" | head -1)
  h2load --h1 -t 1 -c 4 -n 200 -H "authorization: $BEARER" "http://127.0.0.1:$port/orders" >"$dir/warm.$1" 2>&1 \
    || { cat "$dir/warm.$1" >&2; die "h2load failed"; }
  callgrind_control -z "$vg" >/dev/null 2>&1
  h2load --h1 -t 1 -c 4 -n "$n" -H "authorization: $BEARER" "http://127.0.0.1:$port/orders" >"$dir/run.$1" 2>&1 \
    || { cat "$dir/run.$1" >&2; die "h2load failed"; }
  grep -q "status codes: $n 2xx" "$dir/run.$1" || { cat "$dir/run.$1" >&2; die "Envoy ($1) answered other than 200"; }
  callgrind_control -d "$vg" >/dev/null 2>&1
  if [ "$1" = fast ]; then
    local admin allowed
    admin=$(echo "$line" | awk '{ print $4 }')
    allowed=$(curl -sS "http://127.0.0.1:$admin/stats?filter=dcr_fast_.shadow_allowed" | awk -F': ' '{ print $2 }')
    [ "${allowed:-0}" -ge "$n" ] || die "the fast path allowed $allowed of the $n requests: it was not what was measured"
  fi
  exec 9>&-
  wait "$pid" || true
  # The dump after the zeroing: one file per thread, each with its "summary:" total.
  local busiest
  # (callgrind_control's dump is cg.PID.1-THREAD; the one at exit, cg.PID-THREAD.)
  busiest=$(cat "$dir"/cg.*.1-* 2>/dev/null | awk '/^summary:/ { print $2 }' | sort -n | tail -1)
  [ -n "$busiest" ] || { ls "$dir" >&2; die "no callgrind dump for $1"; }
  echo $(( busiest / n ))
}

echo
echo "== Envoy 1.40's worker, instructions per request (callgrind, $n requests after 200 to warm up)"
declare -A ir=()
for mode in none jwt_authn fast; do
  ir[$mode]=$(per_request "$mode")
  printf '  %-10s %8d\n' "$mode" "${ir[$mode]}"
done
python3 - "${ir[none]}" "${ir[jwt_authn]}" "${ir[fast]}" <<'EOF'
import sys
plain, jwt, fast = (int(x) for x in sys.argv[1:])
print(f"  jwt_authn adds {jwt - plain} to the plain proxy's; the fast path adds {fast - plain} ({(fast - plain) / max(jwt - plain, 1):.2f}x jwt_authn's)")
print(f"  fast/jwt_authn by instructions (higher is faster): {jwt / fast:.3f}")
EOF
