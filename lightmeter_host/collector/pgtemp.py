"""A throw-away PostgreSQL server: for the collector's tests and its benchmark.

`initdb` runs as the invoking user, or as the `postgres` user (runuser -u postgres --) when that
is root (PostgreSQL refuses to run as root), in a temporary directory that user owns; the server trusts local connections (-A trust), listens on a Unix socket in that directory
(-k DIR) and on no TCP address (listen_addresses=''), and pg_ctl stops it and removes the
directory. Binaries come from /usr/lib/postgresql/*/bin (Debian's postgresql package).
PgUnavailable says why a server cannot be started here.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import uuid


class PgUnavailable(RuntimeError):
    """No PostgreSQL binaries, or (as root) no way to run them as the postgres user."""


def pg_bin():
    """The newest /usr/lib/postgresql/*/bin holding initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def _as_postgres(args, **kw):
    # the server's user: the invoking one, or postgres when that is root
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, capture_output=True, text=True, timeout=120, **kw)


class PgServer:
    """initdb + pg_ctl start in a fresh directory; url(dbname) for psycopg; stop() removes it all."""

    def __init__(self, durable=False):
        self.bin = pg_bin()
        if self.bin is None:
            raise PgUnavailable("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
                                "(Debian package postgresql)")
        root = os.geteuid() == 0
        if root and shutil.which("runuser") is None:
            raise PgUnavailable("as root, starting a PostgreSQL server needs runuser to run initdb as "
                                "the postgres user")
        self.dir = tempfile.mkdtemp(prefix="lightmeter-pg-")
        os.chmod(self.dir, 0o755)
        if root:
            subprocess.run(["chown", "postgres:postgres", self.dir], check=True)
        self.data = os.path.join(self.dir, "data")
        r = _as_postgres([os.path.join(self.bin, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8"])
        if r.returncode:
            self._cleanup()
            raise RuntimeError("initdb failed: %s" % (r.stderr or r.stdout))
        opts = "-k %s -c listen_addresses=''" % self.dir
        if not durable:  # tests: nothing to keep, so no fsync; a benchmark keeps PostgreSQL's defaults
            opts += " -c fsync=off -c full_page_writes=off"
        r = _as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-o", opts, "-w",
                          "-l", os.path.join(self.dir, "log"), "start"])
        if r.returncode:
            log = ""
            try:
                with open(os.path.join(self.dir, "log")) as f:
                    log = f.read()[-2000:]
            except OSError:
                pass
            self._cleanup()
            raise RuntimeError("pg_ctl start failed: %s %s" % (r.stderr, log))

    def url(self, dbname="postgres"):
        return "postgresql:///%s?host=%s&user=postgres" % (dbname, self.dir)

    def new_database(self):
        """The URL of a fresh, empty database on this server."""
        import psycopg
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute("CREATE DATABASE %s" % name)
        return self.url(name)

    def cpu_seconds(self):
        """CPU time (user + system) the server has used so far: the postmaster's own, its ended
        backends' (reaped by it) and its live processes' (Linux /proc); None elsewhere."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline())
            tick = os.sysconf("SC_CLK_TCK")
            total = 0
            for p in os.listdir("/proc"):
                if not p.isdigit():
                    continue
                try:
                    with open("/proc/%s/stat" % p) as f:
                        st = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # ended meanwhile
                if int(p) == pid:  # utime stime cutime cstime
                    total += sum(int(x) for x in st[11:15])
                elif int(st[1]) == pid:  # a backend or helper of this server: utime stime
                    total += int(st[11]) + int(st[12])
            return total / tick
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        _as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
        self._cleanup()

    def _cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
