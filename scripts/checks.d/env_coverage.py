"""Checks that docker-compose.yml and every kustomize overlay give each service the environment
variables it requires (run by 62-required-env with the checks' venv, which has PyYAML).

Where the list comes from:
  * deploy/required-env.txt: `<target> <VARIABLE> [optional]` lines, the variables each target's
    compose service and Kubernetes container must set (`optional`: known, deliberately left to
    its default). Targets are the four services and `migrate` (eventstore-service migrate).
  * the code: every variable a service reads — its `ENV_VARS` table (name, default, meaning;
    what `--help` prints), `Vars`/`env_*` reader calls and clap `env = "…"` attributes in
    `<crate>/src` — and every `${VAR}` in config/deltabase.toml (interpolated by the event store).

It fails when
  * a listed variable is not read by the code any more (a stale list);
  * the code reads a variable that no deployment can do without and the list does not name it:
    read with no default (`required`), defaulting to localhost (wrong inside a container), a
    secret (its absence may switch authentication off), or interpolated into the config file;
  * compose or a rendered overlay lacks a target, or a listed variable for it.

Usage: env_coverage.py REPO_ROOT [--compose FILE] [--rendered NAME=FILE ...]
  (--rendered: an overlay's `kubectl kustomize` output; by default it renders them itself.)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import yaml

SERVICES = ["eventstore-service", "command-service", "projection-service", "query-service"]
# The crate whose code a target runs.
CRATE_OF = {name: name for name in SERVICES} | {"migrate": "eventstore-service"}
# Variables read by the shared service kit (shared-domain/src/service) on behalf of every service.
KIT_DIR = "shared-domain/src/service"

VAR = r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)"
# Reader calls whose first argument is a variable name. `required` ones have no default.
READ_CALL = re.compile(
    r"\b(or|opt|raw|required|duration_ms|duration_secs|flag|env_or|env_opt|env_required|"
    r"env_duration_ms|var|var_os)\s*(?:::\s*<[^()]*?>)?\s*\(\s*\"" + VAR + r"\"")
CLAP_ENV = re.compile(r"\benv\s*=\s*\"" + VAR + r"\"")
# An ENV_VARS-style table row: ("NAME", default-expression, "meaning").
TABLE_ROW = re.compile(r"\(\s*\"" + VAR + r"\"\s*,\s*([^,()]+?|\"[^\"]*\")\s*,\s*\"")
CONST_STR = re.compile(r"const\s+([A-Z][A-Z0-9_]*)\s*:\s*&(?:'static\s+)?str\s*=\s*\"([^\"]*)\"")
SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class Problems(list):
    def add(self, message: str) -> None:
        self.append(message)


def rust_sources(root: Path, rel: str) -> list[Path]:
    base = root / rel
    return sorted(base.rglob("*.rs")) if base.is_dir() else []


def strip_tests(text: str) -> str:
    """Drops `#[cfg(test)] mod … { … }` blocks (brace-matched), so test fixtures do not count."""
    out, i = [], 0
    marker = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")
    while (m := marker.search(text, i)) is not None:
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


class CodeVars:
    """What one crate's code reads: name → (has_default, default text or None)."""

    def __init__(self, root: Path, crate: str):
        self.read: dict[str, tuple[bool, str | None]] = {}
        self.literals: set[str] = set()
        texts = [strip_tests(p.read_text()) for p in rust_sources(root, f"{crate}/src")]
        consts = {}
        for text in texts:
            consts.update(CONST_STR.findall(text))
        for text in texts:
            self.literals.update(re.findall(r"\"" + VAR + r"\"", text))
            for call, name in READ_CALL.findall(text):
                self._note(name, call not in ("required", "env_required"), None)
            for name in CLAP_ENV.findall(text):
                self._note(name, True, None)
            if "ENV_VARS" in text:
                for name, default in TABLE_ROW.findall(text):
                    default = default.strip()
                    value = default[1:-1] if default.startswith('"') else consts.get(default, default)
                    self._note(name, True, value)

    def _note(self, name: str, has_default: bool, default: str | None) -> None:
        old_has, old_default = self.read.get(name, (True, None))
        self.read[name] = (old_has and has_default, default or old_default)


def load_required(path: Path, problems: Problems) -> dict[str, dict[str, bool]]:
    """target → {VARIABLE: must_set}."""
    listed: dict[str, dict[str, bool]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) not in (2, 3) or (len(words) == 3 and words[2] != "optional") \
                or words[0] not in CRATE_OF or not re.fullmatch(VAR, words[1]):
            problems.add(f"{path.name}:{number}: expected `<target> <VARIABLE> [optional]` with a "
                         f"target among {', '.join(CRATE_OF)}: {line.strip()!r}")
            continue
        listed.setdefault(words[0], {})[words[1]] = len(words) == 2
    return listed


def config_vars(root: Path) -> set[str]:
    path = root / "config/deltabase.toml"
    if not path.exists():
        return set()
    # TOML comments start at a `#` outside strings; the file keeps `#` out of its strings.
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    # `${NAME}` and `${NAME:-default}`; `$${` is a literal.
    return set(re.findall(r"(?<!\$)\$\{" + VAR + r"(?:\}|:-)", text))


def compose_env(path: Path, problems: Problems) -> dict[str, set[str]]:
    doc = yaml.safe_load(path.read_text()) or {}
    found = {}
    for name, service in (doc.get("services") or {}).items():
        env = (service or {}).get("environment") or {}
        if isinstance(env, list):
            found[name] = {str(item).split("=", 1)[0] for item in env}
        else:
            found[name] = set(env)
    return found


def rendered_env(text: str, overlay: str, problems: Problems) -> dict[str, set[str]]:
    """container name → variable names, with envFrom ConfigMaps/Secrets resolved where rendered."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    data_keys = {}
    for d in docs:
        if d.get("kind") in ("ConfigMap", "Secret"):
            keys = set((d.get("data") or {})) | set((d.get("stringData") or {}))
            data_keys[(d["kind"], d["metadata"]["name"])] = keys
    found: dict[str, set[str]] = {}
    for d in docs:
        kind = d.get("kind")
        if kind not in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
            continue
        spec = d["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else d["spec"]
        for container in spec["template"]["spec"].get("containers", []):
            names = {e["name"] for e in container.get("env") or []}
            for source in container.get("envFrom") or []:
                prefix = source.get("prefix", "")
                for ref_kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in source:
                        ref = source[key]["name"]
                        if (ref_kind, ref) in data_keys:
                            names |= {prefix + k for k in data_keys[(ref_kind, ref)]}
                        elif not source[key].get("optional"):
                            problems.add(f"{overlay}: {kind} {d['metadata']['name']} takes envFrom "
                                         f"{ref_kind} {ref}, which the overlay does not render: "
                                         f"name its keys with env/secretKeyRef instead")
            found.setdefault(container["name"], set()).update(names)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--compose", type=Path)
    parser.add_argument("--rendered", action="append", default=[], metavar="NAME=FILE")
    args = parser.parse_args()
    root: Path = args.root
    problems = Problems()

    listed = load_required(root / "deploy/required-env.txt", problems)
    kit = CodeVars(root, KIT_DIR)
    code = {crate: CodeVars(root, crate) for crate in SERVICES}
    interpolated = config_vars(root)

    for target, crate in CRATE_OF.items():
        mine = listed.get(target, {})
        reads = code[crate]
        if not reads.read:
            print(f"   note: {crate}/src reads no variables yet: its list is not checked against code")
            continue
        # 1. Nothing stale: every listed variable is read by the code (or interpolated).
        for name in mine:
            if name in reads.read or name in reads.literals or name in kit.read \
                    or (crate == "eventstore-service" and name in interpolated):
                continue
            problems.add(f"required-env.txt lists {name} for {target}, but {crate}/src never reads "
                         f"it: remove the line, or fix the name")
        # 2. Nothing missing: what a deployment cannot do without is listed.
        if target == "migrate":
            continue  # `migrate` runs a subset of the event store's code: listed by hand.
        needed = {}
        for name, (has_default, default) in reads.read.items():
            if not has_default:
                needed[name] = "is read with no default"
            elif default and any(host in default for host in LOCAL_HOSTS):
                needed[name] = f"defaults to {default}, which is wrong inside a container"
            elif any(word in name for word in SECRET_WORDS):
                needed[name] = "is a secret (unset may mean authentication is off)"
        if crate == "eventstore-service":
            for name in interpolated:
                needed[name] = "is interpolated into config/deltabase.toml"
        for name, why in sorted(needed.items()):
            if name not in mine:
                problems.add(f"{crate} reads {name}, which {why}; add `{target} {name}` to "
                             f"deploy/required-env.txt (or `{target} {name} optional` if a "
                             f"deployment may leave it unset), and set it in compose and deploy/")

    must = {t: {v for v, m in vs.items() if m} for t, vs in listed.items()}

    # 3. Compose names every required variable.
    compose_file = args.compose or root / "docker-compose.yml"
    compose = compose_env(compose_file, problems)
    for target, names in must.items():
        if target not in compose:
            problems.add(f"{compose_file.name}: no service {target}")
            continue
        for name in sorted(names - compose[target]):
            problems.add(f"{compose_file.name}: service {target} does not set {name}")

    # 4. So does every overlay.
    rendered = dict(item.split("=", 1) for item in args.rendered)
    if not rendered:
        for overlay in sorted((root / "deploy/overlays").iterdir()):
            if (overlay / "kustomization.yaml").exists():
                rendered[overlay.name] = subprocess.run(
                    ["kubectl", "kustomize", str(overlay)], check=True, capture_output=True,
                    text=True).stdout
    else:
        rendered = {name: Path(file).read_text() for name, file in rendered.items()}
    for overlay, text in rendered.items():
        containers = rendered_env(text, overlay, problems)
        for target, names in must.items():
            if target not in containers:
                problems.add(f"overlay {overlay}: no container named {target}")
                continue
            for name in sorted(names - containers[target]):
                problems.add(f"overlay {overlay}: container {target} does not set {name}")

    for message in problems:
        print(f"error: {message}", file=sys.stderr)
    if problems:
        return 1
    counted = sum(len(v) for v in must.values())
    print(f"   compose and {len(rendered)} overlays set all {counted} required variables "
          f"of {len(must)} targets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
