#!/usr/bin/env python3
"""A strict S3 front for s3rver in the integration tests.

s3rver (npm) stores objects but does not check SigV4 signatures. This proxy does, independently of
the extension's own signer: it recomputes every request's signature with the botocore that Debian's
awscli ships, checks x-amz-content-sha256 against the body, answers like S3 when they do not match
(403 SignatureDoesNotMatch / InvalidAccessKeyId, 400 XAmzContentSHA256Mismatch), can fail the first
N PutObject requests with a chosen status (e.g. 503 SlowDown), and forwards the rest to s3rver.

Usage: s3_proxy.py --upstream 127.0.0.1:PORT [--credentials AKID:SECRET] [--fail-puts N --fail-status 503]
Prints "listening on PORT" once ready. GET /__stats answers counters as JSON.
"""
import argparse
import hashlib
import http.client
import http.server
import json
import sys
import threading

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import awscli  # noqa: E402,F401  (Debian's awscli vendors botocore and makes it importable as `botocore`)
from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402


def s3_error(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>'
            % (code, message)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def verify(self, body):
        """None when the request is signed right, else (status, code, message)."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return 403, "AccessDenied", "Anonymous access is forbidden"
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        akid, date, region, service, _ = parts["Credential"].split("/")
        secret = self.server.keys.get(akid)
        if secret is None:
            return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        sha = self.headers.get("x-amz-content-sha256")
        if sha is None:
            return 400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
        if sha != "UNSIGNED-PAYLOAD" and sha != hashlib.sha256(body).hexdigest():
            return 400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match"
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed:
            return 403, "SignatureDoesNotMatch", "host must be signed"
        headers = {}
        for name in signed:
            values = self.headers.get_all(name)
            if values is None:
                return 403, "SignatureDoesNotMatch", "signed header %s is missing" % name
            headers[name] = ",".join(values)
        req = AWSRequest(method=self.command, url="http://%s%s" % (self.headers["host"], self.path),
                         headers=headers, data=body)
        req.context["timestamp"] = self.headers.get("x-amz-date", "")
        signer = S3SigV4Auth(Credentials(akid, secret, self.headers.get("x-amz-security-token")), service, region)
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        if expected != parts["Signature"]:
            return (403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                    "you provided. Check your key and signing method.")
        return None

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(length) if length else b""
        stats = self.server.stats
        if self.path == "/__stats":
            return self.reply(200, json.dumps(stats).encode(), [("Content-Type", "application/json")])
        with self.server.lock:
            stats["requests"] += 1
        problem = self.verify(body)
        if problem:
            with self.server.lock:
                stats["refused"] += 1
                stats["last_refusal"] = problem[1]
            return self.reply(problem[0], s3_error(problem[1], problem[2]), [("Content-Type", "application/xml")])
        if self.command == "PUT":
            with self.server.lock:
                fail = stats["puts"] < self.server.fail_puts
                stats["puts"] += 1
                if fail:
                    stats["failed_on_purpose"] += 1
            if fail:
                code = "SlowDown" if self.server.fail_status == 503 else "InternalError"
                return self.reply(self.server.fail_status, s3_error(code, "Please reduce your request rate."),
                                  [("Content-Type", "application/xml")])
        up = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        up.request(self.command, self.path, body=body, headers=headers)
        res = up.getresponse()
        data = res.read()
        out = [(k, v) for k, v in res.getheaders() if k.lower() not in ("content-length", "connection",
                                                                         "transfer-encoding")]
        up.close()
        with self.server.lock:
            stats["forwarded"] += 1
        self.reply(res.status, data, out)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--credentials", action="append", default=[])
    ap.add_argument("--fail-puts", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=503)
    a = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = a.upstream.rsplit(":", 1)
    server.upstream = (host, int(port))
    server.keys = dict(c.split(":", 1) for c in (a.credentials or ["S3RVER:S3RVER"]))
    server.fail_puts, server.fail_status = a.fail_puts, a.fail_status
    server.lock = threading.Lock()
    server.stats = {"requests": 0, "refused": 0, "puts": 0, "failed_on_purpose": 0, "forwarded": 0,
                    "last_refusal": ""}
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
