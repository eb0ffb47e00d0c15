"""lightmeter.client.sync over an in-memory source: strict and skipping walks, a lying source."""

from lightmeter.crypto import suite as suite_mod
from lightmeter.client import sync, trust as trust_mod
from lightmeter.errors import Invalid
from chainmaker import sealers, signed_header, trust_json
from support import raises

S = "ecdsa"


def drive(coro):
    """Run a coroutine that never waits on anything (the source is in memory), on both runtimes."""
    try:
        while True:
            coro.send(None)
    except StopIteration as e:
        return e.value


class MemSource:
    def __init__(self, headers):
        self.headers = headers  # number -> Header
        self.bytes = 0
        self.asked = []

    async def head(self):
        return len(self.headers) - 1

    async def header(self, n):
        self.asked.append(n)
        return self.headers[n]

    async def changes(self, n):
        return []


def chain(n, nodes):
    s = suite_mod.get(S)
    g, _ = signed_header(S, nodes, 0, [], None, bytes(32))
    _, h0 = signed_header(S, nodes, 0, [], None, bytes(32))
    hs = [h0]
    for i in range(1, n + 1):
        _, h = signed_header(S, nodes, i, None, None, hs[-1].hash(s))
        hs.append(h)
    return hs


def genesis(nodes, hs):
    return trust_mod.from_json(trust_json(S, nodes, None, 0, hs[0].hash(suite_mod.get(S))))


def test_strict_and_skipping_reach_the_head():
    nodes = sealers(S, 4, b"sync")
    hs = chain(6, nodes)
    s = suite_mod.get(S)
    src = MemSource(hs)
    t, stats = drive(sync.sync(genesis(nodes, hs), s, src, "strict"))
    assert t.number == 6 and t.hash == hs[6].hash(s) and stats["headers"] == 6
    src = MemSource(hs)
    t, stats = drive(sync.sync(genesis(nodes, hs), s, src, "skipping"))
    assert t.number == 6 and t.hash == hs[6].hash(s) and stats["headers"] == 1 and src.asked == [6]
    t, stats = drive(sync.sync(genesis(nodes, hs), s, MemSource(hs), "skipping", to=3))
    assert t.number == 3


def test_skipping_bisects_when_the_set_moved_on():
    s = suite_mod.get(S)
    p = sealers(S, 8, b"sync-bisect")
    old, new = p[:4], p[4:]
    hs = chain(4, old)
    _, h5 = signed_header(S, new, 5, None, None, hs[4].hash(s))  # no overlap with the old set
    hs.append(h5)
    e = raises(Invalid, drive, sync.sync(genesis(old, hs), s, MemSource(hs), "skipping"))
    assert "sealer" in str(e)  # bisected down to block 5, which the old set's trust refuses
    src = MemSource(hs[:5])
    t, _ = drive(sync.sync(genesis(old, hs), s, src, "skipping"))
    assert t.number == 4


def test_a_tampered_header_and_a_bad_target_are_refused():
    nodes = sealers(S, 4, b"sync")
    hs = chain(3, nodes)
    s = suite_mod.get(S)
    hs[2].timestamp += 1
    raises(Invalid, drive, sync.sync(genesis(nodes, hs), s, MemSource(hs), "strict"))
    raises(sync.SyncError, drive, sync.sync(genesis(nodes, hs), s, MemSource(hs), "strict", to=9))
