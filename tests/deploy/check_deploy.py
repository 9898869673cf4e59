#!/usr/bin/python3
"""Checks the Kubernetes base (harness/deploy/kubernetes) and the container
image definition (harness/deploy/container/Containerfile) against the code:

 1. every YAML file parses, kinds and apiVersions are the expected ones,
    kustomization.yaml lists files that exist (and every manifest is listed);
 2. references resolve: Secrets, ConfigMaps, PVCs, volumes and mounts,
    Service selectors and ports, the agent's --scheduler address, the paths
    the commands are given, and the PKI file names in the secretGenerator
    (those `hil certs init` writes, never ca.key);
 3. the pods' commands are real `hil` commands: every flag is in the
    subcommand's --help, and they are the subcommands and flags the Slurm
    path runs (`hil rack slurm`'s batch script, docs/deployment.md, test_slurm);
 4. the Containerfile builds `hil` with ci/bootstrap.sh and the release
    preset, its runtime stage installs the Debian packages that provide every
    library `ldd hil` resolves, and its ENTRYPOINT is hil;
 5. where kubectl is on PATH: `kubectl kustomize` renders the base with a
    PKI from `hil certs init`, and the generated names reach the pod specs.

Usage: check_deploy.py HIL SOURCE_DIR
Exit: 0 all checks passed, 1 a check failed, 77 python3-yaml is missing.
HIL_DEPLOY_ALLOW_MISSING=--health-dir tolerates that one flag missing from
`hil agent --help` (before it is merged); by default every flag must exist.
"""

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed (Debian: apt-get install python3-yaml)")
    sys.exit(77)

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
EXPECTED_KINDS = {"StatefulSet": "apps/v1", "Deployment": "apps/v1", "Service": "v1"}
SCHEDULER, RACK = "hil-scheduler", "hil-rack"
# What the commands read from their --tls folder (harness/src/tls.cpp:
# scheduler_tls_from_dir with mutual TLS, board_tls_from_dir).
TLS_NEEDS = {"serve": {"ca.pem", "scheduler.pem", "scheduler.key"},
             "agent": {"ca.pem", "board.pem", "board.key"}}
# Keys a pod must never hold: the CA's key always; an agent no scheduler or client key.
TLS_FORBIDDEN = {"serve": {"ca.key", "board.key", "client.key"},
                 "agent": {"ca.key", "scheduler.key", "client.key"}}
# Flags the Kubernetes pods add to the Slurm path's command, and why.
K8S_ONLY_FLAGS = {"agent": {"--health-dir": "readiness and liveness probes (Slurm has none)"}}
# Flags the Slurm path passes that the pods give another way.
SLURM_ONLY_FLAGS = {"serve": {"--secret": "the pods take HIL_SECRET from a Secret, never argv"}}
# In debian:bookworm-slim already.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
DEFAULT_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

failures = []


def ok(msg):
    print(f"  ok: {msg}")


def fail(where, field, msg):
    failures.append(f"{where}: {field}: {msg}")
    print(f"  FAIL: {where}: {field}: {msg}")


def section(title):
    print(f"\n== {title}")


def run(argv, cwd=None, env=None):
    p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    return p.returncode, p.stdout


def rel(path):
    return os.path.relpath(path, SRC)


# --------------------------------------------------------------- inputs
if len(sys.argv) != 3:
    print(__doc__)
    sys.exit(2)
HIL, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
K8S = os.path.join(SRC, "harness/deploy/kubernetes")
CONTAINERFILE = os.path.join(SRC, "harness/deploy/container/Containerfile")
README = os.path.join(K8S, "README.md")
KUSTOMIZATION = os.path.join(K8S, "kustomization.yaml")
if not os.access(HIL, os.X_OK):
    print(f"FAIL: {HIL}: not an executable (build the hil target first)")
    sys.exit(1)
allowed_missing = set(filter(None, os.environ.get("HIL_DEPLOY_ALLOW_MISSING", "").split(",")))
if allowed_missing - {"--health-dir"}:
    print(f"FAIL: HIL_DEPLOY_ALLOW_MISSING may name --health-dir only, not {sorted(allowed_missing)}")
    sys.exit(1)
readme_text = open(README).read() if os.path.exists(README) else ""
work = tempfile.mkdtemp(prefix="hil-deploy-check-")


def path_get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


# ------------------------------------------------- 1. parse, kinds, files
section("1. YAML parses; kinds, apiVersions; kustomization.yaml lists files that exist")
parsed = {}  # path -> [docs]
for root, _, files in os.walk(K8S):
    for f in sorted(files):
        if f.endswith((".yaml", ".yml")):
            p = os.path.join(root, f)
            try:
                parsed[p] = [d for d in yaml.safe_load_all(open(p)) if d is not None]
                ok(f"{rel(p)} parses ({len(parsed[p])} document(s))")
            except yaml.YAMLError as e:
                fail(rel(p), "YAML", f"does not parse: {e}")
if KUSTOMIZATION not in parsed:
    fail(rel(KUSTOMIZATION), "file", "missing or unparsable")
    print("\nFAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
kust = parsed[KUSTOMIZATION][0]
kname = rel(KUSTOMIZATION)
if kust.get("apiVersion") != KUSTOMIZE_API or kust.get("kind") != "Kustomization":
    fail(kname, "apiVersion/kind",
         f"{kust.get('apiVersion')}/{kust.get('kind')}, expected {KUSTOMIZE_API}/Kustomization")
else:
    ok(f"{kname} is a {KUSTOMIZE_API} Kustomization")

objects = []  # (file, doc)
listed = set()
for r in kust.get("resources") or []:
    p = os.path.normpath(os.path.join(K8S, r))
    listed.add(p)
    if not os.path.isfile(p):
        fail(kname, "resources", f"{r} does not exist")
        continue
    for d in parsed.get(p, []):
        objects.append((rel(p), d))
    ok(f"resource {r} exists")
for p in parsed:
    if p != KUSTOMIZATION and p not in listed:
        fail(rel(p), "resources", f"not listed in {kname}: kustomize would not apply it")
for f, d in objects:
    kind, api, name = d.get("kind"), d.get("apiVersion"), path_get(d, "metadata", "name")
    if kind not in EXPECTED_KINDS:
        fail(f, "kind", f"{kind} ({name}) is none of {sorted(EXPECTED_KINDS)}")
    elif api != EXPECTED_KINDS[kind]:
        fail(f, "apiVersion", f"{kind} {name} has {api}, expected {EXPECTED_KINDS[kind]}")
    elif not name:
        fail(f, "metadata.name", f"{kind} without a name")
    else:
        ok(f"{f}: {api} {kind} {name}")


def find(kind, name):
    hits = [(f, d) for f, d in objects if d.get("kind") == kind and path_get(d, "metadata", "name") == name]
    if len(hits) != 1:
        fail(kname, "resources", f"expected one {kind} named {name}, found {len(hits)}")
        return None, None
    return hits[0]


sts_file, sts = find("StatefulSet", SCHEDULER)
svc_file, svc = find("Service", SCHEDULER)
dep_file, dep = find("Deployment", RACK)
workloads = [(f, d) for f, d in objects if d.get("kind") in ("StatefulSet", "Deployment")]
services = [(f, d) for f, d in objects if d.get("kind") == "Service"]

# ------------------------------------------- 2. references resolve
section("2. References resolve: Secrets, volumes, mounts, Service, addresses, PKI files")

# What `hil certs init` (and `hil certs revoke`, which writes crl.pem) put in a PKI folder.
pki = os.path.join(work, "pki")
rc, out = run([HIL, "certs", "init", pki, "--host", SCHEDULER])
if rc != 0:
    fail(HIL, "certs init", f"exit {rc}: {out.strip()}")
pki_files = set(os.listdir(pki)) if os.path.isdir(pki) else set()
rc, out = run([HIL, "certs", "revoke", pki, "client"])
if rc == 0 and os.path.exists(os.path.join(pki, "crl.pem")):
    pki_files.add("crl.pem")
print(f"  `hil certs init` (+ revoke) writes: {', '.join(sorted(pki_files))}")

generated = {}  # Secret/ConfigMap name -> {"kind", "keys": set or None (env files), "envs"}
for gen_kind, field in (("Secret", "secretGenerator"), ("ConfigMap", "configMapGenerator")):
    for g in kust.get(field) or []:
        gname = g.get("name")
        keys, env_files = set(), []
        for spec in g.get("files") or []:
            key, _, path = spec.rpartition("=") if "=" in spec else (None, None, spec)
            base = os.path.basename(path)
            keys.add(key or base)
            if gen_kind == "Secret":
                if base == "ca.key" or (key or "") == "ca.key":
                    fail(kname, f"{field}[{gname}].files", f"{spec}: the CA key never goes into a Secret")
                elif base not in pki_files:
                    fail(kname, f"{field}[{gname}].files",
                         f"{spec}: {base} is not a file `hil certs init` writes ({', '.join(sorted(pki_files))})")
                else:
                    ok(f"{field} {gname}: {spec} is a rack PKI file")
        for spec in g.get("envs") or []:
            env_files.append(spec)
        for lit in g.get("literals") or []:
            if gen_kind == "Secret":
                fail(kname, f"{field}[{gname}].literals", "a secret's value in the repository")
            keys.add(lit.split("=", 1)[0])
        generated[gname] = {"kind": gen_kind, "keys": keys, "envs": env_files}


def secret_keys(name):
    """Keys of a generated Secret; an env file's are the KEY= that README.md writes into it."""
    g = generated[name]
    keys = set(g["keys"])
    for env_file in g["envs"]:
        for line in readme_text.splitlines():
            if os.path.basename(env_file) in line:
                keys |= set(re.findall(r"\b([A-Z_][A-Z0-9_]*)=", line))
    return keys


def check_ref(where, field, kind, name, optional, key=None):
    g = generated.get(name)
    if g and g["kind"] == kind:
        if key is not None and key not in secret_keys(name):
            fail(where, field, f"key {key} is not in {kind} {name} (keys: {sorted(secret_keys(name))})")
        else:
            ok(f"{where}: {field} -> generated {kind} {name}" + (f" key {key}" if key else ""))
    elif optional and re.search(rf"\b{re.escape(name)}\b", readme_text):
        ok(f"{where}: {field} -> optional {kind} {name}, made by hand as README.md says")
    elif optional:
        fail(where, field, f"optional {kind} {name} is neither generated nor explained in README.md")
    else:
        fail(where, field, f"{kind} {name} is not defined by {kname}'s generators")


def argv_of(container, entrypoint):
    return list(container.get("command") or entrypoint or []) + [str(a) for a in container.get("args") or []]


def flag_value(argv, flag):
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def under(path, mount):
    return path == mount or path.startswith(mount.rstrip("/") + "/")


# The image's ENTRYPOINT (section 4 checks the Containerfile itself).
entrypoint = None
if os.path.exists(CONTAINERFILE):
    m = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", open(CONTAINERFILE).read(), re.M)
    if m:
        entrypoint = json.loads(m.group(1))

# The Slurm script: built here, used in 2 (drain time) and 3 (flags).
slurm_dir = os.path.join(work, "slurm")
os.makedirs(slurm_dir)
slurm_script = os.path.join(slurm_dir, "rack.sbatch")
rc, slurm_help = run([HIL, "rack", "slurm", "--help"])
slurm_args = ["--boards", "8", "--boards-per-task", "4", "--scheduler", f"{SCHEDULER}:7600",
              "--tls", pki, "--script", slurm_script, "--log-dir", slurm_dir,
              "--cache", os.path.join(slurm_dir, "cache"), "--no-submit"]
for a in slurm_args:
    if a.startswith("--") and a not in set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", slurm_help)):
        fail("hil rack slurm --help", a, "no such flag: this test's Slurm invocation is out of date")
rc, out = run([HIL, "rack", "slurm"] + slurm_args, cwd=slurm_dir)
slurm_text = open(slurm_script).read() if rc == 0 and os.path.exists(slurm_script) else ""
if not slurm_text:
    fail("hil rack slurm --no-submit", "script", f"exit {rc}: {out.strip()}")

pod_specs = []  # (file, workload kind, name, pod spec, template labels)
for f, w in workloads:
    wname = path_get(w, "metadata", "name")
    where = f"{f} {w['kind']} {wname}"
    tmpl = path_get(w, "spec", "template", default={})
    labels = path_get(tmpl, "metadata", "labels", default={}) or {}
    spec = tmpl.get("spec") or {}
    sel = path_get(w, "spec", "selector", "matchLabels", default={}) or {}
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        fail(where, "spec.selector.matchLabels", f"{sel} does not match the template's labels {labels}")
    else:
        ok(f"{where}: selector matches its template's labels")
    pod_specs.append((f, w["kind"], wname, spec, labels))

    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    claims = {path_get(c, "metadata", "name") for c in path_get(w, "spec", "volumeClaimTemplates", default=[]) or []}
    for vname, v in volumes.items():
        vf = f"spec.template.spec.volumes[{vname}]"
        if "secret" in v:
            check_ref(where, vf, "Secret", v["secret"].get("secretName"), v["secret"].get("optional", False))
        if "configMap" in v:
            check_ref(where, vf, "ConfigMap", v["configMap"].get("name"), v["configMap"].get("optional", False))
        for src in path_get(v, "projected", "sources", default=[]) or []:
            for k, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                if k in src:
                    check_ref(where, vf + ".projected", kind, src[k].get("name"), src[k].get("optional", False))
        if "persistentVolumeClaim" in v:
            fail(where, vf, f"claim {v['persistentVolumeClaim'].get('claimName')}: no PersistentVolumeClaim "
                            "is defined here (use volumeClaimTemplates)")
    for ps in spec.get("imagePullSecrets") or []:
        check_ref(where, "imagePullSecrets", "Secret", ps.get("name"), False)

    def secret_files_of(vname):
        v = volumes.get(vname) or {}
        names = []
        if "secret" in v:
            names.append(v["secret"].get("secretName"))
        names += [s["secret"].get("name") for s in path_get(v, "projected", "sources", default=[]) or [] if "secret" in s]
        files = set()
        for n in names:
            if n in generated:
                files |= generated[n]["keys"]
        return files

    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        cwhere = f"{where} container {c.get('name')}"
        mounts = {}
        for vm in c.get("volumeMounts") or []:
            if vm.get("name") in volumes or vm.get("name") in claims:
                ok(f"{cwhere}: volumeMount {vm.get('name')} at {vm.get('mountPath')} names a volume of the pod")
                mounts[vm.get("mountPath")] = vm
            else:
                fail(cwhere, f"volumeMounts[{vm.get('name')}]", "names no volume or volumeClaimTemplate of the pod")
        env_names = []
        for e in c.get("env") or []:
            ref = path_get(e, "valueFrom", "secretKeyRef")
            if ref:
                check_ref(cwhere, f"env[{e.get('name')}].secretKeyRef", "Secret", ref.get("name"),
                          ref.get("optional", False), ref.get("key"))
            ref = path_get(e, "valueFrom", "configMapKeyRef")
            if ref:
                check_ref(cwhere, f"env[{e.get('name')}].configMapKeyRef", "ConfigMap", ref.get("name"),
                          ref.get("optional", False))
            env_names.append(e.get("name"))
        for e in c.get("envFrom") or []:
            for k, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if k in e:
                    check_ref(cwhere, f"envFrom.{k}", kind, e[k].get("name"), e[k].get("optional", False))

        argv = argv_of(c, entrypoint)
        # $(VAR) in command/args expands only from the container's own env.
        for i, a in enumerate(argv):
            for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
                if var in env_names:
                    ok(f"{cwhere}: $({var}) is defined in its env")
                else:
                    fail(cwhere, "args", f"$({var}) is not in the container's env: Kubernetes passes it literally")
        if len(argv) < 2 or os.path.basename(argv[0]) != "hil":
            continue  # section 3 reports it
        sub = argv[1]

        # The rack secret: from a Secret into HIL_SECRET, never on the command line.
        secret_env = next((e for e in c.get("env") or [] if e.get("name") == "HIL_SECRET"), None)
        if "--secret" in argv or any(a.startswith("--secret=") for a in argv):
            fail(cwhere, "args", "--secret on the command line: use HIL_SECRET from a Secret")
        if not secret_env or not path_get(secret_env, "valueFrom", "secretKeyRef"):
            fail(cwhere, "env[HIL_SECRET]", "the rack secret must come from a Secret (secretKeyRef)")
        else:
            ok(f"{cwhere}: HIL_SECRET comes from Secret {secret_env['valueFrom']['secretKeyRef'].get('name')}")

        # --tls DIR: a mounted Secret holding what the role reads, and no more than it may.
        tls = flag_value(argv, "--tls")
        if sub in TLS_NEEDS:
            vm = mounts.get(tls)
            if not tls or not vm:
                fail(cwhere, "--tls", f"{tls} is not the mountPath of a volume")
            else:
                files = secret_files_of(vm["name"])
                missing = TLS_NEEDS[sub] - files
                extra = TLS_FORBIDDEN[sub] & files
                if missing:
                    fail(cwhere, f"volumes[{vm['name']}]", f"`hil {sub} --tls {tls}` needs {sorted(missing)}, "
                                                             f"the mounted Secret has {sorted(files)}")
                elif extra:
                    fail(cwhere, f"volumes[{vm['name']}]", f"holds {sorted(extra)}: not for `hil {sub}`")
                else:
                    ok(f"{cwhere}: --tls {tls} holds {', '.join(sorted(files))}")
        if sub == "serve":
            if "--mtls" not in argv:
                fail(cwhere, "args", "hil serve without --mtls: boards must present rack certificates")
            db = flag_value(argv, "--db") or ""
            vm = mounts.get(os.path.dirname(db))
            if not vm or vm["name"] not in claims:
                fail(cwhere, "--db", f"{db}: its folder must be the mountPath of a volumeClaimTemplate")
            else:
                ok(f"{cwhere}: --db {db} is on volumeClaimTemplate {vm['name']}")
        if sub == "agent":
            cache = flag_value(argv, "--cache") or ""
            vm = next((vm for mp, vm in mounts.items() if under(cache, mp)), None)
            if not vm or vm.get("readOnly"):
                fail(cwhere, "--cache", f"{cache} is not on a writable volume")
            else:
                ok(f"{cwhere}: --cache {cache} is on volume {vm['name']}")
            health = flag_value(argv, "--health-dir")
            vm = mounts.get(health)
            if not health or not vm or "emptyDir" not in volumes.get(vm["name"], {}):
                fail(cwhere, "--health-dir", f"{health} is not the mountPath of an emptyDir")
            else:
                ok(f"{cwhere}: --health-dir {health} is emptyDir {vm['name']}")
                for probe, file in (("readinessProbe", "ready"), ("livenessProbe", "alive")):
                    cmd = " ".join(path_get(c, probe, "exec", "command", default=[]) or [])
                    if f"{health}/{file}" not in cmd.split() and f"{health}/{file}" not in cmd:
                        fail(cwhere, probe, f"does not look at {health}/{file} (exec: {cmd!r})")
                    else:
                        ok(f"{cwhere}: {probe} looks at {health}/{file}")
            grace = path_get(spec, "terminationGracePeriodSeconds", default=30)
            m = re.search(r"--signal=B:TERM@(\d+)", slurm_text)
            if m and grace < int(m.group(1)):
                fail(where, "terminationGracePeriodSeconds",
                     f"{grace} s: the Slurm path gives the agent {m.group(1)} s to drain")
            elif m:
                ok(f"{where}: {grace} s to drain (the Slurm path gives {m.group(1)} s)")

if sts:
    if path_get(sts, "spec", "replicas", default=1) != 1:
        fail(sts_file, "spec.replicas", "the scheduler is one process: one SQLite writer")
    for r in kust.get("replicas") or []:
        if r.get("name") == SCHEDULER and r.get("count") != 1:
            fail(kname, "replicas", "the scheduler is one process: one SQLite writer")
    if svc and path_get(sts, "spec", "serviceName") != path_get(svc, "metadata", "name"):
        fail(sts_file, "spec.serviceName", f"{path_get(sts, 'spec', 'serviceName')} is not Service {SCHEDULER}")
    else:
        ok(f"{sts_file}: one replica, serviceName {SCHEDULER}")
for r in kust.get("replicas") or []:
    if not any(path_get(d, "metadata", "name") == r.get("name") for _, d in workloads):
        fail(kname, "replicas", f"{r.get('name')} is no Deployment or StatefulSet here")
image_names = {i.get("name") for i in kust.get("images") or []}
for f, kind, wname, spec, _ in pod_specs:
    for c in spec.get("containers") or []:
        if c.get("image") not in image_names:
            fail(f, f"containers[{c.get('name')}].image", f"{c.get('image')} is not in {kname}'s images")

for f, s in services:
    sname = path_get(s, "metadata", "name")
    sel = path_get(s, "spec", "selector", default={}) or {}
    hits = [(wf, k, n, spec) for wf, k, n, spec, labels in pod_specs
            if sel and all(labels.get(a) == b for a, b in sel.items())]
    if len(hits) != 1:
        fail(f, "spec.selector", f"Service {sname} {sel} selects {len(hits)} pod templates, expected one")
        continue
    wf, k, n, spec = hits[0]
    ok(f"{f}: Service {sname} selects the pods of {k} {n}")
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    for p in path_get(s, "spec", "ports", default=[]) or []:
        t = p.get("targetPort", p.get("port"))
        cp = next((q for q in ports if q.get("name") == t or q.get("containerPort") == t), None)
        if not cp:
            fail(f, "spec.ports.targetPort", f"{t} is no containerPort of {k} {n}")
        else:
            ok(f"{f}: port {p.get('port')} -> containerPort {cp.get('containerPort')} of {n}")

# The addresses: the scheduler listens on the Service's container port, the agents dial the Service.
if sts and svc:
    sport = path_get(svc, "spec", "ports", default=[{}])[0]
    for c in path_get(sts, "spec", "template", "spec", "containers", default=[]):
        listen = flag_value(argv_of(c, entrypoint), "--listen") or ""
        cport = next((q.get("containerPort") for q in c.get("ports") or []
                      if q.get("name") == sport.get("targetPort") or q.get("containerPort") == sport.get("targetPort")), None)
        if listen.rpartition(":")[2] != str(cport):
            fail(sts_file, f"containers[{c.get('name')}] --listen", f"{listen}: not the Service's target port {cport}")
        else:
            ok(f"{sts_file}: --listen {listen} is the Service's target port")
if dep and svc:
    sname, sport = path_get(svc, "metadata", "name"), path_get(svc, "spec", "ports", default=[{}])[0].get("port")
    for c in path_get(dep, "spec", "template", "spec", "containers", default=[]):
        addr = flag_value(argv_of(c, entrypoint), "--scheduler") or ""
        host, _, port = addr.rpartition(":")
        if (host != sname and not host.startswith(sname + ".")) or port != str(sport):
            fail(dep_file, f"containers[{c.get('name')}] --scheduler", f"{addr}: not Service {sname}:{sport}")
        else:
            ok(f"{dep_file}: --scheduler {addr} is Service {sname} port {sport}")

# ------------------------------------------------ 3. the commands are real
section("3. The pods run real `hil` commands, the ones the Slurm path runs")
help_flags = {}


def flags_of_help(sub):
    if sub not in help_flags:
        rc, out = run([HIL, sub, "--help"])
        if rc != 0:
            fail(f"hil {sub} --help", "exit", f"{rc}: {out.strip()[:200]}")
        help_flags[sub] = set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", out))
    return help_flags[sub]


def flags_of(argv):
    return {a.split("=", 1)[0] for a in argv if a.startswith("--")}


k8s_commands = {}  # subcommand -> (where, flags)
for f, kind, wname, spec, _ in pod_specs:
    for c in spec.get("containers") or []:
        where = f"{f} {kind} {wname} container {c.get('name')}"
        argv = argv_of(c, entrypoint)
        if not c.get("command") and not entrypoint:
            fail(where, "command", "no command, and no ENTRYPOINT in the Containerfile")
            continue
        if len(argv) < 2 or os.path.basename(argv[0]) != "hil" or argv[1].startswith("-"):
            fail(where, "command+args", f"{argv[:3]}...: not `hil <subcommand> ...`")
            continue
        sub, flags = argv[1], flags_of(argv)
        known = flags_of_help(sub)
        for fl in sorted(flags):
            if fl in known:
                ok(f"{where}: `hil {sub} {fl}` is in `hil {sub} --help`")
            elif fl in allowed_missing:
                print(f"  expected-missing: {where}: `hil {sub} {fl}` is not in `hil {sub} --help` "
                      f"(HIL_DEPLOY_ALLOW_MISSING={fl})")
            else:
                fail(where, "args", f"{fl} is not a flag of `hil {sub}` (hil {sub} --help)")
        k8s_commands[sub] = (where, flags)

# What the Slurm path runs.
slurm_commands = {}
m = re.search(r"^exec\s+(.*\bagent\b.*)$", slurm_text, re.M)
if m:
    argv = shlex.split(m.group(1))
    slurm_commands["agent"] = ("`hil rack slurm` batch script", flags_of(argv))
    print(f"  the Slurm batch script runs: hil agent {' '.join(sorted(flags_of(argv)))}")
elif slurm_text:
    fail("hil rack slurm --no-submit", "script", "no `exec HIL agent ...` line")
deploy_md = os.path.join(SRC, "docs/deployment.md")
serve_lines = re.findall(r"^\s*(hil serve .*?)(?:&\s*)?$", open(deploy_md).read(), re.M) if os.path.exists(deploy_md) else []
if serve_lines:
    flags = flags_of(shlex.split(serve_lines[0]))
    slurm_commands["serve"] = ("docs/deployment.md", flags)
    print(f"  docs/deployment.md runs: hil serve {' '.join(sorted(flags))}")
else:
    fail("docs/deployment.md", "hil serve", "no `hil serve ...` line to compare with")
test_slurm = os.path.join(SRC, "tests/integration/test_slurm.cpp")
m = re.search(r"Process serve\(\{(.*?)\}\);", open(test_slurm).read(), re.S) if os.path.exists(test_slurm) else None
if m and '"serve"' in m.group(1):
    test_serve_flags = set(re.findall(r'"(--[a-z0-9-]+)"', m.group(1)))
    print(f"  tests/integration/test_slurm.cpp runs: hil serve {' '.join(sorted(test_serve_flags))}")
else:
    fail("tests/integration/test_slurm.cpp", "Process serve", "no `hil serve` command to compare with")
    test_serve_flags = None

if set(k8s_commands) != set(slurm_commands):
    fail(kname, "subcommands", f"the pods run hil {sorted(k8s_commands)}, the Slurm path hil {sorted(slurm_commands)}")
else:
    ok(f"the pods run the Slurm path's subcommands: hil {', '.join(sorted(k8s_commands))}")
comparisons = [(sub, src, fl) for sub, (src, fl) in slurm_commands.items()]
if test_serve_flags is not None:
    comparisons.append(("serve", "tests/integration/test_slurm.cpp", test_serve_flags))
for sub, src, slurm_flags in comparisons:
    if sub not in k8s_commands:
        continue
    where, flags = k8s_commands[sub]
    k8s_only = K8S_ONLY_FLAGS.get(sub, {})
    slurm_only = SLURM_ONLY_FLAGS.get(sub, {})
    extra = flags - slurm_flags - set(k8s_only)
    missing = slurm_flags - flags - set(slurm_only)
    if extra:
        fail(where, "args", f"`hil {sub}` flags {sorted(extra)} are not in the Slurm path's ({src})")
    if missing:
        fail(where, "args", f"`hil {sub}` lacks {sorted(missing)}, which the Slurm path passes ({src})")
    if not extra and not missing:
        notes = [f"plus {k}: {v}" for k, v in k8s_only.items() if k in flags]
        notes += [f"without {k}: {v}" for k, v in slurm_only.items() if k in slurm_flags]
        ok(f"`hil {sub}` has the flags of {src}" + (": " + "; ".join(notes) if notes else ""))

# ------------------------------------------------------ 4. the Containerfile
section("4. Containerfile: builds hil with ci/bootstrap.sh and the release preset; runtime libraries; ENTRYPOINT")
cf = rel(CONTAINERFILE)
stages = []  # {"from", "name", "lines"}
if not os.path.exists(CONTAINERFILE):
    fail(cf, "file", "missing")
else:
    text = re.sub(r"\\\n", " ", open(CONTAINERFILE).read())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            stages.append({"from": m.group(1), "name": m.group(2), "lines": []})
        elif stages:
            stages[-1]["lines"].append(line)
if stages:
    builder, runtime = stages[0], stages[-1]
    if len(stages) < 2:
        fail(cf, "FROM", "expected a builder stage and a runtime stage")
    if builder["from"] != "debian:bookworm":
        fail(cf, "FROM (builder)", f"{builder['from']}, expected debian:bookworm (the packages CI builds with)")
    if runtime["from"] != "debian:bookworm-slim":
        fail(cf, "FROM (runtime)", f"{runtime['from']}, expected debian:bookworm-slim")
    if builder["from"] == "debian:bookworm" and runtime["from"] == "debian:bookworm-slim":
        ok(f"{cf}: builder FROM debian:bookworm, runtime FROM debian:bookworm-slim")
    brun = " ".join(l for l in builder["lines"] if l.upper().startswith("RUN"))
    presets = json.load(open(os.path.join(SRC, "CMakePresets.json")))
    base = {p["name"]: p for p in presets["configurePresets"]}
    p, binary_dir = base.get("release"), None
    while p and binary_dir is None:
        binary_dir = p.get("binaryDir")
        p = base.get(p.get("inherits")) if isinstance(p.get("inherits"), str) else None
    binary_dir = (binary_dir or "").replace("${sourceDir}/", "").replace("${presetName}", "release")
    for needle, why in (("ci/bootstrap.sh", "the build dependencies from Debian"),
                        ("cmake --preset release", "the release preset"),
                        (f"cmake --build {binary_dir} --target hil", f"the hil target in {binary_dir}")):
        if needle in brun:
            ok(f"{cf}: the builder runs `{needle}` ({why})")
        else:
            fail(cf, "RUN (builder)", f"does not run `{needle}` ({why})")
    if not os.path.exists(os.path.join(SRC, "ci/bootstrap.sh")):
        fail(cf, "RUN (builder)", "ci/bootstrap.sh does not exist")
    copy = next((l for l in runtime["lines"] if re.match(r"COPY\s+--from=", l, re.I)), "")
    m = re.match(r"COPY\s+--from=(\S+)\s+(\S+)\s+(\S+)", copy, re.I)
    ep = None
    m_ep = next((re.match(r"ENTRYPOINT\s+(.*)", l, re.I) for l in runtime["lines"] if l.upper().startswith("ENTRYPOINT")), None)
    if m_ep:
        try:
            ep = json.loads(m_ep.group(1))
        except ValueError:
            fail(cf, "ENTRYPOINT", f"{m_ep.group(1)}: not the exec (JSON) form, so signals would not reach hil")
    if ep != ["hil"]:
        fail(cf, "ENTRYPOINT", f"{ep}, expected [\"hil\"]")
    else:
        ok(f"{cf}: ENTRYPOINT [\"hil\"] (exec form: SIGTERM reaches hil, which drains)")
    if not m or m.group(1) != builder["name"] or not m.group(2).endswith(f"{binary_dir}/bin/hil"):
        fail(cf, "COPY --from", f"{copy!r}: expected the builder's {binary_dir}/bin/hil")
    elif os.path.dirname(m.group(3)) not in DEFAULT_PATH or os.path.basename(m.group(3)) != "hil":
        fail(cf, "COPY --from", f"{m.group(3)} is not hil on the image's PATH")
    else:
        ok(f"{cf}: copies {m.group(2)} to {m.group(3)}, on PATH")
    user = next((l.split()[1] for l in runtime["lines"] if l.upper().startswith("USER ")), None)
    uid = user.split(":")[0] if user else None
    for f, kind, wname, spec, _ in pod_specs:
        run_as = path_get(spec, "securityContext", "runAsUser")
        if run_as is not None and str(run_as) != uid:
            fail(f, "securityContext.runAsUser", f"{run_as}, the image's USER is {user}")
    if uid:
        ok(f"{cf}: USER {user}, as the pods' runAsUser")

    # Packages the runtime stage installs.
    pkgs = []
    for l in runtime["lines"]:
        for m in re.finditer(r"apt-get\s+install\s+([^;&|]*)", l):
            pkgs += [t for t in m.group(1).split() if not t.startswith("-")]
    print(f"  the runtime stage installs: {' '.join(pkgs)}")
    debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else ""
    if not shutil.which("dpkg-query") or not debian.startswith("12"):
        print(f"  skipped: the library check needs Debian 12's dpkg (this is {debian or 'not Debian'})")
    else:
        # Installed packages: dependencies and what they provide.
        rc, out = run(["dpkg-query", "-W", "-f", "${Package}\t${Status}\t${Depends}, ${Pre-Depends}\t${Provides}\n"])
        depends, providers = {}, {}
        for line in out.splitlines():
            name, status, deps, provides = (line.split("\t") + ["", "", ""])[:4]
            if "installed" not in status.split():
                continue
            alts = []
            for d in deps.split(","):
                names = [re.sub(r"\(.*?\)|:\w+", "", a).strip() for a in d.split("|")]
                if any(names):
                    alts.append([n for n in names if n])
            depends[name] = alts
            for pv in provides.split(","):
                pv = re.sub(r"\(.*?\)", "", pv).strip()
                if pv:
                    providers.setdefault(pv, set()).add(name)
        for p in pkgs:
            if p not in depends:
                if run(["apt-cache", "show", p])[0] == 0:
                    print(f"  note: {p} is a Debian package not installed here; its dependencies are not followed")
                else:
                    fail(cf, "apt-get install", f"{p}: no such Debian package")
        # Every package the image gets: the listed ones and, through Debian's
        # dependencies, theirs (every alternative installed here counts).
        closure, todo = set(BASE_PACKAGES), list(pkgs) + list(BASE_PACKAGES)
        while todo:
            p = todo.pop()
            for alts in depends.get(p, []):
                for a in alts:
                    for q in ({a} if a in depends else set()) | providers.get(a, set()):
                        if q not in closure:
                            closure.add(q)
                            todo.append(q)
            closure.add(p)
        rc, out = run(["ldd", HIL])
        if rc != 0:
            fail(HIL, "ldd", f"exit {rc}: {out.strip()[:200]} (the library check needs the dynamically linked hil)")
        libs = []
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
            if not m:
                continue
            lib, path = (m.group(1), m.group(2)) if m.lastindex == 2 else (os.path.basename(m.group(1)), m.group(1))
            if path == "not":
                fail(HIL, "ldd", f"{lib} not found")
                continue
            libs.append((lib, path))
        if rc == 0 and not libs:
            fail(HIL, "ldd", "resolved no libraries: not the dynamically linked hil this image ships")
        # One dpkg -S for every library, under its path and real path, with and without /usr.
        cands = {}
        for lib, path in libs:
            for p in (path, os.path.realpath(path)):
                for c in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
                    cands.setdefault(c, None)
        p = subprocess.run(["dpkg", "-S"] + list(cands), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, timeout=120)
        for line in p.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            owners, _, path = line.rpartition(": ")
            if path in cands:
                cands[path] = owners.split(",")[0].split(":")[0].strip()
        unowned, lacking = [], {}
        for lib, path in libs:
            owner = None
            for p in (path, os.path.realpath(path)):
                for c in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
                    owner = owner or cands.get(c)
            if owner is None:
                unowned.append(f"{lib} ({path})")
            elif owner not in closure:
                lacking.setdefault(owner, []).append(lib)
        # In ldd's order: the first are the libraries hil links directly.
        for n, (owner, missing_libs) in enumerate(lacking.items()):
            if n == 8:
                fail(cf, "apt-get install (runtime)", f"... and {len(lacking) - 8} more packages")
                break
            fail(cf, "apt-get install (runtime)",
                 f"{', '.join(missing_libs)}: from Debian package {owner}, which the runtime stage "
                 f"does not install (nor anything it depends on)")
        for u in unowned:
            fail(HIL, "ldd", f"{u} belongs to no Debian package: the image cannot provide it")
        if libs and not any(f.startswith(cf) for f in failures):
            ok(f"{cf}: the runtime stage provides all {len(libs)} libraries `ldd hil` resolves "
               f"({len(pkgs)} packages listed, {len(closure)} with their dependencies)")

# ------------------------------------------------------------ 5. kubectl
section("5. kubectl kustomize renders the base with a PKI from `hil certs init`")
kubectl = shutil.which("kubectl")
if not kubectl:
    print("  skipped: kubectl is not on PATH (it is no Debian package); sections 1 to 4 ran")
else:
    k8s_copy = os.path.join(work, "kubernetes")
    shutil.copytree(K8S, k8s_copy, ignore=shutil.ignore_patterns("pki"))
    # Fill the generators' files as README.md says: the named PKI files, the env file.
    expected_data = {}
    for g in (kust.get("secretGenerator") or []):
        for spec in g.get("files") or []:
            key, _, path = spec.rpartition("=") if "=" in spec else (None, None, spec)
            dst = os.path.join(k8s_copy, path)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            src = os.path.join(pki, os.path.basename(path))
            if os.path.exists(src):
                shutil.copy(src, dst)
                expected_data[(g["name"], key or os.path.basename(path))] = open(src, "rb").read()
        for spec in g.get("envs") or []:
            dst = os.path.join(k8s_copy, spec)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "w") as fh:
                fh.write("HIL_SECRET=check-deploy-secret\n")
            expected_data[(g["name"], "HIL_SECRET")] = b"check-deploy-secret"
    rc, out = run([kubectl, "kustomize", k8s_copy])
    if rc != 0:
        fail(kname, "kubectl kustomize", out.strip()[:500])
    else:
        try:
            rendered = [d for d in yaml.safe_load_all(out) if d]
        except yaml.YAMLError as e:
            rendered = []
            fail(kname, "kubectl kustomize", f"output does not parse: {e}")
        kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in rendered)
        print(f"  rendered: {', '.join(kinds)}")
        secrets = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Secret"}
        by_base = {}
        for name in secrets:
            base_name = next((g for g in generated if re.fullmatch(re.escape(g) + r"-[a-z0-9]{10}", name)), None)
            if not base_name:
                fail(kname, "secretGenerator", f"rendered Secret {name} matches no generator with a hash suffix")
            else:
                by_base[base_name] = name
        for g in generated:
            if generated[g]["kind"] == "Secret" and g not in by_base:
                fail(kname, "secretGenerator", f"{g} was not rendered")
        for (g, key), data in expected_data.items():
            s = secrets.get(by_base.get(g, ""), {})
            got = (s.get("data") or {}).get(key)
            if got is None or base64.b64decode(got) != data:
                fail(kname, f"secretGenerator[{g}]", f"rendered Secret lacks {key} as given")
        for s in secrets.values():
            if "ca.key" in (s.get("data") or {}):
                fail(kname, "secretGenerator", f"rendered Secret {s['metadata']['name']} holds ca.key")
        for want in (("StatefulSet", SCHEDULER), ("Service", SCHEDULER), ("Deployment", RACK)):
            if f"{want[0]}/{want[1]}" not in kinds:
                fail(kname, "kubectl kustomize", f"no {want[0]} {want[1]} in the output")
        # Generated names substituted into the pod specs.
        for d in rendered:
            if d["kind"] not in ("StatefulSet", "Deployment"):
                continue
            where = f"rendered {d['kind']} {d['metadata']['name']}"
            spec = d["spec"]["template"]["spec"]
            refs = []
            for v in spec.get("volumes") or []:
                if "secret" in v:
                    refs.append((f"volumes[{v['name']}]", v["secret"]["secretName"], v["secret"].get("optional")))
                for s in path_get(v, "projected", "sources", default=[]) or []:
                    if "secret" in s:
                        refs.append((f"volumes[{v['name']}].projected", s["secret"]["name"], s["secret"].get("optional")))
            for c in spec.get("containers") or []:
                for e in c.get("env") or []:
                    r = path_get(e, "valueFrom", "secretKeyRef")
                    if r:
                        refs.append((f"containers[{c['name']}].env[{e['name']}]", r["name"], r.get("optional")))
                        if r["name"] in secrets and r["key"] not in (secrets[r["name"]].get("data") or {}):
                            fail(where, f"env[{e['name']}]", f"key {r['key']} is not in Secret {r['name']}")
            for field, name, optional in refs:
                if name in secrets:
                    ok(f"{where}: {field} -> {name}")
                elif optional and name not in generated:
                    ok(f"{where}: {field} -> {name} (optional, made by hand)")
                else:
                    fail(where, field, f"{name} is not a rendered Secret (generated name not substituted?)")
    print("  note: `kubectl apply --dry-run=client` needs an API server's discovery, so it is not run here")

shutil.rmtree(work, ignore_errors=True)
print()
if failures:
    print(f"FAILED: {len(failures)} check(s):")
    for f in failures:
        print(f"  {f}")
    sys.exit(1)
print("PASSED: the Kubernetes base and the Containerfile match the code")
