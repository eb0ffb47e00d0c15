"""The collector's web page: a read-only view of the fleet and of each meter's readings.

`lightmeter collector serve --db URL` runs the Starlette app made here under uvicorn:

  GET /                                          the page (static/index.html, app.js, app.css)
  GET /api/health                                {"ok": true, "database": scheme, "meters": n}
  GET /api/meters?offset=&limit=&q=              one page of the fleet, searched on the server:
                                                 {"total", "offset", "limit", "q", "meters": rows}
  GET /api/summary                               the fleet's totals (fleetquery.summary)
  GET /api/problems                              the latest rejections that name no meter
  GET /api/meters/{id}/readings?from=&to=&limit= {"meter_id", "from", "to", "limit",
                                                  "truncated", "readings": db.readings(...)}
  GET /api/meters/{id}/plot?from=&to=&obis=&points=  one register, at most `points` readings
                                                 (fleetquery.plot), with the meter's row
  GET /metrics                                   Prometheus metrics of the requests
  GET /static/vendor/uPlot.iife.min.js, uPlot.min.css   uPlot, from the project's node_modules

from/to are milliseconds since the Unix epoch or ISO 8601 (no zone: UTC), both inclusive.
Bad parameters give 400, an unknown meter 404, each with {"error": "..."}. The page needs no
internet: uPlot is served by the collector itself. The server only reads the database.
"""

import asyncio
import concurrent.futures
import datetime
import json
import math
import re
import socket
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lightmeter_host.collector import db as dbmod, fleetquery, metrics as metrics_mod

STATIC_DIR = Path(__file__).resolve().with_name("static")
from lightmeter_host.paths import NODE_MODULES
VENDOR_FILES = ("uPlot.iife.min.js", "uPlot.min.css")

# One request never returns more readings than this; the page says when a range was cut short.
MAX_LIMIT = 200_000
PAGE_SIZE = 50        # fleet rows per page by default (at most fleetquery.MAX_PAGE)
PLOT_POINTS = 1000    # points a plot draws by default (at most fleetquery.MAX_POINTS)
_INT64 = 2 ** 63 - 1
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MS = datetime.timedelta(milliseconds=1)

# The page loads nothing from elsewhere and runs no inline script: a text that slipped
# through as markup still could not execute.
_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class WebError(Exception):
    """The page cannot be served: uPlot missing, no database at the path. One line for the CLI."""


class BadParameter(ValueError):
    """A query parameter the API cannot use (answered with 400)."""


def vendor_dir(node_modules=None):
    """Where uPlot's built files are; WebError naming the fix when they are missing."""
    base = Path(node_modules) if node_modules else NODE_MODULES
    dist = base / "uplot" / "dist"
    missing = [f for f in VENDOR_FILES if not (dist / f).is_file()]
    if missing:
        raise WebError("uPlot is missing (%s not found): run `npm ci` in %s (or `make setup`)"
                       % (dist / missing[0], base.parent))
    return dist


def parse_time(text, name):
    """A from/to parameter: integer milliseconds since the epoch, or ISO 8601 (no zone: UTC)."""
    text = text.strip()
    if re.fullmatch(r"-?[0-9]+", text):
        ms = int(text)
    else:
        # In a query string an unescaped '+' arrives as a space: "...T10:00 01:00".
        text = re.sub(r"(T[0-9:.,]+) ([0-9]{2}(:?[0-9]{2})?)$", r"\1+\2", text)
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise BadParameter("%s: %r is neither milliseconds since the epoch nor an ISO 8601 "
                               "date-time" % (name, text[:64]))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        try:
            ms = (when - _EPOCH) // _MS
        except OverflowError:
            raise BadParameter("%s: %r is out of range" % (name, text[:64]))
    if not -_INT64 - 1 <= ms <= _INT64:
        raise BadParameter("%s: %s is out of range" % (name, text[:64]))
    return ms


def parse_limit(text):
    if not re.fullmatch(r"[0-9]+", text.strip()) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadParameter("limit: %r is not a whole number from 1 to %d" % (text[:64], MAX_LIMIT))
    return int(text)


def parse_count(text, name, low, high, default):
    """A whole number from low to high (default when blank); BadParameter otherwise."""
    text = text.strip()
    if not text:
        return default
    if not re.fullmatch(r"[0-9]{1,19}", text) or not low <= int(text) <= high:
        raise BadParameter("%s: %r is not a whole number from %d to %d" % (name, text[:64], low, high))
    return int(text)


def _finite(row):
    # Rows carry values as floats (mantissa * 10**scale); a huge scale overflows to inf, which
    # JSON cannot carry. The exact mantissa and scale are in the row anyway.
    for k, v in row.items():
        if isinstance(v, float) and not math.isfinite(v):
            row[k] = None
    return row


class JSON(Response):
    """JSON with <, > and & escaped, so no database text reads as markup even if sniffed."""

    media_type = "application/json"

    def render(self, content):
        text = json.dumps(content, separators=(",", ":"), allow_nan=False)
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return text.encode("utf-8")


class Reader:
    """The database behind one worker thread: opened, queried and closed there.

    sqlite3 connections belong to the thread that opened them and a psycopg connection
    serves one query at a time, so every call goes through this single thread.
    """

    def __init__(self, url):
        self.scheme = urlsplit(url).scheme if isinstance(url, str) else ""
        if self.scheme == "postgres":
            self.scheme = "postgresql"
        if self.scheme == "sqlite" and url.startswith("sqlite:///"):
            # open_db creates a missing database; a read-only page must not.
            path = url[len("sqlite://"):]
            if not Path(path).is_file():
                raise WebError("no database at %s" % path)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="collector-db")
        try:
            self.db = self._pool.submit(dbmod.open_db, url, True).result()
        except BaseException:
            self._pool.shutdown()
            raise

    async def call(self, name, *args, **kw):
        fn = getattr(self.db, name)
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kw))

    async def run(self, fn, *args):
        """fn(db, *args) on the database's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(self.db, *args))

    def close(self):
        try:
            self._pool.submit(self.db.close).result()
        finally:
            self._pool.shutdown()


def _error(status, message):
    return JSON({"error": message}, status_code=status)


def create_app(url, node_modules=None, metrics=None):
    """The Starlette app over the database at url (see db.open_db); opens it now, so a bad
    URL or a missing database fails here rather than at the first request. metrics: the
    collector.metrics.Page its /metrics exposes (default: a new one)."""
    dist = vendor_dir(node_modules)
    reader = Reader(url)
    metrics = metrics if metrics is not None else metrics_mod.Page()

    async def health(request):
        got = await reader.run(fleetquery.page, 0, 1, "")
        return JSON({"ok": True, "database": reader.scheme, "meters": got["total"]})

    async def meters(request):
        q = request.query_params
        unknown = sorted(set(q) - {"offset", "limit", "q"})
        if unknown:
            return _error(400, "unknown parameter %r (use offset, limit, q)" % unknown[0][:64])
        try:
            offset = parse_count(q.get("offset", ""), "offset", 0, _INT64, 0)
            limit = parse_count(q.get("limit", ""), "limit", 1, fleetquery.MAX_PAGE, PAGE_SIZE)
        except BadParameter as e:
            return _error(400, str(e))
        text = q.get("q", "").strip()
        if len(text) > 200:
            return _error(400, "q: at most 200 characters")
        got = await reader.run(fleetquery.page, offset, limit, text)
        got["meters"] = [_finite(r) for r in got["meters"]]
        return JSON(got)

    async def summary(request):
        return JSON(await reader.run(fleetquery.summary))

    async def plot(request):
        meter_id = request.path_params["meter_id"]
        q = request.query_params
        unknown = sorted(set(q) - {"from", "to", "obis", "points"})
        if unknown:
            return _error(400, "unknown parameter %r (use from, to, obis, points)" % unknown[0][:64])
        try:
            t_from = parse_time(q["from"], "from") if q.get("from", "").strip() else None
            t_to = parse_time(q["to"], "to") if q.get("to", "").strip() else None
            points = parse_count(q.get("points", ""), "points", 2, fleetquery.MAX_POINTS, PLOT_POINTS)
        except BadParameter as e:
            return _error(400, str(e))
        if t_from is not None and t_to is not None and t_from > t_to:
            return _error(400, "from (%d) is after to (%d)" % (t_from, t_to))
        obis = q.get("obis") or None
        row = await reader.run(fleetquery.meter, meter_id)
        if row is None:
            return _error(404, "no meter %r" % meter_id[:200])
        got = await reader.run(fleetquery.plot, meter_id, obis, t_from, t_to, points)
        got.update(meter_id=meter_id, meter=_finite(row), points=points, **{"from": t_from, "to": t_to})
        got["readings"] = [_finite(r) for r in got["readings"]]
        return JSON(got)

    async def problems(request):
        return JSON({"problems": [dict(r) for r in await reader.call("problems")]})

    async def readings(request):
        meter_id = request.path_params["meter_id"]
        q = request.query_params
        unknown = sorted(set(q) - {"from", "to", "limit"})
        if unknown:
            return _error(400, "unknown parameter %r (use from, to, limit)" % unknown[0][:64])
        try:
            t_from = parse_time(q["from"], "from") if q.get("from", "").strip() else None
            t_to = parse_time(q["to"], "to") if q.get("to", "").strip() else None
            limit = parse_limit(q["limit"]) if q.get("limit", "").strip() else MAX_LIMIT
        except BadParameter as e:
            return _error(400, str(e))
        if t_from is not None and t_to is not None and t_from > t_to:
            return _error(400, "from (%d) is after to (%d)" % (t_from, t_to))
        # One more than asked says whether the range holds more.
        rows = await reader.call("readings", meter_id, t_from, t_to, limit + 1)
        if not rows and await reader.run(fleetquery.meter, meter_id) is None:
            return _error(404, "no meter %r" % meter_id[:200])
        return JSON({"meter_id": meter_id, "from": t_from, "to": t_to, "limit": limit,
                     "truncated": len(rows) > limit,
                     "readings": [_finite(dict(r)) for r in rows[:limit]]})

    async def exposition(request):
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    async def index(request):
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    def vendor(name):
        async def serve_file(request):
            return FileResponse(dist / name)
        return serve_file

    async def http_error(request, exc):
        return _error(exc.status_code, exc.detail)

    async def database_error(request, exc):
        print("collector: database error: %s" % exc, file=sys.stderr)
        return _error(503, "database unavailable: %s" % str(exc).splitlines()[0][:200])

    routes = [
        Route("/", index),
        Route("/metrics", exposition),
        Route("/api/health", health),
        Route("/api/meters", meters),
        Route("/api/summary", summary),
        Route("/api/problems", problems),
        # path: meter ids are device data and may hold '/'.
        Route("/api/meters/{meter_id:path}/readings", readings),
        Route("/api/meters/{meter_id:path}/plot", plot),
    ]
    routes += [Route("/static/vendor/" + name, vendor(name)) for name in VENDOR_FILES]
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC_DIR)))

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            reader.close()

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error,
                                        dbmod.DatabaseError: database_error})
    return _SecurityHeaders(_Measured(app, metrics))


class _Measured:
    """ASGI wrapper counting each HTTP request in metrics by its route's template (the route
    Starlette matched, "other" for none) and status, with its latency."""

    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [500]

        async def send_seen(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            self.metrics.request(route, status[0], time.perf_counter() - t0)


class _SecurityHeaders:
    """ASGI wrapper adding _SECURITY_HEADERS to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def parse_listen(text):
    """HOST:PORT (port 0: any free one) -> (host, port); BadParameter otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
        raise BadParameter("--listen takes HOST:PORT, got %r" % text)
    return host.strip("[]") or "127.0.0.1", int(port)


def bind(host, port):
    """A listening socket, bound before uvicorn starts so port 0 can be reported."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise WebError("cannot listen on %s:%d: %s" % (host, port, e.strerror or e))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def redact(url):
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def serve(url, host="127.0.0.1", port=8080, quiet=False):
    """Serve the page until Ctrl-C or SIGTERM. Prints the address on stderr first."""
    import uvicorn

    sock = bind(host, port)
    try:
        app = create_app(url)
    except BaseException:
        sock.close()
        raise
    name = sock.getsockname()
    shown = "[%s]" % name[0] if sock.family == socket.AF_INET6 else name[0]
    print("collector: serving http://%s:%d/ (database %s, read-only)" % (shown, name[1], redact(url)),
          file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning" if quiet else "info", lifespan="on",
                            access_log=not quiet)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0
