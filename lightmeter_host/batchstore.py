"""A concentrator's batches on disk, and served over HTTP by root (proto/batch.md, "Batch contents").

The chain holds only each batch's root and leaf count; a collector needs the signed readings
themselves. The concentrator writes every batch it closes here *before* it sends the batch
transaction, so no root it anchors can lack its contents, even across a crash or restart. One
file per batch, `<root hex>.cbor`, holding the batch contents: canonical CBOR of the array of
signed readings (bstr) in tree order. It is written whole (temporary file, fsync, rename, fsync
of the folder): a reader sees a batch complete or not at all.

`BatchServer` answers `GET /batches/<root hex>` with those bytes (application/cbor), 404 for a
root it does not hold, 400 for a path that is not one. Nothing served needs trust: the root on
chain and the devices' signatures make the contents self-checking (the collector checks them).
A batch whose transaction failed stays stored: the node may yet have taken it.
"""

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lightmeter.link import cbor

CONTENT_TYPE = "application/cbor"
_PATH = re.compile(r"^/batches/([0-9a-f]{64})$")


def contents(leaves):
    """The batch contents of a list of signed readings (bytes), in tree order."""
    return cbor.dumps([bytes(x) for x in leaves])


class BatchStore:
    """Batch contents by root, one file each under `folder`."""

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        os.makedirs(self.folder, exist_ok=True)

    def _file(self, root):
        if not isinstance(root, (bytes, bytearray)) or len(root) != 32:
            raise ValueError("a batch root is 32 bytes")
        return os.path.join(self.folder, bytes(root).hex() + ".cbor")

    def put(self, root, leaves):
        """Store the batch with this root (atomically; an existing file is left as it is: the
        root fixes its contents)."""
        path = self._file(root)
        if os.path.exists(path):
            return
        data = contents(leaves)
        tmp = "%s.%d.%d.tmp" % (path, os.getpid(), threading.get_ident())
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def get(self, root):
        """The stored contents (bytes) of the batch with this root, or None."""
        try:
            with open(self._file(root), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def roots(self):
        """The roots held, sorted."""
        return sorted(bytes.fromhex(n[:64]) for n in os.listdir(self.folder)
                      if len(n) == 69 and n.endswith(".cbor"))


class BatchServer:
    """`GET /batches/<root hex>` over a BatchStore, from a thread of its own."""

    def __init__(self, store, host="127.0.0.1", port=0, log=None):
        self.store = store
        self.log = log
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                m = _PATH.match(self.path)
                if m is None:
                    return self._send(400 if self.path.startswith("/batches/") else 404,
                                      b"expected /batches/<root: 64 lowercase hex digits>\n", "text/plain")
                data = outer.store.get(bytes.fromhex(m.group(1)))
                if data is None:
                    return self._send(404, b"no such batch here\n", "text/plain")
                return self._send(200, data, CONTENT_TYPE)

            def _send(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                if outer.log:
                    outer.log("batches: " + fmt % args)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return "http://%s:%d" % (host, port)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
