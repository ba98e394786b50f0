# shellcheck shell=bash
# Sourced by the checks that run one whole-stack e2e test on its own (70-soak, 71-schemathesis;
# .config/nextest.toml keeps them out of the main run). Not executable itself.
#
# run_e2e_alone BINARY TEST: runs test TEST of e2e-tests' test binary BINARY with the very build
# the main run made (`--workspace --all-features`, so nothing is compiled again), on the service
# binaries that build left in <target>/debug (E2E_BIN_DIR: the harness then builds nothing with
# another feature set, which would recompile TLS and the services twice per check).
run_e2e_alone() {
  local binary=$1 test=$2 root target
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  target=${CARGO_TARGET_DIR:-target}
  [[ $target == /* ]] || target="$root/$target"
  export E2E_BIN_DIR="$target/debug"
  cd "$root"
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --no-fail-fast --no-capture \
      --ignore-default-filter -E "binary($binary) & test(=$test)"
  else
    cargo test --workspace --all-features --tests -- --exact "$test" --nocapture
  fi
}
