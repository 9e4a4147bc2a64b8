#!/usr/bin/env python3
"""A vendor's webhook endpoint for the end-to-end tests (stdlib only): HTTPS on 127.0.0.1
with the given certificate, every request appended to a JSON-lines log (method, path,
headers, body, the status answered), 200 for each, except a 500 for the first
--fail-first requests (to prove deliveries are retried).

    webhook_receiver.py --cert C --key K --log FILE --port-file FILE [--fail-first N]

Started and stopped by tests/src/webhook_receiver.rs; writes its port to --port-file once it
listens.
"""

import argparse
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    lock = threading.Lock()
    state = {"seen": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                state["seen"] += 1
                status = 500 if state["seen"] <= args.fail_first else 200
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                    "answered": status,
                    "received_at": time.time(),
                }
                with open(args.log, "a") as out:
                    out.write(json.dumps(entry) + "\n")
            reply = b'{"ok": true}' if status == 200 else b'{"error": "try again"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as out:
        out.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
