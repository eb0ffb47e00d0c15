"""The device's stored checkpoint (device/checkpoint.py, proto/trust.md "On the device") under
generated input: every Trust round-trips through the binary form and means what its TRUST.json
means; any bytes, and any CBOR item, either decode to a Trust that TRUST.json would also give or
are refused as Malformed, never another exception."""

from hypothesis import event, given, settings, strategies as st

from lightmeter.client import trust
from lightmeter.device import checkpoint
from lightmeter.errors import Malformed
from lightmeter.link import cbor

node_ids = st.binary(min_size=64, max_size=64)
names = st.text(min_size=1, max_size=64)
trusts = st.builds(
    lambda chain, group, crypto, sealers, number, digest, ts: trust.from_json(dict(
        {"chain_id": chain, "group_id": group, "crypto": crypto,
         "sealers": [{"node_id": n.hex(), "weight": w} for n, w in sealers.items()]},
        **({} if number is None else {"number": number}),
        **({} if number is None or digest is None else {"hash": "0x" + digest.hex()}),
        **({} if number is None or digest is None or ts is None else {"timestamp": ts}))),
    names, names, st.sampled_from(["ecdsa", "sm"]),
    st.dictionaries(node_ids, st.integers(1, 1 << 32), min_size=1, max_size=24),
    st.none() | st.integers(0, (1 << 63) - 1), st.none() | st.binary(min_size=32, max_size=32),
    st.none() | st.integers(0, (1 << 48) - 1))


@settings(max_examples=300, deadline=None)
@given(trusts)
def test_every_checkpoint_round_trips_through_the_binary_form(t):
    raw = checkpoint.encode(t)
    assert checkpoint.decode(raw).to_json() == t.to_json()
    assert cbor.dumps(cbor.loads(raw)) == raw  # canonical


def _agrees_with_json(got, item):
    # What the binary form accepted, TRUST.json with the same fields accepts too, and alike.
    flat = item[4]
    obj = {"chain_id": item[1], "group_id": item[2], "crypto": item[3],
           "sealers": [{"node_id": flat[i].hex(), "weight": flat[i + 1]} for i in range(0, len(flat), 2)]}
    for key, v in (("number", item[5]), ("hash", item[6]), ("timestamp", item[7])):
        if v is not None:
            obj[key] = "0x" + v.hex() if key == "hash" else v
    assert trust.from_json(obj).to_json() == got.to_json()


items = st.recursive(st.none() | st.booleans() | st.integers(-2, (1 << 64) - 1) | st.text(max_size=8)
                     | st.binary(max_size=70),
                     lambda inner: st.lists(inner, max_size=6), max_leaves=20)
def mostly(valid, other):
    # the valid shape seven times in eight, so that whole valid items come up often
    return st.integers(0, 7).flatmap(lambda i: valid if i else other)


pairs = st.lists(st.tuples(node_ids, st.integers(0, (1 << 32) + 1)), max_size=5).map(
    lambda ps: [x for p in ps for x in p])
arrays = st.tuples(mostly(st.just(1), st.sampled_from([0, 2]) | items), mostly(names, items),
                   mostly(names, items), mostly(st.sampled_from(["ecdsa", "sm"]), st.just("rsa") | items),
                   mostly(pairs, st.lists(node_ids | st.integers(0, 4) | items, max_size=8)),
                   mostly(st.none() | st.integers(0, (1 << 63) - 1), st.integers(-1, (1 << 64) - 1) | items),
                   mostly(st.none() | st.binary(min_size=32, max_size=32), st.binary(max_size=40) | items),
                   mostly(st.none() | st.integers(0, (1 << 48) - 1), st.integers(-1, (1 << 64) - 1) | items))


@settings(max_examples=500, deadline=None)
@given(arrays)
def test_a_stored_item_decodes_as_trust_json_would_or_is_malformed(a):
    item = list(a)
    try:
        got = checkpoint.decode(cbor.dumps(item))
    except Malformed:
        event("refused")
        return
    event("accepted")
    _agrees_with_json(got, item)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_trust_or_are_malformed(raw):
    try:
        checkpoint.decode(raw)
    except Malformed:
        pass
