"""R hints through the link (proto/link.md, "R hints"): a device that checks headers in batches
asks for them, the relay computes them, the batch uses them instead of each R's square root;
a device with single checks asks nothing and gets no field 13. The verdicts with hints of any
kind are tests/firmware/test_batch.py's and tests/host/test_batch_hypothesis.py's."""

import asyncio
import hashlib

import pytest

from lightmeter.chain import headerwrite
from lightmeter.client import sync, verify
from lightmeter.crypto import batch, keys, secp256k1 as S, suite
from lightmeter.errors import Invalid
from lightmeter.link import session as L, wire
from lightmeter_host import concentrator, relay

PRIVS = [hashlib.sha256(b"hint sealer %d" % i).digest() for i in range(21)]
ORDER = sorted(range(21), key=lambda i: S.public_key(PRIVS[i]))
SEALERS = [(S.public_key(PRIVS[i]), 1) for i in ORDER]
ECDSA = suite.get("ecdsa")


def _block(bad_at=None):
    hd = headerwrite.new(9, b"\x02" * 32, [p for p, _ in SEALERS])
    digest = hd.hash(ECDSA)
    hd.signatures = [(j, S.sign(PRIVS[ORDER[j]], digest)) for j in range(15)]
    if bad_at is not None:
        hd.signatures[bad_at] = (bad_at, S.sign(PRIVS[ORDER[20]], digest))
    return headerwrite.to_json(hd, digest), digest


class FakeLink:
    """The device's link with the relay's handler behind it, over one fake node."""

    def __init__(self, block):
        self.block = block
        self.asked = []
        self.sent_bytes = self.received_bytes = 0

    def rpc(self, method, *args):
        assert method == "getBlockByNumber"
        return self.block

    async def request(self, mtype, payload=None):
        self.asked.append(payload)
        t, ans = relay.handle(self.rpc, mtype, payload)
        assert t == L.HEADER
        return ans


class Roots:
    def __init__(self):
        self.count = 0

    def __call__(self, c):
        self.count += 1
        return S.sqrt_candidate(c)


@pytest.fixture(autouse=True)
def firmware_curve():
    # the batch and the kept tables run on the firmware's own curve (keys.kept is None for a
    # suite that verifies natively): put the pure primitives back for these tests if an earlier
    # test in this process left the native backends in the suites, and restore them after
    from lightmeter_host.chain import backends
    was = backends.installed()
    backends.uninstall()
    yield
    if was:
        backends.install()


@pytest.fixture
def roots(monkeypatch):
    r = Roots()
    monkeypatch.setattr(S.CURVE, "sqrt", r)
    yield r


@pytest.fixture
def batch_size():
    saved = verify.BATCH_SIZE
    yield lambda n: setattr(verify, "BATCH_SIZE", n)
    verify.BATCH_SIZE = saved


def _header(link):
    return asyncio.run(sync.LinkSource(link, ECDSA).header(9))


def test_a_batching_device_asks_and_the_batch_lifts_no_r(roots, batch_size):
    batch_size(15)
    block, digest = _block()
    link = FakeLink(block)
    hd = _header(link)
    assert link.asked == [{0: 9, 1: 1}]
    assert len(hd.r_hints) == 15 and all(len(y) == 32 for y in hd.r_hints)
    keys.kept(ECDSA).keep([p for p, _ in SEALERS])  # the set's tables, built before the count
    roots.count = 0
    assert verify.check_signatures(hd, digest, SEALERS, ECDSA) == (list(range(15)), 15)
    assert roots.count == 0
    hd.r_hints = None  # the same header from an old relay: every R lifted
    assert verify.check_signatures(hd, digest, SEALERS, ECDSA) == (list(range(15)), 15)
    assert roots.count == 15


def test_a_single_checking_device_asks_nothing_and_gets_nothing(batch_size):
    batch_size(1)
    link = FakeLink(_block()[0])
    hd = _header(link)
    assert link.asked == [{0: 9}] and hd.r_hints is None
    # An sm device never asks either, whatever its batch size (no v, no batch).
    batch_size(15)
    assert not verify.wants_r_hints(suite.get("sm"))


def test_bytes_a_header_costs():
    block, _ = _block()
    plain = relay.handle(lambda *a: block, L.GET_HEADER, {0: 9})[1]
    hinted = relay.handle(lambda *a: block, L.GET_HEADER, {0: 9, 1: 1})[1]
    from lightmeter.link import cbor
    extra = len(cbor.dumps(hinted)) - len(cbor.dumps(plain))
    assert extra == 1 + 1 + 15 * 34  # key, array head, 15 x (bstr head 2 + 32 bytes): proto/link.md
    assert wire.R_HINTS not in plain and hinted[wire.R_HINTS] == [batch.r_hint(s) for _, s in hinted[12]]


@pytest.mark.parametrize("bad_at", [0, 7, 14])
def test_a_bad_signature_is_named_with_hints(batch_size, bad_at):
    batch_size(15)
    block, digest = _block(bad_at)
    hd = _header(FakeLink(block))
    assert hd.r_hints is not None
    with pytest.raises(Invalid, match="signature of sealer %d does not verify" % bad_at):
        verify.check_signatures(hd, digest, SEALERS, ECDSA)


def test_concentrator_keeps_hinted_and_plain_headers_apart():
    block, _ = _block()
    calls = []

    def rpc(method, *args):
        calls.append(method)
        return block

    c = concentrator.Concentrator.__new__(concentrator.Concentrator)
    c.rpc, c.headers = rpc, {}
    c._head = lambda: 100
    plain = c._cached(c.headers, L.GET_HEADER, {0: 9})
    hinted = c._cached(c.headers, L.GET_HEADER, {0: 9, 1: 1})
    assert wire.R_HINTS not in plain[1] and wire.R_HINTS in hinted[1]
    assert c._cached(c.headers, L.GET_HEADER, {0: 9, 1: 1}) is hinted and len(calls) == 2


def test_receipt_answer_from_a_node_carries_hints_when_asked(roots, batch_size):
    # get_receipt with field 2 = 1 against the local node: field 3's header has field 13, and the
    # device's quorum check (batches) lifts no R; without the field, no hints.
    from lightmeter.chain import header as header_mod
    from lightmeter_host.chain import txbuild
    from lightmeter_host.node import registry
    from lightmeter.chain import abi
    from nodeutil import start_node
    srv, client = start_node()
    try:
        tx = txbuild.make("chain0", "group0", 100, "hinted", registry.ADDRESS,
                          abi.encode_call("lastSeq(address)", [bytes(20)], ECDSA.hash))
        digest, raw = txbuild.sign(tx, "ecdsa", b"\x09" * 32)
        client("sendTransaction", "0x" + raw.hex(), False)
        ask = {0: digest, 1: 1}
        plain = relay.handle(client, L.GET_RECEIPT, ask)
        hinted = relay.handle(client, L.GET_RECEIPT, {0: digest, 1: 1, 2: 1})
        assert plain[0] == hinted[0] == L.RECEIPT
        assert wire.R_HINTS not in plain[1][3] and wire.R_HINTS in hinted[1][3]
        hd = header_mod.from_json(wire.header_from_wire(hinted[1][3]), 65)
        assert hd.r_hints == [batch.r_hint(s) for _, s in hd.signatures] and len(hd.signatures) >= 3
        sealers = [(bytes.fromhex(s["nodeID"][2:] if s["nodeID"].startswith("0x") else s["nodeID"]), s["weight"])
                   for s in client("getSealerList")]
        sealers.sort()
        batch_size(15)
        keys.kept(ECDSA).keep([p for p, _ in sealers])
        roots.count = 0
        signers, weight = verify.check_signatures(hd, hd.hash(ECDSA), sealers, ECDSA)
        assert signers == [i for i, _ in hd.signatures] and roots.count == 0
    finally:
        srv.stop()
