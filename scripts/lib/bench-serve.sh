# serve_bench NAME SECONDS EXE ARGS... (sourced by the bench scripts after test-env.sh):
# runs `EXE serve DIR ARGS...` in the background with its log in DIR/stack.log, stops it
# (SIGINT) and the test environment on exit, waits up to SECONDS for DIR/ready, and
# sources DIR/env. Sets `dir` and `stack_pid`.
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
