#!/usr/bin/env python3
"""Lints deploy/template.yaml (SAM), deploy/serverless.yml and deploy/forwarder.yaml as far as is possible without AWS:
the YAML parses (CloudFormation short-form tags !Ref, !Sub, !GetAtt, !If ... read as their long forms),
every Ref/GetAtt/Sub/If names something that exists, each layer's content points at the zip that
`make package` writes (one per architecture), each function's handler exists in its code, the functions
use the layer, the IAM permissions the destinations need are granted (s3:PutObject on the bucket's
objects, es:ESHttpPost and es:ESHttpPut on the domain), and every EXTENSION_LOG_* variable set is a
setting the extension knows (the README's table). Prints 'N passed, N failed'; exit 1 on a failure.
Usage: scripts/deploy-lint.py [repo root]"""
import os
import re
import sys
import zipfile

import yaml

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
deploy = os.path.join(root, "deploy")
passed, failed = 0, 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok: {what}")
    else:
        failed += 1
        print(f"  FAIL: {what}")


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(name):
    long = "Ref" if name == "Ref" else f"Fn::{name}"

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {long: value}

    return construct


for _name in ["Ref", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split",
              "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition", "ToJsonString"]:
    CfnLoader.add_constructor(f"!{_name}", _tag(_name))


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


def walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def known_settings():
    text = open(os.path.join(root, "README.md")).read()
    table = text.split("<!-- settings:begin -->")[1].split("<!-- settings:end -->")[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)`", table, re.M))


def handler_exists(code, handler, runtime):
    """code: a directory or a zip; handler: module.function."""
    module, _, function = handler.rpartition(".")
    ext = ".js" if runtime.startswith("nodejs") else ".py"
    candidates = [module + ext] + ([module + ".mjs", module + ".cjs"] if ext == ".js" else [])
    if code.endswith(".zip"):
        z = zipfile.ZipFile(code)
        names = z.namelist()
        found = [c for c in candidates if c in names]
        source = z.read(found[0]).decode() if found else ""
    else:
        found = [c for c in candidates if os.path.isfile(os.path.join(code, c))]
        source = open(os.path.join(code, found[0])).read() if found else ""
    if not found:
        return False, f"no {' or '.join(candidates)} in {os.path.relpath(code, root)}"
    if ext == ".js":
        ok = re.search(rf"exports\.{function}\s*=|export\s+(async\s+)?(function\s+|const\s+){function}\b", source)
    else:
        ok = re.search(rf"^(async\s+)?def\s+{function}\s*\(", source, re.M)
    return bool(ok), f"{found[0]} defines {function}"


def statements_grant(statements, action):
    out = []
    for s in statements:
        if not isinstance(s, dict):
            continue
        acts = s.get("Action", [])
        acts = [acts] if isinstance(acts, str) else acts
        if s.get("Effect") == "Allow" and action in acts:
            out.append(s.get("Resource"))
    return out


settings = known_settings()

# ---------------------------------------------------------------------------------------- SAM
print("== deploy/template.yaml (SAM) ==")
t = load(os.path.join(deploy, "template.yaml"))
check(isinstance(t, dict) and "Resources" in t, "parses, has Resources")
check(t.get("Transform") == "AWS::Serverless-2016-10-31", "has the SAM transform")
params = t.get("Parameters", {})
resources = t.get("Resources", {})
conditions = t.get("Conditions", {})
pseudo = {"AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::Partition", "AWS::NoValue",
          "AWS::URLSuffix", "AWS::StackId", "AWS::NotificationARNs"}
names = set(params) | set(resources) | pseudo
bad = []
for node in walk(t):
    if not isinstance(node, dict):
        continue
    if "Ref" in node and node["Ref"] not in names:
        bad.append(f"Ref {node['Ref']}")
    if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] not in resources:
        bad.append(f"GetAtt {node['Fn::GetAtt']}")
    if "Fn::If" in node and node["Fn::If"][0] not in conditions:
        bad.append(f"If {node['Fn::If'][0]}")
    if "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        for var in re.findall(r"\$\{([^}!]+)\}", text):
            if var.split(".")[0] not in names and var not in local:
                bad.append(f"Sub ${{{var}}}")
for name, r in resources.items():
    if "Condition" in r and r["Condition"] not in conditions:
        bad.append(f"{name}: Condition {r['Condition']}")
check(not bad, "every Ref, GetAtt, Sub and If names a parameter, resource or condition" +
      (f": {bad}" if bad else ""))

layers = {n: r for n, r in resources.items() if r.get("Type") == "AWS::Serverless::LayerVersion"}
arches = {}
for name, r in layers.items():
    p = r.get("Properties", {})
    uri = p.get("ContentUri", "")
    m = re.fullmatch(r"\.\./dist/elk-extension-(x86_64|arm64)\.zip", str(uri))
    check(bool(m), f"layer {name}: ContentUri {uri} is a zip of make package")
    if m:
        arches[m.group(1)] = name
        check(p.get("CompatibleArchitectures") == [m.group(1)], f"layer {name}: compatible with {m.group(1)} only")
        zipped = os.path.join(deploy, uri)
        if os.path.exists(zipped):
            check("extensions/elk-extension" in zipfile.ZipFile(zipped).namelist(),
                  f"layer {name}: {os.path.relpath(zipped, root)} holds extensions/elk-extension")
check(set(arches) == {"x86_64", "arm64"}, f"a layer for x86_64 and for arm64 ({sorted(arches)})")

glob = t.get("Globals", {}).get("Function", {})
functions = {n: r for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}
runtimes = set()
for name, r in functions.items():
    p = {**glob, **r.get("Properties", {})}
    runtime = p.get("Runtime", "")
    runtimes.add(runtime.rstrip("0123456789.x"))
    code = os.path.normpath(os.path.join(deploy, p.get("CodeUri", "")))
    ok, what = handler_exists(code, p.get("Handler", ""), runtime)
    check(ok, f"function {name}: handler {p.get('Handler')} ({runtime}): {what}")
    used = {x for node in walk(p.get("Layers", [])) if isinstance(node, dict) and "Ref" in node
            for x in [node["Ref"]]}
    check(set(arches.values()) <= used, f"function {name}: uses the elk-extension layer ({sorted(used)})")
    env = p.get("Environment", {}).get("Variables", {})
    check("EXTENSION_LOG_DESTINATIONS" in env and "EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME" in env,
          f"function {name}: sets EXTENSION_LOG_DESTINATIONS and the bucket")
    unknown = [k for k in env if k.startswith("EXTENSION_LOG") and k not in settings]
    check(not unknown, f"function {name}: every EXTENSION_LOG_* variable is a known setting {unknown or ''}")
    pol = p.get("Policies", [])
    check(bool(pol), f"function {name}: has policies")
check(runtimes >= {"nodejs", "python"}, f"a Node.js and a Python sample function ({sorted(runtimes)})")

statements = [s for node in walk(resources) if isinstance(node, dict) and "Statement" in node
              for s in walk(node["Statement"]) if isinstance(s, dict) and "Effect" in s]
s3 = statements_grant(statements, "s3:PutObject")
check(any("/*" in str(r) for r in s3), f"s3:PutObject on the bucket's objects ({s3})")
for action in ("es:ESHttpPost", "es:ESHttpPut"):
    res = statements_grant(statements, action)
    check(any("ElasticsearchDomainArn" in str(r) and "/*" in str(r) for r in res), f"{action} on the domain ({res})")

# ---------------------------------------------------------------------------------- Serverless
print("== deploy/serverless.yml (Serverless Framework) ==")
s = load(os.path.join(deploy, "serverless.yml"))
check(isinstance(s, dict) and s.get("provider", {}).get("name") == "aws", "parses, provider aws")
defaults = s.get("params", {}).get("default", {})
check(defaults.get("architecture") in ("x86_64", "arm64"), "params.default.architecture is x86_64 or arm64")


def expand(text, arch):
    return str(text).replace("${param:architecture}", arch)


sl_layers = s.get("layers", {})
check(bool(sl_layers), "has a layer")
for name, layer in sl_layers.items():
    artifact = layer.get("package", {}).get("artifact", "")
    for arch in ("x86_64", "arm64"):
        path = expand(artifact, arch)
        check(path == f"../dist/elk-extension-{arch}.zip", f"layer {name} ({arch}): artifact {path}")
        check(expand(layer.get("compatibleArchitectures"), arch) == str([arch]), f"layer {name} ({arch}): compatible with {arch}")
    logical = name[0].upper() + name[1:] + "LambdaLayer"
    for fname, f in s.get("functions", {}).items():
        refs = [n["Ref"] for n in walk(f.get("layers", [])) if isinstance(n, dict) and "Ref" in n]
        check(logical in refs, f"function {fname}: uses the layer ({logical})")

sl_runtimes = set()
for fname, f in s.get("functions", {}).items():
    runtime = f.get("runtime", s["provider"].get("runtime", ""))
    sl_runtimes.add(runtime.rstrip("0123456789.x"))
    artifact = f.get("package", {}).get("artifact", "")
    m = re.fullmatch(r"\.\./dist/sample-function-(node|python)\.zip", artifact)
    check(bool(m), f"function {fname}: artifact {artifact} is written by make package")
    if m:
        ok, what = handler_exists(os.path.join(deploy, "functions", m.group(1)), f.get("handler", ""), runtime)
        check(ok, f"function {fname}: handler {f.get('handler')} ({runtime}): {what}")
        zipped = os.path.normpath(os.path.join(deploy, artifact))
        if os.path.exists(zipped):
            ok, what = handler_exists(zipped, f.get("handler", ""), runtime)
            check(ok, f"function {fname}: handler in {os.path.relpath(zipped, root)}: {what}")
check(sl_runtimes >= {"nodejs", "python"}, f"a Node.js and a Python sample function ({sorted(sl_runtimes)})")
env = s["provider"].get("environment", {})
check("EXTENSION_LOG_DESTINATIONS" in env and "EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME" in env,
      "sets EXTENSION_LOG_DESTINATIONS and the bucket")
unknown = [k for k in env if k.startswith("EXTENSION_LOG") and k not in settings]
check(not unknown, f"every EXTENSION_LOG_* variable is a known setting {unknown or ''}")
cfn_resources = s.get("resources", {}).get("Resources", {})
bad = [n["Ref"] for n in walk(s) if isinstance(n, dict) and "Ref" in n
       and n["Ref"] not in cfn_resources and not n["Ref"].endswith("LambdaLayer") and n["Ref"] not in pseudo]
check(not bad, f"every Ref names a resource of the stack {bad or ''}")
sl_statements = s["provider"].get("iam", {}).get("role", {}).get("statements", [])
s3 = statements_grant(sl_statements, "s3:PutObject")
check(any("LogBucket" in str(r) and "/*" in str(r) for r in s3), f"s3:PutObject on the bucket's objects ({s3})")
for action in ("es:ESHttpPost", "es:ESHttpPut"):
    res = statements_grant(sl_statements, action)
    check(any("elasticsearchDomainArn" in str(r) and "/*" in str(r) for r in res), f"{action} on the domain ({res})")

# ---------------------------------------------------------------------------------- the forwarder
print("== deploy/forwarder.yaml (SAM) ==")
f = load(os.path.join(deploy, "forwarder.yaml"))
check(isinstance(f, dict) and "Resources" in f, "parses, has Resources")
check("AWS::Serverless-2016-10-31" in (f.get("Transform") or []), "has the SAM transform")
fres = f.get("Resources", {})
fglob = f.get("Globals", {}).get("Function", {})
farches = {}
for name, r in fres.items():
    if not isinstance(r, dict) or r.get("Type") != "AWS::Serverless::Function":
        continue
    p = {**fglob, **r.get("Properties", {})}
    m = re.fullmatch(r"\.\./dist/elk-forwarder-(x86_64|arm64)\.zip", str(p.get("CodeUri", "")))
    check(bool(m), f"function {name}: CodeUri {p.get('CodeUri')} is a zip of make package")
    if not m:
        continue
    farches[m.group(1)] = name
    check(p.get("Architectures") == [m.group(1)], f"function {name}: architecture {m.group(1)}")
    check(p.get("Runtime") == "provided.al2023" and p.get("Handler") == "bootstrap",
          f"function {name}: provided.al2023, handler bootstrap")
    zipped = os.path.normpath(os.path.join(deploy, p["CodeUri"]))
    if os.path.exists(zipped):
        check(zipfile.ZipFile(zipped).namelist() == ["bootstrap"], f"function {name}: {os.path.relpath(zipped, root)} holds bootstrap")
    env = p.get("Environment", {}).get("Variables", {})
    unknown = [k for k in env if k.startswith("EXTENSION_LOG") and k not in settings]
    check("EXTENSION_LOG_DESTINATIONS" in env and not unknown,
          f"function {name}: sets EXTENSION_LOG_DESTINATIONS; every EXTENSION_LOG_* variable is a known setting {unknown or ''}")
    check(p.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure") is not None,
          f"function {name}: an on-failure destination")
    check("ReservedConcurrentExecutions" in p, f"function {name}: reserved concurrency")
    fn_name = p.get("FunctionName", {}).get("Fn::Sub", "") if isinstance(p.get("FunctionName"), dict) else ""
    for policy in ("AccountSubscription", "KinesisAccountSubscription"):
        crit = fres.get(policy, {}).get("Properties", {}).get("SelectionCriteria", {})
        crit = crit.get("Fn::Sub", "") if isinstance(crit, dict) else str(crit)
        check(bool(fn_name) and f"/aws/lambda/{fn_name}" in crit,
              f"{policy}: excludes the forwarder's own log group (/aws/lambda/{fn_name})")
check(set(farches) == {"x86_64", "arm64"}, f"a forwarder for x86_64 and for arm64 ({sorted(farches)})")
perm = fres.get("LogsInvokePermission", {}).get("Properties", {})
check(perm.get("Principal") == "logs.amazonaws.com" and perm.get("Action") == "lambda:InvokeFunction",
      "logs.amazonaws.com may invoke the forwarder")
esm = fres.get("KinesisEventSource", {}).get("Properties", {})
check(esm.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], "the Kinesis mapping reports batch item failures")

# cfn-lint (AWS's CloudFormation linter, which also expands the SAM transform and Fn::ForEach) where it is
# installed: it is not a Debian package (pip install cfn-lint), so a fresh machine skips this step, saying so.
import shutil
import subprocess

if shutil.which("cfn-lint"):
    runs = [("template.yaml", []), ("forwarder.yaml", []),
            ("forwarder.yaml", ["Subscription=log-groups", "LogGroupNames=/aws/lambda/a,/aws/apigateway/b"]),
            ("forwarder.yaml", ["Subscription=kinesis", "Architecture=x86_64"])]
    for name, parameters in runs:
        print(f"== cfn-lint deploy/{name} {' '.join(parameters)} ==")
        args = ["cfn-lint"] + (["--parameters", *parameters, "--"] if parameters else []) + [os.path.join(deploy, name)]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.stdout.strip():
            print(r.stdout.rstrip())
        check(r.returncode == 0, f"cfn-lint finds nothing in {name} {' '.join(parameters)}")
else:
    print("== cfn-lint: not installed (pip install cfn-lint), skipped ==")

print(f"deploy-lint: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
