# shellcheck shell=bash
# Sourced by the checks that prove other checks can fail (not executable itself). Gives
# fresh_copy, mutate, expect_reject, expect_pass and a $failures count; cleans up on exit.

WORK=$(mktemp -d -t deltabase-checks.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0

# A copy of what the checks read: manifests, compose, config and the services' sources.
fresh_copy() {
  local dir="$WORK/$1"
  mkdir -p "$dir/shared-domain/src"
  cp -r "$REPO_ROOT/deploy" "$REPO_ROOT/config" "$REPO_ROOT/docker-compose.yml" "$REPO_ROOT/Dockerfile" "$dir/"
  cp -r "$REPO_ROOT/shared-domain/src/service" "$dir/shared-domain/src/"
  local crate
  for crate in eventstore-service command-service projection-service query-service; do
    mkdir -p "$dir/$crate" && cp -r "$REPO_ROOT/$crate/src" "$dir/$crate/"
  done
  echo "$dir"
}

# mutate FILE OLD NEW: replaces the first OLD (a fixed string) with NEW; fails if absent.
mutate() {
  python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(f"mutation target {old!r} not found in {path}")
open(path, "w").write(text.replace(old, new, 1))
PY
}

# expect_reject NAME EXPECTED-TEXT CMD...: CMD must fail and print EXPECTED-TEXT.
expect_reject() {
  local name=$1 expected=$2 out
  shift 2
  if out=$("$@" 2>&1); then
    echo "FAIL: $name: the check accepted it"; failures=$((failures + 1))
  elif ! grep -qF -- "$expected" <<<"$out"; then
    echo "FAIL: $name: rejected, but without naming '$expected':"; sed 's/^/    /' <<<"$out" | tail -n 5
    failures=$((failures + 1))
  else
    check_log "rejected as expected: $name"
  fi
}

expect_pass() {
  local name=$1 out
  shift
  out=$("$@" 2>&1) || { echo "FAIL: control '$name' does not pass:"; sed 's/^/    /' <<<"$out" | tail -n 5; exit 1; }
}

# finish: the verdict of a can-fail check.
finish() {
  if ((failures)); then
    echo "error: $failures mutation(s) were not rejected as they must be" >&2
    exit 1
  fi
  check_log "$1"
}
