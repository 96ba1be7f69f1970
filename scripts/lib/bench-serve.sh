# bench_exe and serve_bench.
#
# serve_bench NAME SECONDS EXE ARGS... (sourced by the bench scripts after test-env.sh):
# runs `EXE serve DIR ARGS...` in the background with its log in DIR/stack.log, stops it
# (SIGINT) and the test environment on exit, waits up to SECONDS for DIR/ready, and
# sources DIR/env. Sets `dir` and `stack_pid`.
# bench_exe PACKAGE BENCH: builds that release bench target (cargo bench --no-run) and
# prints its executable's path; dies when there is none.
bench_exe() {
  local exe
  exe=$(cargo bench -p "$1" --bench "$2" --no-run --message-format=json 2>/dev/null \
    | jq -r --arg name "$2" 'select(.reason == "compiler-artifact" and .target.name == $name and .executable != null) | .executable' | tail -1)
  [ -x "$exe" ] || die "could not build the $2 bench (cargo bench -p $1 --bench $2 --no-run)"
  echo "$exe"
}

serve_bench() {
  local name=$1 seconds=$2 exe=$3
  shift 3
  dir=$(mktemp -d "$work/$name.XXXXXX")
  "$exe" serve "$dir" "$@" 2>"$dir/stack.log" &
  stack_pid=$!
  trap 'kill -INT $stack_pid 2>/dev/null || true; wait $stack_pid 2>/dev/null || true; cleanup' EXIT
  local _
  for _ in $(seq 1 $((seconds * 5))); do
    [ -f "$dir/ready" ] && break
    kill -0 "$stack_pid" 2>/dev/null || { tail -30 "$dir/stack.log" >&2; die "the $name bench setup exited"; }
    sleep 0.2
  done
  [ -f "$dir/ready" ] || die "the $name bench setup did not get ready in $seconds s"
  # shellcheck disable=SC1091
  source "$dir/env"
}
