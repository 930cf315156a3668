#!/usr/bin/env python3
"""A custom runtime (bootstrap) for the emulator's function mode: stdlib only.

Behaviour from FAKE_RUNTIME_MODE:
  ok                  answers every event with a response
  error-first         answers the first event it gets with an error, then responses
  always-error        answers every event with an error
  timeout             does not answer its first event (sleeps), then responds (the emulator restarts it)
  crash               exits during its first event, then responds
  init-error          posts init/error and exits
  answer-twice        answers its first event twice (a protocol violation)
  kinesis-fail-second answers a Kinesis batch's first delivery with its second record failed, then success
FAKE_RUNTIME_LOG: a file each event is appended to as one JSON line: the request id, the headers, the raw
event, and each payload decoded ({"decoded": JSON} or {"problem": "..."}).
FAKE_RUNTIME_STATE: a file counting events across restarts (the "first" of a mode survives a restart).
"""
import base64
import gzip
import json
import os
import sys
import time
import urllib.request
import zlib

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01"
MODE = os.environ.get("FAKE_RUNTIME_MODE", "ok")
LOG = os.environ.get("FAKE_RUNTIME_LOG")
STATE = os.environ.get("FAKE_RUNTIME_STATE")
INFLATE_LIMIT = 64 * 1024 * 1024


def request(method, path, body=None, headers=None):
    req = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def decode(data):
    try:
        raw = base64.b64decode(data, validate=True)
    except Exception:
        return {"problem": "invalid-base64"}
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = d.decompress(raw, INFLATE_LIMIT)
        if d.unconsumed_tail:
            return {"problem": "too-large"}
    except zlib.error:
        return {"problem": "not-gzip"}
    try:
        return {"decoded": json.loads(text)}
    except ValueError:
        return {"problem": "invalid-json"}


def record(rid, headers, event):
    if not LOG:
        return
    entry = {"requestId": rid, "headers": {k: v for k, v in headers.items() if k.startswith("Lambda-Runtime")},
             "event": event, "env": {k: os.environ.get(k) for k in (
                 "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME",
                 "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_REGION")}}
    payloads = []
    if isinstance(event, dict) and isinstance(event.get("awslogs"), dict):
        payloads.append(decode(event["awslogs"].get("data", "")))
    elif isinstance(event, dict) and isinstance(event.get("Records"), list):
        for r in event["Records"]:
            payloads.append(decode(r["kinesis"]["data"]))
    entry["payloads"] = payloads
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def count():
    n = 0
    if STATE and os.path.exists(STATE):
        with open(STATE) as f:
            n = int(f.read() or 0)
    n += 1
    if STATE:
        with open(STATE, "w") as f:
            f.write(str(n))
    return n


def main():
    if MODE == "init-error":
        request("POST", "/runtime/init/error", json.dumps({"errorMessage": "bad config", "errorType": "Config"}).encode(),
                {"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigError"})
        sys.exit(1)
    batches = {}
    while True:
        status, headers, body = request("GET", "/runtime/invocation/next")
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(body)
        record(rid, headers, event)
        n = count()
        if MODE == "timeout" and n == 1:
            time.sleep(60)
        if MODE == "crash" and n == 1:
            os._exit(7)
        fail = MODE == "always-error" or (MODE == "error-first" and n == 1)
        if fail:
            request("POST", "/runtime/invocation/" + rid + "/error",
                    json.dumps({"errorMessage": "boom " + str(n), "errorType": "Error", "stackTrace": []}).encode(),
                    {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            continue
        answer = {}
        if MODE == "kinesis-fail-second" and isinstance(event, dict) and "Records" in event:
            seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
            first = seqs[0]
            if len(seqs) > 1 and first not in batches:
                batches[seqs[1]] = True
                answer = {"batchItemFailures": [{"itemIdentifier": seqs[1]}]}
        request("POST", "/runtime/invocation/" + rid + "/response", json.dumps(answer).encode())
        if MODE == "answer-twice" and n == 1:
            request("POST", "/runtime/invocation/" + rid + "/response", b"{}")


if __name__ == "__main__":
    main()
