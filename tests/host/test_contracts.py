"""The MeterRegistry contract, its committed artifact and its SM variant; the ABI codec, generated.

- The artifact (proto/contracts/MeterRegistry.json) is what a rebuild with the pinned solc gives,
  byte for byte, for a FISCO BCOS EVM (no PUSH0), with selectors that lightmeter.chain.abi agrees with.
- The SM variant differs from the keccak build only inside the PUSH4/PUSH32 immediates it lists,
  and holds the SM3 constants there, as FISCO's SM compiler does (FISCO-BCOS-DOC HelloWorld).
- The contract's rules, run on py-evm (Paris) in both variants.
- lightmeter.chain.abi under hypothesis: round trips, and hostile bytes only ever raise Malformed.
"""

import json

import pytest
from hypothesis import given, settings, strategies as st

from lightmeter_host.chain import contracts
from lightmeter.chain import abi, abidecode
from lightmeter.errors import Malformed
from lightmeter.crypto.keccak import keccak256
from lightmeter.crypto.sm3 import sm3
from lightmeter_host.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
ART = contracts.load("MeterRegistry")
HASHES = {"ecdsa": keccak256, "sm": sm3}
CODES = ("bytecode", "deployedBytecode")
# Opcodes an EVM at revision Paris does not have: PUSH0 (Shanghai); TLOAD, TSTORE, MCOPY,
# BLOBHASH, BLOBBASEFEE (Cancun).
AFTER_PARIS = {0x5F: "PUSH0", 0x5C: "TLOAD", 0x5D: "TSTORE", 0x5E: "MCOPY", 0x49: "BLOBHASH",
               0x4A: "BLOBBASEFEE"}


def _code(key):
    return bytes.fromhex(ART[key])


def _body(code):
    """Code without solc's CBOR metadata trailer (data, not instructions)."""
    return code[:len(code) - contracts.metadata_length(code)]


def _functions():
    return [contracts.signature(e) for e in ART["abi"] if e["type"] == "function"]


def _events():
    return [contracts.signature(e) for e in ART["abi"] if e["type"] == "event"]


def _immediates(code, op):
    return [imm for _, o, imm in contracts.instructions(_body(code)) if o == op]


# --- the artifact is the rebuild -----------------------------------------------------------

@pytest.fixture(scope="module")
def rebuilt():
    try:
        return contracts.build("MeterRegistry")
    except contracts.SolcUnavailable as e:  # no skip: an unchecked artifact is not a checked one
        pytest.fail(str(e))


def test_committed_artifact_is_byte_for_byte_a_rebuild(rebuilt):
    assert rebuilt == ART
    assert contracts.dumps(rebuilt) == contracts.artifact_path("MeterRegistry").read_text(), \
        "proto/contracts/MeterRegistry.json is stale: run .venv/bin/python -m lightmeter_host.chain.contracts"


def test_check_command_finds_the_artifacts_up_to_date(capsys):
    assert contracts.main(["--check", "MeterRegistry"]) == 0
    assert "MeterRegistry: up to date" in capsys.readouterr().out


def test_artifact_names_the_pinned_compiler_and_its_settings():
    pinned = contracts.pinned_solc_version()
    assert ART["compiler"]["version"].startswith(pinned + "+commit.")
    s = ART["settings"]
    assert s["evmVersion"] == "paris"
    assert s["optimizer"]["enabled"] is True and s["optimizer"]["runs"] == 200
    assert s["metadata"]["bytecodeHash"] == "none"
    assert ART["contractName"] == "MeterRegistry" and (ROOT / ART["source"]).is_file()
    assert ART["notes"] and "SM3" in " ".join(ART["notes"])


def test_solc_is_pinned_exactly_and_the_lockfile_is_portable():
    pkg = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = contracts.pinned_solc_version()
    assert pinned[0].isdigit() and pinned.count(".") == 2, "solc must be an exact version, not a range"
    assert lock["packages"]["node_modules/solc"]["version"] == pinned
    assert pkg["dependencies"]["@micropython/micropython-webassembly-pyscript"] == "1.27.0"
    for name, entry in lock["packages"].items():
        assert "resolved" not in entry, "%s: registry URL in the lockfile" % name
        assert name == "" or entry.get("integrity"), "%s: no integrity hash" % name


# --- the code runs on FISCO BCOS's EVM --------------------------------------------------

@pytest.mark.parametrize("key", CODES + ("bytecode_sm", "deployedBytecode_sm"))
def test_code_has_no_opcode_after_paris(key):
    # FISCO BCOS 3.x: EVMC_LONDON / EVMC_PARIS (bcos-executor/src/vm/VMInstance.cpp toRevision)
    for off, op, _ in contracts.instructions(_body(_code(key))):
        assert op not in AFTER_PARIS, "%s at %d in %s" % (AFTER_PARIS.get(op), off, key)


def test_creation_code_ends_with_the_runtime_code():
    for suffix in ("", "_sm"):
        assert _code("bytecode" + suffix).endswith(_code("deployedBytecode" + suffix))


# --- selectors, topics and the SM variant ---------------------------------------------------

def test_selectors_are_abi_selector_of_the_abi_for_both_hashes():
    fns = _functions()
    assert sorted(fns) == ["batchCount(address,bytes32)", "lastSeq(address)", "readingOf(address,uint64)",
                           "record(uint64,bytes)", "recordBatch(bytes32,uint32)"]
    for key, h in (("selectors", keccak256), ("selectors_sm", sm3)):
        assert ART[key] == {f: abi.selector(f, h).hex() for f in fns}, key
    for key, h in (("topics", keccak256), ("topics_sm", sm3)):
        assert ART[key] == {e: abi.event_topic(e, h).hex() for e in _events()}, key
    for key, h in (("error_selectors", keccak256), ("error_selectors_sm", sm3)):
        assert ART[key] == {e: abi.selector(e, h).hex() for e in ("Error(string)", "Panic(uint256)")}, key


@pytest.mark.parametrize("crypto", ["ecdsa", "sm"])
def test_dispatcher_and_event_use_the_suites_hash_only(crypto):
    h = HASHES[crypto]
    other = HASHES["sm" if crypto == "ecdsa" else "ecdsa"]
    code = contracts.deployed_bytecode("MeterRegistry", crypto)
    push4, push32 = _immediates(code, 0x63), _immediates(code, 0x7F)
    for f in _functions():
        assert abi.selector(f, h) in push4, f
        assert abi.selector(f, other) not in code, f
    for e in _events():
        assert abi.event_topic(e, h) in push32, e
        assert abi.event_topic(e, other) not in code, e
    for e in ("Error(string)", "Panic(uint256)"):
        assert abi.selector(e, other) not in code, e
    assert abi.selector("Error(string)", h) + bytes(28) in push32
    assert abi.selector("Panic(uint256)", h) in push4


@pytest.mark.parametrize("key", CODES)
def test_sm_variant_differs_only_at_the_listed_constants(key):
    kec, sm = _code(key), _code(key + "_sm")
    assert len(kec) == len(sm)
    starts = {off: (op, imm) for off, op, imm in contracts.instructions(_body(kec))}
    # same instructions at the same offsets: no jump target moved
    assert [(o, op) for o, op, _ in contracts.instructions(_body(sm))] == \
        [(o, op) for o, (op, _) in sorted(starts.items())]
    consts = {}
    for sig in _functions() + ["Error(string)", "Panic(uint256)"]:
        consts[sig] = {4: (abi.selector(sig, keccak256), abi.selector(sig, sm3)),
                       32: (abi.selector(sig, keccak256) + bytes(28), abi.selector(sig, sm3) + bytes(28))}
    for sig in _events():
        consts[sig] = {32: (abi.event_topic(sig, keccak256), abi.event_topic(sig, sm3))}
    patched = set()
    for p in ART["sm_patches"][key]:
        width, off = int(p["push"][4:]), p["offset"]
        assert starts[off - 1] == (0x5F + width, kec[off:off + width]), p  # a PUSHn opcode
        old, new = consts[p["signature"]][width]
        assert kec[off:off + width] == old and sm[off:off + width] == new, p
        patched.update(range(off, off + width))
    diff = {i for i in range(len(kec)) if kec[i] != sm[i]}
    assert diff and diff <= patched


def test_every_declared_selector_and_topic_was_patched():
    listed = [p["signature"] for p in ART["sm_patches"]["deployedBytecode"]]
    for sig in _functions() + _events() + ["Error(string)"]:
        assert sig in listed, sig


def test_fisco_sm_compiler_pushes_sm3_constants_as_the_sm_variant_does():
    # FISCO-BCOS-DOC 3.x api.md sendTransaction: a HelloWorld compiled by FISCO's SM solc 0.8.11.
    # Walking its code: the selectors and the Panic selector are PUSH4 immediates holding SM3
    # values, and no keccak value is there, which is what bytecode_sm imitates.
    vec = json.loads((ROOT / "tests" / "vectors" / "fisco-doc-sendTransaction.json").read_text())["fields"]
    code = bytes.fromhex(vec["input"][2:])
    push4 = {imm for _, op, imm in contracts.instructions(code) if op == 0x63}
    sigs = [contracts.signature(e) for e in json.loads(vec["abi"]) if e["type"] == "function"]
    for sig in sigs + ["Panic(uint256)"]:
        assert abi.selector(sig, sm3) in push4, sig
        assert abi.selector(sig, keccak256) not in code, sig


# --- the SM patcher refuses what it cannot patch in place ---------------------------------

_ERR_ABI = [{"type": "function", "name": "f", "inputs": []}]


def test_sm_patch_refuses_a_shifted_selector():
    # solc's constant optimiser writes Error(string) as PUSH3 0x461bcd PUSH1 0xe5 SHL
    table, _ = contracts._sm_replacements(_ERR_ABI)
    with pytest.raises(contracts.BuildFailed, match="shifted"):
        contracts.sm_patch(bytes.fromhex("62461bcd60e51b00"), table)
    # PUSH4 selector PUSH1 0xe0 SHL is patched in place
    code, patches = contracts.sm_patch(bytes.fromhex("634e487b7160e01b00"), table)
    assert code == bytes.fromhex("63b95aa35560e01b00") and patches[0]["signature"] == "Panic(uint256)"


def test_sm_patch_refuses_a_selector_inside_another_immediate():
    table, _ = contracts._sm_replacements(_ERR_ABI)
    sel = abi.selector("f()", keccak256)
    with pytest.raises(contracts.BuildFailed, match="outside"):
        contracts.sm_patch(b"\x64" + sel + b"\x00\x00", table)  # PUSH5 holding it
    code, _ = contracts.sm_patch(b"\x63" + sel + b"\x00", table)
    assert code == b"\x63" + abi.selector("f()", sm3) + b"\x00"


def test_sm_variant_needs_every_declared_selector():
    runtime = bytes.fromhex("600080fd")
    with pytest.raises(contracts.BuildFailed, match="not found"):
        contracts.sm_variant(runtime, runtime, _ERR_ABI)


# --- the API ----------------------------------------------------------------------------

def test_bytecode_chooses_the_variant_by_crypto_suite():
    assert contracts.bytecode("MeterRegistry", "ecdsa") == _code("bytecode")
    assert contracts.bytecode("MeterRegistry", "sm") == _code("bytecode_sm")
    assert contracts.deployed_bytecode("MeterRegistry", "ecdsa") == _code("deployedBytecode")
    assert contracts.deployed_bytecode(crypto="sm") == _code("deployedBytecode_sm")
    with pytest.raises(Malformed):
        contracts.bytecode("MeterRegistry", "keccak")
    with pytest.raises(contracts.UnknownContract):
        contracts.load("NoSuchContract")
    with pytest.raises(contracts.UnknownContract):
        contracts.load("../package")


def test_build_without_the_toolchain_says_run_make_setup(tmp_path, monkeypatch):
    with pytest.raises(contracts.SolcUnavailable, match="make setup"):
        contracts.build("MeterRegistry", node_modules=tmp_path)
    monkeypatch.setattr(contracts.shutil, "which", lambda name: None)
    with pytest.raises(contracts.SolcUnavailable, match="node"):
        contracts.build("MeterRegistry")


# --- the contract's rules, on py-evm (Paris) ----------------------------------------------

class Registry:
    """The runtime code of one variant at an address of a fresh py-evm Paris state.

    py-evm computes KECCAK256 with keccak even for the SM variant; the storage layout differs from
    an SM node's, the behaviour does not.
    """

    ADDRESS = b"\x6c" * 20

    def __init__(self, crypto):
        eth = pytest.importorskip("eth", reason="py-evm runs the contract")
        from eth.constants import BLANK_ROOT_HASH
        from eth.db.atomic import AtomicDB
        from eth.vm.execution_context import ExecutionContext
        from eth.vm.forks.paris.state import ParisState

        del eth
        ctx = ExecutionContext(coinbase=bytes(20), timestamp=1, block_number=1, difficulty=0,
                               mix_hash=bytes(32), gas_limit=30_000_000, prev_hashes=[], chain_id=1,
                               base_fee_per_gas=0)
        self.state = ParisState(AtomicDB(), ctx, BLANK_ROOT_HASH)
        self.code = contracts.deployed_bytecode("MeterRegistry", crypto)
        self.state.set_code(self.ADDRESS, self.code)
        self.hash = HASHES[crypto]

    def call(self, sender, signature, values):
        from eth.vm.forks.frontier.transaction_context import FrontierTransactionContext
        from eth.vm.message import Message

        msg = Message(gas=5_000_000, to=self.ADDRESS, sender=sender, value=0, code=self.code,
                      data=abi.encode_call(signature, values, self.hash))
        return self.state.computation_class.apply_message(
            self.state, msg, FrontierTransactionContext(gas_price=0, origin=sender))

    def record(self, sender, seq, reading):
        return self.call(sender, "record(uint64,bytes)", [seq, reading])

    def last_seq(self, device):
        return abidecode.decode(["uint64"], self.call(device, "lastSeq(address)", [device]).output)[0]

    def reading_of(self, device, seq):
        return abidecode.decode(["bytes"], self.call(device, "readingOf(address,uint64)", [device, seq]).output)[0]

    def reason(self, computation):
        """The revert reason string, checking it uses this suite's Error(string) selector."""
        assert not computation.is_success
        out = computation.output
        assert out[:4] == abi.selector("Error(string)", self.hash)
        return abidecode.decode(["string"], out[4:])[0]


DEV = b"\xde" * 20
OTHER = b"\x0f" * 20
CBOR = bytes.fromhex("a3000101190e1002f6")


@pytest.fixture(params=["ecdsa", "sm"])
def registry(request):
    return Registry(request.param)


def test_record_stores_the_reading_and_emits_it(registry):
    c = registry.record(DEV, 1, CBOR)
    assert c.is_success
    assert registry.last_seq(DEV) == 1 and registry.reading_of(DEV, 1) == CBOR
    [(address, topics, data)] = c.get_log_entries()
    assert address == registry.ADDRESS
    topic0 = abi.event_topic("Reading(address,uint64,bytes)", registry.hash)
    assert list(topics) == [int.from_bytes(topic0, "big"), int.from_bytes(DEV, "big"), 1]
    assert abidecode.decode(["bytes"], data) == [CBOR]


def test_record_refuses_seq_not_above_the_last(registry):
    assert registry.reason(registry.record(DEV, 0, CBOR)) == "seq not above last"  # 0 is never valid
    assert registry.record(DEV, 5, CBOR).is_success  # gaps are allowed
    for seq in (5, 4, 1, 0):
        assert registry.reason(registry.record(DEV, seq, b"\x01")) == "seq not above last"
    assert registry.last_seq(DEV) == 5 and registry.reading_of(DEV, 5) == CBOR
    assert registry.record(DEV, 2 ** 64 - 1, CBOR).is_success


def test_record_refuses_an_empty_reading(registry):
    assert registry.reason(registry.record(DEV, 1, b"")) == "empty reading"
    assert registry.last_seq(DEV) == 0


def test_record_refuses_a_reading_over_1024_bytes(registry):
    assert registry.reason(registry.record(DEV, 1, b"\x01" * 1025)) == "reading too long"
    assert registry.record(DEV, 1, b"\x02" * 1024).is_success
    assert registry.reading_of(DEV, 1) == b"\x02" * 1024


def test_each_device_has_its_own_log(registry):
    assert registry.record(DEV, 3, CBOR).is_success
    assert registry.last_seq(OTHER) == 0 and registry.reading_of(OTHER, 3) == b""
    assert registry.record(OTHER, 1, b"\x07").is_success
    assert (registry.last_seq(DEV), registry.last_seq(OTHER)) == (3, 1)
    assert registry.reading_of(DEV, 1) == b"" and registry.reading_of(OTHER, 1) == b"\x07"


BATCH_ROOT = b"\x5a" * 32


def test_record_batch_stores_the_count_and_emits_root_count_and_submitter(registry):
    # proto/batch.md: recordBatch(root, count) logs Batch(submitter indexed, root indexed, count)
    c = registry.call(DEV, "recordBatch(bytes32,uint32)", [BATCH_ROOT, 256])
    assert c.is_success
    [(address, topics, data)] = c.get_log_entries()
    assert address == registry.ADDRESS
    topic0 = abi.event_topic("Batch(address,bytes32,uint32)", registry.hash)
    assert list(topics) == [int.from_bytes(topic0, "big"), int.from_bytes(DEV, "big"),
                            int.from_bytes(BATCH_ROOT, "big")]
    assert abidecode.decode(["uint32"], data) == [256]
    out = registry.call(OTHER, "batchCount(address,bytes32)", [DEV, BATCH_ROOT]).output
    assert abidecode.decode(["uint32"], out) == [256]
    out = registry.call(OTHER, "batchCount(address,bytes32)", [OTHER, BATCH_ROOT]).output
    assert abidecode.decode(["uint32"], out) == [0]


def test_record_batch_refuses_a_root_twice_from_one_sender_and_empty_batches(registry):
    assert registry.call(DEV, "recordBatch(bytes32,uint32)", [BATCH_ROOT, 3]).is_success
    c = registry.call(DEV, "recordBatch(bytes32,uint32)", [BATCH_ROOT, 3])
    assert registry.reason(c) == "batch already recorded"
    # another sender's copy (a wrong count sent ahead) does not block the honest one
    assert registry.call(OTHER, "recordBatch(bytes32,uint32)", [BATCH_ROOT, 4]).is_success
    assert registry.reason(registry.call(DEV, "recordBatch(bytes32,uint32)", [bytes(32), 3])) == "empty root"
    assert registry.reason(registry.call(DEV, "recordBatch(bytes32,uint32)", [b"\x01" * 32, 0])) == "empty batch"
    out = registry.call(OTHER, "batchCount(address,bytes32)", [DEV, b"\x02" * 32]).output
    assert abidecode.decode(["uint32"], out) == [0]


def test_unknown_selector_reverts(registry):
    assert not registry.call(DEV, "record(uint256,bytes)", [1, CBOR]).is_success


# --- lightmeter.chain.abi under hypothesis ------------------------------------------------------

def _leaf():
    uint = st.sampled_from([8, 16, 32, 64, 128, 160, 256]).map(
        lambda b: ("uint%d" % b, st.integers(0, 2 ** b - 1)))
    sint = st.sampled_from([8, 24, 64, 256]).map(
        lambda b: ("int%d" % b, st.integers(-2 ** (b - 1), 2 ** (b - 1) - 1)))
    fbytes = st.integers(1, 32).map(lambda n: ("bytes%d" % n, st.binary(min_size=n, max_size=n)))
    fixed = st.sampled_from([
        ("address", st.binary(min_size=20, max_size=20)), ("bool", st.booleans()),
        ("bytes", st.binary(max_size=70)), ("string", st.text(max_size=40))])
    return uint | sint | fbytes | fixed


def _array(inner):
    def make(t_and_k):
        (t, values), k = t_and_k
        if k is None:
            return ("%s[]" % t, st.lists(values, max_size=3))
        return ("%s[%d]" % (t, k), st.lists(values, min_size=k, max_size=k))
    return st.tuples(inner, st.none() | st.integers(1, 3)).map(make)


TYPED = st.recursive(_leaf(), _array, max_leaves=4)


@st.composite
def typed_values(draw):
    pairs = draw(st.lists(TYPED, max_size=4))
    return [t for t, _ in pairs], [draw(s) for _, s in pairs]


@settings(max_examples=300, deadline=None)
@given(typed_values())
def test_abi_decode_inverts_encode(tv):
    types, values = tv
    data = abi.encode(types, values)
    assert len(data) % 32 == 0
    assert abidecode.decode(types, data) == values
    assert abi.encode(types, abidecode.decode(types, data)) == data


@settings(max_examples=300, deadline=None)
@given(st.lists(TYPED, max_size=3), st.binary(max_size=300))
def test_abi_random_bytes_decode_canonically_or_raise_malformed(pairs, data):
    types = [t for t, _ in pairs]
    try:
        values = abidecode.decode(types, data)
    except Malformed:
        return
    assert abi.encode(types, values) == data  # anything accepted is the one canonical encoding


@settings(max_examples=300, deadline=None)
@given(typed_values(), st.data())
def test_abi_mutated_encodings_decode_canonically_or_raise_malformed(tv, data):
    types, values = tv
    enc = bytearray(abi.encode(types, values))
    how = data.draw(st.sampled_from(["flip", "cut", "extend", "word"]))
    if how == "flip" and enc:
        i = data.draw(st.integers(0, len(enc) - 1))
        enc[i] ^= data.draw(st.integers(1, 255))
    elif how == "cut" and enc:
        del enc[data.draw(st.integers(0, len(enc) - 1)):]
    elif how == "extend":
        enc += data.draw(st.binary(min_size=1, max_size=64))
    elif how == "word" and len(enc) >= 32:
        i = data.draw(st.integers(0, len(enc) // 32 - 1)) * 32
        word = data.draw(st.sampled_from([2 ** 256 - 1, 2 ** 255, 2 ** 64, 2 ** 32, 1, 0]))
        enc[i:i + 32] = word.to_bytes(32, "big")
    try:
        decoded = abidecode.decode(types, bytes(enc))
    except Malformed:
        return
    assert abi.encode(types, decoded) == bytes(enc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_abi_type_parser_only_raises_typed_errors(name):
    from lightmeter.errors import Unsupported
    try:
        abi.parse_type(name)
    except (Malformed, Unsupported):
        pass
