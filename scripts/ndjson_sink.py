#!/usr/bin/env python3
"""A minimal Logstash `http` input for scripts/package-test.sh: accepts POSTs of NDJSON on 127.0.0.1
(any free port, printed as "port N"), writes each body to DIR/<n>.ndjson and answers 200 ok."""
import http.server
import itertools
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
counter = itertools.count()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(out, f"{next(counter):06d}.ndjson"), "wb") as f:
            f.write(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("port", server.server_address[1], flush=True)
server.serve_forever()
