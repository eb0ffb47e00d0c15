"""The throw-away database server (lightmeter_host.collector.pgtemp) started by an unprivileged user.

As root, pgtemp runs initdb and pg_ctl through runuser as the server's own account, and the rest of
the suite covers that path. A user without root runs them directly, in a directory of its own:
this test takes that path while the suite runs as root, in a child process forked from this one
that drops to the `nobody` account (setgid, setuid) before it starts a server, stores and reads a
collector's state through lightmeter_host.collector.db, and stops it. The child runs the modules
this process already imported, so it needs no access to the interpreter's files.
"""

import json
import os
import pwd
import time

import pytest

from lightmeter_host.collector import db as db_mod, pgtemp

USER = "nobody"


def _as_unprivileged(pw):
    """In the forked child: drop to pw, run a server's whole life; a report dict."""
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    server = pgtemp.PgServer()
    report = {"euid": os.geteuid(), "dir": server.dir, "dir_owner": os.stat(server.dir).st_uid}
    try:
        with open(os.path.join(server.data, "postmaster.pid")) as f:
            report["server_uid"] = os.stat("/proc/%d" % int(f.readline())).st_uid
        url = server.new_database()
        d = db_mod.open_db(url)
        try:
            d.commit_block(state={"checkpoint": {"number": 7}})
        finally:
            d.close()
        d = db_mod.open_db(url, read_only=True)
        try:
            report["state"] = d.get_state("checkpoint")
        finally:
            d.close()
    finally:
        server.stop()
    report["dir_left"] = os.path.exists(server.dir)
    return report


def test_an_unprivileged_user_starts_uses_and_removes_a_server():
    if os.geteuid() != 0:
        pytest.skip("not root: every server-backed test already runs as this user, without runuser")
    if pgtemp.pg_bin() is None:
        pytest.skip("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin")
    pw = pwd.getpwnam(USER)
    import psycopg  # noqa: F401  (imported here: the child cannot read the interpreter's files)
    import psycopg.pq  # noqa: F401
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report on the pipe, never return into pytest
        os.close(r)
        try:
            out = {"ok": _as_unprivileged(pw)}
        except BaseException as e:  # noqa: BLE001 (reported to the parent)
            out = {"error": "%s: %s" % (type(e).__name__, e)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 120
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the unprivileged child did not finish in 120 s")
        time.sleep(0.1)
    with os.fdopen(r) as f:
        out = json.loads(f.read())
    assert "error" not in out, out["error"]
    got = out["ok"]
    assert got["euid"] == got["dir_owner"] == got["server_uid"] == pw.pw_uid != 0
    assert got["state"] == {"number": 7}
    assert not got["dir_left"]


def test_the_servers_cpu_time_grows_with_its_work():
    """PgServer.cpu_seconds: the server's processes' CPU time, ended backends' included."""
    server = pgtemp.PgServer()
    try:
        before = server.cpu_seconds()
        import psycopg
        with psycopg.connect(server.url(), autocommit=True) as c:
            c.execute("SELECT count(*) FROM generate_series(1, 3000000)")
        # that backend has ended: its time reaches the postmaster's once the postmaster reaps it,
        # which may be a moment after the connection closed
        deadline = time.monotonic() + 10
        after = server.cpu_seconds()
        while after - before < 0.05 and time.monotonic() < deadline:
            time.sleep(0.05)
            after = server.cpu_seconds()
        assert before is not None and after - before >= 0.05, (before, after)
    finally:
        server.stop()
