"""The lab's partner API: an external HTTP service the demo service depends on, so that the
dependency gate has a real remote peer to probe from both colors (a firewall rule in one
color's network namespace makes it fail from that color only). Standard library only: the
lab hosts cannot reach a package index."""
import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        routes = {"/health": {"status": "ok"}, "/rates": {"EUR": 1.0, "USD": 1.08}}
        body = json.dumps(routes.get(self.path, {"error": "not found"})).encode()
        self.send_response(200 if self.path in routes else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("0.0.0.0", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
