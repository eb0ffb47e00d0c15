"""The relay's answer to a request it is still working on serves the device's resends of it
(lightmeter_host.relay.Port): copies that were already waiting when the answer went out are
skipped, a later copy (the device lost the answer) is answered again, and the log counts every
byte on the line both ways."""

import asyncio
import os
import re
import threading
import time
import tty

from lightmeter.link import frame, session as L

from lightmeter_host import relay


def _run_port(name, handler, lines):
    loop = asyncio.new_event_loop()
    port = relay.Port(name, rpc=None, log=lines.append, handler=handler)
    task = loop.create_task(port.serve())

    def run():
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return loop, task, port


def _read_answers(fd, want, timeout=20):
    d = frame.Deframer()
    got, raw = [], 0
    deadline = time.time() + timeout
    os.set_blocking(fd, False)
    while len(got) < want and time.time() < deadline:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.02)
            continue
        raw += len(data)
        got += [frame.unpack(b) for b in d.feed(data)]
    return got, raw


def test_resends_waiting_behind_a_slow_answer_are_skipped_and_a_late_one_is_answered():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    calls = []

    def handler(rpc, mtype, payload):
        calls.append(payload[0])
        if len(calls) == 1:
            time.sleep(1.5)  # the node is busy: the device times out and resends meanwhile
        return L.BLOCK_NUMBER, {0: 7 + len(calls)}

    lines = []
    loop, task, port = _run_port(os.ttyname(slave), handler, lines)
    try:
        request = frame.encode_message(L.GET_HEADER, 41, {0: 5})
        os.write(master, request)
        time.sleep(0.4)
        os.write(master, request + request)  # two resends while the first is being answered
        got, raw_out = _read_answers(master, 1)
        assert [(m[1], m[2], m[3]) for m in got] == [(L.BLOCK_NUMBER, 41, {0: 8})]
        time.sleep(0.5)
        assert calls == [5]
        skipped = [ln for ln in lines if "skipped" in ln]
        assert len(skipped) == 2
        # a copy sent after the answer went out (the device lost it) is answered again
        os.write(master, request)
        got2, raw2 = _read_answers(master, 1)
        assert [(m[1], m[2], m[3]) for m in got2] == [(L.BLOCK_NUMBER, 41, {0: 9})]
        assert calls == [5, 5]
        time.sleep(0.2)
        # the log's sizes are the line bytes both ways
        sizes = [int(x) for ln in lines for x in re.findall(r"\((\d+) B\)", ln)]
        assert sum(sizes) == 4 * len(request) + raw_out + raw2
        assert port.stats["bytes_in"] == 4 * len(request)
    finally:
        loop.call_soon_threadsafe(task.cancel)
        time.sleep(0.2)
        os.close(master)
        os.close(slave)
