"""The PostgreSQL fixture: one throw-away server (lightmeter_host.collector.pgtemp) for the whole test process,
whichever modules import the fixture; stopped when the process exits. Skips, with the reason,
only where no server can be started (no binaries, not root).
"""

import pytest

from lightmeter_host.collector.pgtemp import PgServer, PgUnavailable

_shared = None


def shared():
    global _shared
    if _shared is None:
        import atexit
        try:
            _shared = PgServer()
        except PgUnavailable as e:
            pytest.skip(str(e))
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture(scope="session")
def pg_server():
    return shared()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty collector database URL: once on SQLite, once on the shared PostgreSQL server
    (the same suite runs on both)."""
    if request.param == "sqlite":
        return "sqlite://" + str(tmp_path / "collector.db")
    return request.getfixturevalue("pg_server").new_database()
