"""`collector verify` and `collector export` read what `collect` wrote: they open the database
read-only, never create or change one, and refuse anything that is not a collector database (an
empty file, another program's SQLite or PostgreSQL database, a fresh one, a missing path, a
newer schema) with one line on stderr and exit status 2 (issue #12)."""

import hashlib
import os
import sqlite3

import pytest

from pgserver import pg_server  # noqa: F401  (fixture)
from lightmeter_host import cli
from lightmeter_host.collector import db as db_mod

VERBS = [["collector", "verify"], ["collector", "verify", "--mark"], ["collector", "export", "--format", "csv"]]
VERB_IDS = ["verify", "verify-mark", "export"]


def run(capsys, argv):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder):
    """Every file under folder with its content's hash: what must not change. A reader of a WAL
    database (the collector's) makes SQLite's shared-memory index and an empty log beside it,
    which hold no data: they are left out."""
    got = {}
    for base, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(base, f)
            if f.endswith("-shm") or (f.endswith("-wal") and os.path.getsize(p) == 0):
                continue
            with open(p, "rb") as fh:
                got[p] = hashlib.sha256(fh.read()).hexdigest()
    return got


def _empty_file(path):
    open(path, "wb").close()


def _garbage_file(path):
    with open(path, "wb") as f:
        f.write(b"not a database at all\n" * 100)


def _unrelated_sqlite(path):
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE readings (x INTEGER)")  # a name in common, but not the collector's table
    c.execute("CREATE TABLE recipes (name TEXT)")
    c.commit()
    c.close()


def _fresh_sqlite(path):
    c = sqlite3.connect(path)
    c.execute("PRAGMA user_version = 7")  # a real, valid SQLite file with no table
    c.commit()
    c.close()


def _newer_collector(path):
    d = db_mod.open_db("sqlite://" + path)
    with d.transaction() as cur:
        cur.execute("UPDATE state SET value = '99' WHERE key = ?", (db_mod.SCHEMA_KEY,))
    d.close()


SQLITE_CASES = {"empty-file": _empty_file, "garbage-file": _garbage_file, "unrelated-sqlite": _unrelated_sqlite,
                "fresh-sqlite": _fresh_sqlite, "newer-schema": _newer_collector}


@pytest.mark.parametrize("verb", VERBS, ids=VERB_IDS)
@pytest.mark.parametrize("case", sorted(SQLITE_CASES))
def test_sqlite_file_that_is_not_a_collector_database_is_refused_unchanged(tmp_path, capsys, verb, case):
    path = str(tmp_path / "x.db")
    SQLITE_CASES[case](path)
    before = snapshot(str(tmp_path))
    code, out, err = run(capsys, verb + ["--db", "sqlite://" + path])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert ("not a collector database" in err) or ("schema version" in err), err
    assert out == ""
    assert snapshot(str(tmp_path)) == before


@pytest.mark.parametrize("verb", VERBS, ids=VERB_IDS)
@pytest.mark.parametrize("where", ["missing-file", "missing-folder"])
def test_a_missing_sqlite_path_is_refused_and_not_created(tmp_path, capsys, verb, where):
    path = tmp_path / "x.db" if where == "missing-file" else tmp_path / "nowhere" / "x.db"
    code, out, err = run(capsys, verb + ["--db", "sqlite://" + str(path)])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "not a collector database" in err and "no such file" in err
    assert os.listdir(str(tmp_path)) == []


def test_a_fresh_collector_database_verifies_empty(tmp_path, capsys):
    """A collector database that holds nothing yet (collect made it, then stopped) verifies: 0 readings."""
    url = "sqlite://" + str(tmp_path / "c.db")
    db_mod.open_db(url).close()
    code, out, err = run(capsys, ["collector", "verify", "--db", url])
    assert code == 0, err
    assert "0 readings" in err
    code, out, err = run(capsys, ["collector", "export", "--db", url, "--format", "csv"])
    assert code == 0 and out.startswith("meter_id")


def _pg_tables(url):
    import psycopg
    with psycopg.connect(url) as c:
        return sorted(r[0] for r in c.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"))


def _pg_exec(url, sql):
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(sql)


@pytest.mark.parametrize("verb", VERBS, ids=VERB_IDS)
@pytest.mark.parametrize("case", ["fresh", "unrelated", "newer-schema"])
def test_postgresql_database_that_is_not_a_collector_database_is_refused_unchanged(pg_server, capsys, verb, case):
    url = pg_server.new_database()
    if case == "unrelated":
        _pg_exec(url, "CREATE TABLE recipes (name TEXT)")
    elif case == "newer-schema":
        db_mod.open_db(url).close()
        _pg_exec(url, "UPDATE state SET value = '99' WHERE key = '%s'" % db_mod.SCHEMA_KEY)
    before = _pg_tables(url)
    code, out, err = run(capsys, verb + ["--db", url])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert ("not a collector database" in err) or ("schema version" in err), err
    assert _pg_tables(url) == before


@pytest.mark.parametrize("verb", VERBS, ids=VERB_IDS)
def test_a_missing_postgresql_database_is_refused(pg_server, capsys, verb):
    url = pg_server.url("no_such_database")
    code, out, err = run(capsys, verb + ["--db", url])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "no_such_database" in err
