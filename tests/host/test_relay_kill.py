"""The relay killed from outside (SIGKILL at seeded moments) while a device takes its readings, and
restarted on the same link: the device loses no reading and anchors none twice.

The demo's pieces: the local node, a virtual board running the real firmware on MicroPython (the
WebAssembly port), and the relay as its own process (lightmeter_host.demo.Relay) on the board's
pseudo-terminal. Each kill waits for the relay to answer a request of a seeded type (a submission,
a receipt, a block number), sleeps a seeded fraction of a second and kills it, so that it lands
between a device's request and its answer, or between two requests of one reading; the relay
stays dead a seeded while (every other time, first until the device has given a request up after
all its tries) and a new one opens the same pty. The device resends a request that got no answer and, once it gives
the request up, the reading from its queue. The board's line transcript shows the kills cut
requests off (the device sent the same request again); at the end the chain holds every reading
exactly once, the device verified each one once and rejected nothing, its counter signed each
sequence number once, and its queue is empty.
"""

import random
import time

from lightmeter.device import store as store_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.link import frame, session as L
from lightmeter_host import demo
from lightmeter_host.chain import backends
from lightmeter_host.node.chain import Chain
from lightmeter_host.node.server import NodeServer
from lightmeter_host.vboard.board import VirtualBoard, read_transcript, TRANSCRIPT_OUT

from nodeutil import wait_results

READINGS = 6
KILLS = 4
SEED = 20261203
GAVE_UP = "[device] link: no answer"  # the device's log once a request went unanswered after every try
AFTER = (L.SEND_TX, L.GET_RECEIPT, L.GET_BLOCK_NUMBER)  # answered request types a kill may follow


def _verified(root):
    return (demo._results(root) or {}).get("verified", 0)


def _requests(transcript):
    """{(request id, type): times the device sent it}, from every byte it put on the line."""
    d = frame.Deframer()
    sent = {}
    for direction, data in read_transcript(transcript):
        if direction == TRANSCRIPT_OUT:
            for body in d.feed(data):
                _, mtype, rid, _ = frame.unpack(body)
                sent[rid, mtype] = sent.get((rid, mtype), 0) + 1
    return sent


def _gave_up(board):
    return sum(1 for line in board.log_lines() if GAVE_UP in line)


def _wait_answer(relay, types, since, timeout):
    """True once the relay has answered a request of one of types after its since-th answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(t in types for t in relay.answered[since:]):
            return True
        time.sleep(0.01)
    return False


def test_relay_killed_and_restarted_during_readings_loses_none(tmp_path):
    backends.install()
    node = NodeServer(Chain(seed=b"relay-kill"), "127.0.0.1", 0).start()
    root = str(tmp_path / "device")
    demo._device_files(root, node, READINGS)
    transcript = tmp_path / "line.txt"
    board = VirtualBoard(runtime="micropython", root=root, transcript=transcript)
    relay = demo.Relay(board.start(), node.url, 0.0)
    rnd = random.Random(SEED)
    kills = []  # (answered type the kill followed, verified on the device then, seconds down)
    try:
        for i in range(KILLS):
            types = {rnd.choice(AFTER)}
            delay, down = rnd.uniform(0.0, 0.4), rnd.uniform(0.2, 2.0)
            # kill i once i readings are verified: the kills spread over the run
            if i:
                wait_results(root, lambda r, i=i: r.get("verified", 0) >= i, 180)
                assert _verified(root) >= i, (kills, board.log_lines()[-8:])
            since = len(relay.answered)
            assert _wait_answer(relay, types, since, 180), \
                ("the relay answered no request of type %s" % types, kills, board.log_lines()[-8:])
            time.sleep(delay)
            before = _verified(root)
            relay.kill()
            t0 = time.monotonic()
            if i % 2:  # odd kills outlast the device's tries: it gives its request up, resends from its queue
                gave_up = _gave_up(board)
                while _gave_up(board) == gave_up and time.monotonic() - t0 < 120:
                    time.sleep(0.05)
            time.sleep(down)
            kills.append((types.pop(), before, round(time.monotonic() - t0, 2)))
            relay.start()
        res = wait_results(root, lambda r: r.get("verified", 0) >= READINGS, 300)
        board.stop()  # an orderly stop: the device's flash is saved whole
        gave_up = [line for line in board.log_lines() if GAVE_UP in line]
        store = store_mod.Store(root, recover=False)
        pub = store_mod.Blob(store, "public").load()
        seen = demo._on_chain(node.chain, suite_mod.get(node.chain.crypto).address(pub))
    finally:
        relay.stop()
        board.stop()
        node.stop()
    print("kills (after request type, verified then, seconds down):", kills)
    sent = _requests(transcript)
    retried = sorted(k for k, n in sent.items() if n > 1)
    print("requests the device sent again for want of an answer (id, type):", retried)
    # the kills cut requests off: the device got no answer and sent the same request again
    assert len(retried) >= KILLS // 2, (retried, kills)
    print("requests the device gave up:", gave_up)
    assert len(gave_up) >= KILLS // 2, (gave_up, kills)
    # every kill came while readings were still to be verified: the device was mid-run
    assert all(v < READINGS for _, v, _ in kills), kills
    assert res and res["verified"] == READINGS and res["rejected"] == 0, (res, kills, board.log_lines()[-10:])
    assert sorted(e["seq"] for e in res["last"]) == list(range(1, READINGS + 1))
    assert store_mod.Counter(store).peek() == READINGS  # each sequence number signed once
    assert len(store_mod.Queue(store)) == 0
    assert seen == {s: 1 for s in range(1, READINGS + 1)}, seen
