"""A loopback front for a local GCS-compatible server (fake-gcs-server), so that every storage client of
the pipeline reaches it, and nothing else:

- Python clients (google-cloud-storage, Beam's GcsIO) with STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT.
- TensorFlow's own gs:// filesystem, which has no endpoint setting and calls www.googleapis.com and
  storage.googleapis.com over HTTPS: with https_proxy=http://127.0.0.1:PORT it asks this front to CONNECT,
  and the front terminates TLS for those two hosts only (a certificate from a throwaway CA that
  CURL_CA_BUNDLE names for TensorFlow alone) and refuses every other host with 403.
- POST /token answers a service-account token request (the throwaway key's token_uri points here).

Two incompatibilities of the server are mended on the way: TensorFlow sends `Transfer-Encoding: identity`
on empty uploads (Go's HTTP server answers 501), and the batch requests of Beam's GcsIO carry no
Content-ID (the server skips such parts, so a rename would silently do nothing).

    python -m ops.gcs_front --port 4480 --upstream 127.0.0.1:4443 --cert tls/front.pem --key tls/front-key.pem
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import re
import socket
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("gcs-front")
TLS_HOSTS = ("www.googleapis.com", "storage.googleapis.com")
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
       "transfer-encoding", "upgrade", "content-length", "host"}


def with_content_ids(body: bytes, content_type: str) -> bytes:
    """A multipart/mixed batch body in which every part has a Content-ID (numbered in order). Part headers
    may end lines with LF alone (google-cloud-storage's MIME generator does)."""
    found = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not found:
        return body
    delim = b"--" + found.group(1).encode()
    pieces = body.split(delim)
    out = [pieces[0]]
    for n, piece in enumerate(pieces[1:], 1):
        blank = re.search(rb"\r?\n\r?\n", piece)
        head = piece[:blank.start()] if blank else b""
        if blank and not piece.startswith(b"--") and b"\ncontent-id:" not in head.lower():
            eol = b"\r\n" if head.endswith(b"\r") or b"\r\n" in head else b"\n"
            piece = head + eol + b"Content-ID: <part+%d>" % n + piece[blank.start():]
        out.append(piece)
    return delim.join(out)


class Front(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, upstream: tuple[str, int], tls: ssl.SSLContext | None):
        super().__init__(address, Handler)
        self.upstream, self.tls = upstream, tls


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body leave at once: no 40 ms delayed-ACK wait per reply
    tunnel_host = ""          # set on the handler of a decrypted CONNECT tunnel
    server: Front

    def log_message(self, fmt, *args):   # errors are logged on their own; a line per request with --verbose
        log.debug("%s %s", self.tunnel_host or "-", fmt % args)

    def do_CONNECT(self):
        host, _, port = self.path.rpartition(":")
        if host not in TLS_HOSTS or port != "443" or self.server.tls is None:
            log.warning("refused CONNECT %s", self.path)
            self.send_error(403, f"this front serves only {', '.join(TLS_HOSTS)}")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.warning("TLS handshake for %s failed: %s", host, e)
            return
        Tunnel(tls, self.client_address, self.server, host)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):   # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))   # `identity`: as if absent

    def _forward(self):
        body = self._body()
        path = self.path
        if path.startswith("http://"):                 # absolute form: a client that treats us as a proxy
            path = "/" + path.split("/", 3)[-1]
        if self.command == "POST" and path.split("?")[0] == "/token":
            return self._reply(200, {"Content-Type": "application/json"},
                               json.dumps({"access_token": "local-token", "expires_in": 3600,
                                           "token_type": "Bearer"}).encode())
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if path.split("?")[0].startswith("/batch/"):
            body = with_content_ids(body, self.headers.get("Content-Type"))
        if self.tunnel_host:
            headers["X-Forwarded-Proto"] = "https"    # upload Locations come back as https://<host>/...
        headers["Host"] = self.tunnel_host or self.headers.get("Host", "")
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=300)
        try:
            conn.request(self.command, path, body=body if body or self.command in ("POST", "PUT", "PATCH") else None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:                            # the server is down: the client's retry decides
            log.warning("%s %s: the storage server did not answer: %s", self.command, path, e)
            return self._reply(503, {"Content-Type": "text/plain", "Retry-After": "1"},
                               b"the local storage server is not answering\n")
        finally:
            conn.close()
        kept = {k: v for k, v in resp.getheaders() if k.lower() not in HOP}
        data, kept = self._as_seen_by_client(data, kept)
        if self.command == "HEAD":
            kept["Content-Length"] = resp.getheader("Content-Length", "0")
        if resp.status >= 500:
            log.warning("%s %s: %d %s", self.command, path, resp.status, data[:200])
        self._reply(resp.status, kept, data, reason=resp.reason)

    def _as_seen_by_client(self, data: bytes, headers: dict) -> tuple[bytes, dict]:
        """Links the server returns (an object's mediaLink, an upload's Location) name the server's own
        address, which only the front can reach when the server sits on a pod's loopback: point them at
        the address the client used for the front."""
        own = f"http://{self.server.upstream[0]}:{self.server.upstream[1]}".encode()
        seen = (f"https://{self.tunnel_host}" if self.tunnel_host else f"http://{self.headers.get('Host', '')}").encode()
        if own in data:
            data = data.replace(own, seen)
        return data, {k: v.replace(own.decode(), seen.decode()) for k, v in headers.items()}

    def _reply(self, status: int, headers: dict, data: bytes, reason: str | None = None):
        self.send_response(status, reason)
        for k, v in headers.items():
            self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward


class Tunnel(Handler):
    """The requests inside one decrypted CONNECT tunnel to `host`."""

    def __init__(self, sock, client_address, server, host):
        self.tunnel_host = host
        super().__init__(sock, client_address, server)

    def do_CONNECT(self):
        self.send_error(400, "CONNECT inside a tunnel")


def serve(port: int, upstream: str, cert: str | None, key: str | None, bind: str = "127.0.0.1") -> None:
    tls = None
    if cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
    host, _, up_port = upstream.rpartition(":")
    front = Front((bind, port), (host, int(up_port)), tls)
    front.socket.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    log.info("front on %s:%d for %s (TLS for %s)", bind, port, upstream, ", ".join(TLS_HOSTS) if tls else "none")
    front.serve_forever()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.gcs_front", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the GCS-compatible server (http)")
    parser.add_argument("--cert", help="PEM certificate for the TLS hosts (signed by the throwaway CA)")
    parser.add_argument("--key", help="its private key")
    parser.add_argument("--bind", default="127.0.0.1",
                        help="the address to listen on: loopback here; 0.0.0.0 inside a pod (its own network)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    serve(args.port, args.upstream, args.cert, args.key, args.bind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
