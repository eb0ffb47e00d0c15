"""End to end: node, virtual board running the real firmware, relay over a pty.

The demo path on both runtimes, with faults, and a relay that lies: the device
must catch every lie, keep the reading queued and say why.
"""

import asyncio
import threading

import pytest

from lightmeter.device import store as store_mod
from lightmeter_host.chain import backends
from lightmeter_host import demo, relay
from lightmeter_host.vboard.board import VirtualBoard
from lightmeter_host.node.chain import Chain
from lightmeter_host.node.server import NodeServer

from nodeutil import wait_results


@pytest.mark.parametrize("runtime", ["python", "micropython"])
def test_demo_anchors_and_verifies_every_reading(runtime):
    s = demo.run(readings=3, runtime=runtime, quiet=True, timeout=240)
    assert s["ok"], s
    assert (s["anchored"], s["verified_on_device"], s["lost"], s["duplicates"]) == (3, 3, 0, 0)
    assert s["signed"] == 3 and s["bytes_per_reading"] > 0
    assert (s["collected"], s["collector_verified"], s["collector_rejected"]) == (3, 3, 0)


def test_demo_with_faults_loses_nothing_and_reuses_no_counter():
    s = demo.run(readings=5, runtime="micropython", faults=True, quiet=True, timeout=240)
    assert s["ok"], s
    assert s["faults_injected"] == ["device-reset", "node", "relay"]
    assert s["duplicates"] == 0 and s["lost"] == 0 and s["signed"] == 5
    assert s["collected"] == 5 and s["collector_verified"] == 5  # the restarted node still serves all


def test_demo_on_an_sm_chain():
    s = demo.run(readings=2, runtime="python", crypto="sm", quiet=True, timeout=240)
    assert s["ok"], s
    assert s["collected"] == 2 and s["collector_verified"] == 2


def serve_relay(pty, url, handler):
    """The relay, answering with handler, in a thread of this process; returns its stop function."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(relay.relay([pty], url, log=lambda line: None, handler=handler))

    def serve():
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def stop():
        loop.call_soon_threadsafe(task.cancel)
        t.join(5)
    return stop


# -- a lying relay ----------------------------------------------------------------


def _lie_tampered_receipt(rpc, t, p):
    at, ans = relay.handle(rpc, t, p)
    if at == 12:
        ans[0][1] = str(int(ans[0][1]) + 1)  # gasUsed
    return at, ans


def _lie_too_few_signatures(rpc, t, p):
    at, ans = relay.handle(rpc, t, p)
    if at == 12:
        ans[3][12] = ans[3][12][:1]
    return at, ans


def _lie_other_block(rpc, t, p):
    at, ans = relay.handle(rpc, t, p)
    if at == 12:
        ans[3] = relay.relaywire.header_to_wire(rpc("getBlockByNumber", 1, True, True))
    return at, ans


def _lie_replayed_old_receipt(rpc, t, p):
    if t == 11:  # answer with the receipt of the chain's first transaction instead
        first = rpc("getBlockByNumber", 1, False, True)["transactions"][0]
        return relay.handle(rpc, t, {0: bytes.fromhex(first[2:])})
    return relay.handle(rpc, t, p)


LIES = {"tampered receipt": (_lie_tampered_receipt, "proof"),
        "header signed by too few sealers": (_lie_too_few_signatures, "quorum"),
        "proof for another block": (_lie_other_block, ""),
        "replayed old receipt": (_lie_replayed_old_receipt, "")}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_lying_relay_is_caught_and_the_reading_stays_queued(tmp_path, lie):
    handler, words = LIES[lie]
    backends.install()
    node = NodeServer(Chain(seed=b"lies"), "127.0.0.1", 0).start()
    # one honest transaction first, so that block 1 exists for the lies to point at
    from lightmeter_host.chain import txbuild
    from lightmeter_host.node import registry
    from lightmeter.chain import abi
    from lightmeter.crypto import suite
    tx = txbuild.make("chain0", "group0", 100, "first", registry.ADDRESS,
                      abi.encode_call("lastSeq(address)", [bytes(20)], suite.get("ecdsa").hash))
    _, raw = txbuild.sign(tx, "ecdsa", b"\x07" * 32)
    node.httpd.methods.send_transaction(raw.hex())
    root = str(tmp_path / "device")
    demo._device_files(root, node, 1)
    board = VirtualBoard(runtime="python", root=root)
    pty = board.start()
    stop_relay = serve_relay(pty, node.url, handler)
    try:
        res = wait_results(root, lambda r: r.get("rejected", 0) >= 2, 60)
        assert res and res["rejected"] >= 2 and res["verified"] == 0, res
        assert words in res["last_rejection"], res["last_rejection"]
        assert any("NOT accepted" in line for line in board.log_lines())
        queue = store_mod.Queue(store_mod.Store(root, recover=False))
        assert len(queue) == 1  # the reading waits for an honest answer
    finally:
        stop_relay()
        board.stop()
        node.stop()


@pytest.mark.parametrize("runtime", ["python", "micropython"])
def test_device_moves_its_checkpoint_across_a_sealer_set_change(tmp_path, runtime):
    """Provisioned at genesis; the consortium adds a sealer and re-weights it; the device proves
    the change on its own (strict sync over the link), stores the new checkpoint, and anchors."""
    from lightmeter.chain import abi
    from lightmeter.device import checkpoint
    from lightmeter.crypto import suite
    from lightmeter_host.chain import txbuild
    from lightmeter_host.node import consensus

    backends.install()
    node = NodeServer(Chain(seed=b"set-change"), "127.0.0.1", 0).start()
    root = str(tmp_path / "device")
    demo._device_files(root, node, 1)  # trust: genesis set
    h = suite.get("ecdsa").hash
    new = sorted(node.chain.keys)[-1]
    for i, data in enumerate((abi.encode_call("addSealer(string,uint256)", [new.hex(), 1], h),
                              abi.encode_call("setWeight(string,uint256)", [new.hex(), 3], h))):
        tx = txbuild.make("chain0", "group0", 100, "change-%d" % i, consensus.ADDRESS, data)
        assert node.httpd.methods.send_transaction(txbuild.sign(tx, "ecdsa", b"\x05" * 32)[1].hex())["status"] == 0
    board = VirtualBoard(runtime=runtime, root=root)
    relay_proc = demo.Relay(board.start(), node.url, 0.0)
    try:
        res = wait_results(root, lambda r: r.get("verified"), 120)
        assert res and res["verified"] == 1 and res["rejected"] == 0, (res, board.log_lines()[-5:])
    finally:
        relay_proc.stop()
        board.stop()
        node.stop()
    stored = checkpoint.load(store_mod.Store(root))
    assert stored.number >= 2
    assert dict(stored.sealers)[new] == 3 and len(stored.sealers) == 5


def test_an_expired_unseen_transaction_is_signed_anew_and_anchored_once(tmp_path):
    """The relay 'loses' the first submission and reports the chain past its block limit: the
    device, finding no receipt, signs a new transaction for the same reading; it is anchored once."""
    from lightmeter_host import relay as relay_mod
    from lightmeter.link import session as L

    state = {"dropped": 0}

    def losing(rpc, t, p):
        if t == L.SEND_TX and not state["dropped"]:
            state["dropped"] = 1  # never reaches the node
            return L.TX_ACK, {0: bytes(32), 1: 10001, 2: "BlockLimitCheckFail"}
        if t == L.GET_BLOCK_NUMBER and state["dropped"] == 1:
            state["dropped"] = 2  # the next question: the chain is past the limit
            return L.BLOCK_NUMBER, {0: 10 ** 6}
        return relay_mod.handle(rpc, t, p)

    backends.install()
    node = NodeServer(Chain(seed=b"expiry"), "127.0.0.1", 0).start()
    root = str(tmp_path / "device")
    demo._device_files(root, node, 1)
    board = VirtualBoard(runtime="python", root=root)
    pty = board.start()
    stop_relay = serve_relay(pty, node.url, losing)
    try:
        res = wait_results(root, lambda r: r.get("verified"), 60)
        assert res and res["verified"] == 1, (res, board.log_lines()[-5:])
        assert any("expired unseen" in line for line in board.log_lines())
    finally:
        stop_relay()
        board.stop()
        chain = node.chain
        pub = store_mod.Blob(store_mod.Store(root, recover=False), "public").load()
        from lightmeter.crypto import suite
        seen = demo._on_chain(chain, suite.get("ecdsa").address(pub))
        node.stop()
    assert seen == {1: 1}
