"""The node's EVM (lightmeter_host/node/evm.py) follows FISCO BCOS 3.x: one test per rule.

Ground truth from a real chain: the FISCO-BCOS-DOC receipt of a HelloWorld deployment on an SM
chain (tests/vectors/fisco-doc-sm-receipt2.json). The other rules come from the FISCO-BCOS
sources named in evm.py's docstring; their contracts are assembled here by hand.
"""

import pytest

from lightmeter.chain import abi, abidecode
from lightmeter.crypto import suite
from lightmeter_host.node.evm import EVM, contract_address
from support import load_vector

RECEIPT = load_vector("fisco-doc-sm-receipt2.json")["result"]
SENDER = bytes.fromhex("f3293c3452b3b0479e64a4c612e8c1b0da5fe1af")
NO_HASH = b"\x00" * 32

OPS = {
    "STOP": 0x00, "ADD": 0x01, "SHA3": 0x20, "ADDRESS": 0x30, "CALLDATALOAD": 0x35,
    "CALLDATASIZE": 0x36, "CODECOPY": 0x39, "GASPRICE": 0x3A, "RETURNDATASIZE": 0x3D,
    "RETURNDATACOPY": 0x3E, "BLOCKHASH": 0x40, "COINBASE": 0x41, "TIMESTAMP": 0x42,
    "NUMBER": 0x43, "PREVRANDAO": 0x44, "GASLIMIT": 0x45, "CHAINID": 0x46, "BASEFEE": 0x48,
    "POP": 0x50, "MSTORE": 0x52, "MSTORE8": 0x53, "SLOAD": 0x54, "SSTORE": 0x55, "JUMP": 0x56,
    "JUMPI": 0x57, "GAS": 0x5A, "JUMPDEST": 0x5B, "PUSH0": 0x5F, "DUP1": 0x80, "LOG2": 0xA2,
    "CREATE": 0xF0, "CALL": 0xF1, "RETURN": 0xF3, "CREATE2": 0xF5, "REVERT": 0xFD,
    "INVALID": 0xFE,
}


def asm(text):
    """Bytecode of mnemonics; "PUSHn v" takes the next token (decimal or 0x-hex) as immediate."""
    out = bytearray()
    toks = text.split()
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.startswith("PUSH") and t != "PUSH0":
            n = int(t[4:])
            out.append(0x5F + n)
            out += int(toks[i + 1], 0).to_bytes(n, "big")
            i += 2
            continue
        out.append(OPS[t] if t in OPS else int(t, 0))
        i += 1
    return bytes(out)


RETURN_TOP = "PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN"


def deployer(runtime):
    """Init code that returns runtime: PUSH2 n DUP1 PUSH1 12 PUSH1 0 CODECOPY PUSH1 0 RETURN."""
    return asm("PUSH2 %d DUP1 PUSH1 12 PUSH1 0 CODECOPY PUSH1 0 RETURN" % len(runtime)) + runtime


def with_payload(prefix, payload, end):
    """prefix, then code copying payload (appended to the code) to memory 0, then `end` (an
    op taking offset 0 and the payload length: RETURN or REVERT)."""
    head = asm(prefix)
    tail = "PUSH2 %d PUSH2 %%d PUSH1 0 CODECOPY PUSH2 %d PUSH1 0 %s" % (len(payload), len(payload), end)
    size = len(head) + len(asm(tail % 0))
    return head + asm(tail % size) + payload


def error_output(text, crypto):
    return abi.encode_call("Error(string)", [text], suite.get(crypto).hash)


def deploy(evm, runtime, block=1, index=0):
    res = evm.execute(SENDER, None, deployer(runtime), block, 1000, NO_HASH, tx_index=index)
    assert res.status == 0, res
    return res.contract_address


def helloworld(evm):
    """The docs' HelloWorld (FISCO's SM solc), deployed as in the docs: block 2, first tx."""
    res = evm.execute(SENDER, None, bytes.fromhex(RECEIPT["input"][2:]), 2, 1000, NO_HASH, tx_index=0)
    return res


def hw_get(evm, address):
    res = evm.call(SENDER, address, abi.encode_call("get()", [], suite.get("sm").hash), 9, 1000)
    assert res.status == 0, res
    return abidecode.decode(["string"], res.output)[0]


def hw_set(evm, address, text, block=3):
    return evm.execute(SENDER, address, abi.encode_call("set(string)", [text], suite.get("sm").hash),
                       block, 2000, NO_HASH)


# -- against the real receipt ---------------------------------------------------------------

def test_helloworld_deployment_reproduces_the_docs_receipt():
    """Address H("2_0_0")[:20], gasUsed 24363, empty output: the receipt of block 2 in the docs."""
    evm = EVM("sm")
    res = helloworld(evm)
    assert res.status == RECEIPT["status"] == 0
    assert "0x" + res.contract_address.hex() == RECEIPT["contractAddress"]
    assert str(res.gas_used) == RECEIPT["gasUsed"] == "24363"
    assert res.output == b"" and RECEIPT["output"] == "0x"
    assert res.logs == [] and RECEIPT["logEntries"] == []
    assert hw_get(evm, res.contract_address) == "Hello, World!"  # set by its constructor


def test_contract_address_is_the_first_20_bytes_of_hash_of_block_context_seq():
    sm3 = suite.get("sm").hash
    assert contract_address(sm3, 2, 0, 0).hex() == RECEIPT["contractAddress"][2:]
    assert contract_address(sm3, 2, 0, 0) == sm3(b"2_0_0")[:20]


def test_helloworld_set_then_get_stores_long_strings_at_sm3_slot():
    """A string of 32+ bytes lives at slot KECCAK256(slot 0); on an SM chain that is SM3."""
    sm3 = suite.get("sm").hash
    evm = EVM("sm")
    a = helloworld(evm).contract_address
    text = "lightmeter reads every meter, twice over!"  # 41 bytes
    res = hw_set(evm, a, text)
    assert res.status == 0 and res.output == b""
    assert hw_get(evm, a) == text
    assert evm.storage(a, 0) == len(text) * 2 + 1  # long-string marker
    first = int.from_bytes(sm3(bytes(32)), "big")
    assert evm.storage(a, first) == int.from_bytes(text[:32].encode(), "big")
    assert evm.storage(a, int.from_bytes(suite.get("ecdsa").hash(bytes(32)), "big")) == 0


def test_keccak256_opcode_is_each_suites_own_hash_in_one_process():
    """SM3("abc") (GB/T 32905-2016 example) and keccak256("abc"), from two EVMs side by side."""
    runtime = asm("PUSH3 0x616263 PUSH1 0 MSTORE PUSH1 3 PUSH1 29 SHA3 " + RETURN_TOP)
    want = {"sm": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
            "ecdsa": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"}
    evms = {c: EVM(c) for c in ("ecdsa", "sm")}
    addrs = {c: deploy(evms[c], runtime) for c in evms}
    for _ in range(2):
        for c in ("sm", "ecdsa"):
            assert evms[c].call(SENDER, addrs[c], b"", 1, 1000).output.hex() == want[c]


# -- failures -----------------------------------------------------------------------------

@pytest.mark.parametrize("crypto", ["ecdsa", "sm"])
def test_revert_is_status_16_with_reason_and_leaves_state_unchanged(crypto):
    payload = error_output("nope", crypto)
    evm = EVM(crypto)
    a = deploy(evm, with_payload("PUSH1 1 PUSH1 0 SSTORE", payload, "REVERT"))
    root = evm.state_root()
    res = evm.execute(SENDER, a, b"", 2, 1000, NO_HASH)
    assert (res.status, res.output, res.message, res.logs) == (16, payload, "nope", [])
    assert 0 < res.gas_used < evm.gas_limit  # REVERT returns the gas left
    assert evm.storage(a, 0) == 0 and evm.state_root() == root


def test_out_of_gas_is_status_12_uses_the_whole_limit_and_leaves_state_unchanged():
    evm = EVM("sm", gas_limit=100_000)
    a = deploy(evm, asm("PUSH1 1 PUSH1 0 SSTORE JUMPDEST PUSH1 5 JUMP"))
    root = evm.state_root()
    res = evm.execute(SENDER, a, b"", 2, 1000, NO_HASH)
    assert res.status == 12 and res.gas_used == 100_000
    assert res.output == error_output("Execution out of gas.", "sm")
    assert res.message == "Execution out of gas."
    assert evm.storage(a, 0) == 0 and evm.state_root() == root


@pytest.mark.parametrize("code, status, text", [
    ("PUSH1 3 JUMP STOP", 11, "Execution has violated the jump destination restrictions."),
    ("INVALID", 10, "Execution invalid/undefined opcode."),
    ("0x0c", 10, "Execution invalid/undefined opcode."),
    ("PUSH0", 10, "Execution invalid/undefined opcode."),  # Paris: no PUSH0 (Shanghai)
    ("ADD", 14, "Execution needs more items on EVM stack."),
    ("PUSH1 1 " * 1025, 13, "Execution stack overflow."),
    ("PUSH1 1 PUSH1 0 PUSH1 0 RETURNDATACOPY", 14, "Execution tried to read outside memory bounds."),
])
def test_evm_failures_map_to_fisco_status_codes(code, status, text):
    evm = EVM("ecdsa")
    a = deploy(evm, asm(code))
    res = evm.execute(SENDER, a, b"", 2, 1000, NO_HASH)
    assert (res.status, res.output, res.message) == (status, error_output(text, "ecdsa"), text)
    assert res.gas_used == evm.gas_limit


def test_transaction_to_an_address_without_code_is_status_19():
    evm = EVM("ecdsa")
    res = evm.execute(SENDER, b"\x12" * 20, b"", 2, 1000, NO_HASH)
    assert (res.status, res.gas_used, res.message) == (19, 0, "Call address error.")
    assert res.output == error_output("Call address error.", "ecdsa")


def test_inner_call_to_an_address_without_code_succeeds_with_call_address_error_output():
    """CALL(gas, 0x..dead, 0, 0, 0, 0, 0), then return [success, RETURNDATASIZE]; in a static
    context (the `call` RPC) the output is empty (bugfix_call_noaddr_return)."""
    evm = EVM("ecdsa")
    a = deploy(evm, asm("PUSH1 0 PUSH1 0 PUSH1 0 PUSH1 0 PUSH1 0 PUSH2 0xdead GAS CALL "
                        "PUSH1 0 MSTORE RETURNDATASIZE PUSH1 32 MSTORE PUSH1 64 PUSH1 0 RETURN"))
    out = evm.execute(SENDER, a, b"", 2, 1000, NO_HASH).output
    assert int.from_bytes(out[:32], "big") == 1
    assert int.from_bytes(out[32:], "big") == len(error_output("Call address error.", "ecdsa"))
    out = evm.call(SENDER, a, b"", 2, 1000).output  # static: success, empty output
    assert out == (1).to_bytes(32, "big") + bytes(32)


def test_deployment_returning_no_code_is_status_1():
    evm = EVM("sm")
    res = evm.execute(SENDER, None, asm("STOP"), 2, 1000, NO_HASH)
    text = "Create contract with empty code, invalid code input."
    assert (res.status, res.contract_address, res.output) == (1, b"", error_output(text, "sm"))
    assert evm.code(contract_address(evm.hash, 2, 0)) == b""


def test_deployment_of_more_than_1_mib_is_status_12():
    evm = EVM("sm")
    res = evm.execute(SENDER, None, asm("PUSH3 0x100001 PUSH1 0 RETURN"), 2, 1000, NO_HASH)
    assert (res.status, res.message) == (12, "Deploy code is too large.")


def test_code_deposit_costs_20_gas_a_byte_and_its_shortage_is_status_12():
    runtime = b"\x00" * 100
    evm = EVM("sm")
    res = evm.execute(SENDER, None, deployer(runtime), 2, 1000, NO_HASH)
    init_gas = res.gas_used - 20 * len(runtime)
    assert res.status == 0 and evm.code(res.contract_address) == runtime
    short = EVM("sm", gas_limit=init_gas + 20 * len(runtime) - 1)
    res = short.execute(SENDER, None, deployer(runtime), 2, 1000, NO_HASH)
    assert (res.status, res.message, res.gas_used) == (12, "Exceptional Failed Code Deposit", init_gas)


def test_deployment_onto_a_used_address_is_status_17():
    evm = EVM("ecdsa")
    evm.deploy_at(contract_address(evm.hash, 5, 0), b"\x00")
    res = evm.execute(SENDER, None, deployer(b"\x00"), 5, 1000, NO_HASH, tx_index=0)
    assert (res.status, res.message) == (17, "Contract address already used.")


# -- calls, context, logs, addresses ----------------------------------------------------------

# Returns slot 0; without call data it first adds 1 to it.
COUNTER = ("PUSH1 0 SLOAD CALLDATASIZE PUSH1 14 JUMPI PUSH1 1 ADD DUP1 PUSH1 0 SSTORE JUMPDEST "
           + RETURN_TOP)


def test_call_never_changes_state_and_writes_fail_as_static():
    evm = EVM("sm")
    a = deploy(evm, asm(COUNTER))
    assert evm.execute(SENDER, a, b"", 2, 1000, NO_HASH).status == 0
    root = evm.state_root()
    res = evm.call(SENDER, a, b"", 3, 1000)
    text = "Execution tried to execute an operation which is restricted in static mode."
    assert (res.status, res.message) == (1, text)
    for _ in range(3):
        assert int.from_bytes(evm.call(SENDER, a, b"read", 3, 1000).output, "big") == 1
    assert evm.storage(a, 0) == 1 and evm.state_root() == root


def test_sstore_costs_5000_and_sload_2100_whatever_the_slot_held():
    """FISCO's host reports every slot cold and every write as MODIFIED, with no refund."""
    evm = EVM("ecdsa")
    a = deploy(evm, asm("PUSH1 0 SLOAD POP PUSH1 7 PUSH1 0 SSTORE"))
    used = [evm.execute(SENDER, a, b"", 2, 1000, NO_HASH).gas_used for _ in range(2)]
    # 3 PUSH1 + POP = 11, SLOAD 2100, SSTORE 5000 (fresh slot, then same value again)
    assert used == [11 + 2100 + 5000] * 2


def test_block_context_opcodes_return_fisco_values():
    ops = ["NUMBER", "TIMESTAMP", "CHAINID", "COINBASE", "GASLIMIT", "BASEFEE", "PREVRANDAO",
           "GASPRICE"]
    runtime = asm(" ".join("%s PUSH1 %d MSTORE" % (op, 32 * i) for i, op in enumerate(ops))
                  + " PUSH2 %d PUSH1 0 RETURN" % (32 * len(ops)))

    def context(evm):
        a = deploy(evm, runtime)
        out = evm.call(SENDER, a, b"", 42, 1_700_000_123_456).output
        return [int.from_bytes(out[i:i + 32], "big") for i in range(0, len(out), 32)]

    assert context(EVM("sm")) == [42, 1_700_000_123_456, 0, 0, 3_000_000_000, 0, 0, 0]
    got = context(EVM("sm", gas_limit=10**8, chain_id=20200, evm_timestamp_seconds=True))
    assert got == [42, 1_700_000_123, 20200, 0, 10**8, 0, 0, 0]


def test_blockhash_gives_any_earlier_block_and_zero_otherwise():
    hashes = {n: (n + 1).to_bytes(32, "big") for n in range(300)}
    evm = EVM("sm", block_hash=hashes.get)
    a = deploy(evm, asm("PUSH1 0 CALLDATALOAD BLOCKHASH " + RETURN_TOP))
    for n, want in ((0, hashes[0]), (1, hashes[1]), (298, hashes[298]), (299, bytes(32)),
                    (300, bytes(32))):
        assert evm.call(SENDER, a, n.to_bytes(32, "big"), 299, 1000).output == want


def test_log2_entries_in_emission_order_and_none_from_a_failed_transaction():
    t = [bytes([i]) * 32 for i in range(4)]
    log = "PUSH32 0x%s PUSH32 0x%s PUSH1 %d PUSH1 %d LOG2"
    runtime = asm("PUSH1 0xaa PUSH1 0 MSTORE8 PUSH1 0xbb PUSH1 1 MSTORE8 "
                  + log % (t[1].hex(), t[0].hex(), 1, 0) + " "
                  + log % (t[3].hex(), t[2].hex(), 1, 1) + " PUSH1 0 CALLDATALOAD PUSH1 99 JUMPI STOP")
    evm = EVM("ecdsa")
    a = deploy(evm, runtime)
    res = evm.execute(SENDER, a, bytes(32), 2, 1000, NO_HASH)
    assert res.status == 0
    assert res.logs == [(a, [t[0], t[1]], b"\xaa"), (a, [t[2], t[3]], b"\xbb")]
    res = evm.execute(SENDER, a, (1).to_bytes(32, "big"), 2, 1000, NO_HASH)  # jumps to 99: bad jump
    assert res.status == 11 and res.logs == []


def factory(create):
    """Runtime that copies a child's init code to memory, runs `create` twice (its text has
    %d for the init code length) and returns the two addresses, first one first."""
    child = asm("PUSH1 1 PUSH1 0 RETURN")  # init code of a one-byte runtime: 0x00
    create = create % len(child)
    code = ("PUSH1 %d PUSH1 %%d PUSH1 0 CODECOPY %s %s PUSH1 32 MSTORE PUSH1 0 MSTORE "
            "PUSH1 64 PUSH1 0 RETURN" % (len(child), create, create))
    return asm(code % len(asm(code % 0))) + child, child


def test_contracts_created_by_contracts_take_the_next_seq():
    """Seq 0 is the transaction, each CREATE in it the next one: H("7_4_1"), H("7_4_2")."""
    runtime, _ = factory("PUSH1 %d PUSH1 0 PUSH1 0 CREATE")
    evm = EVM("sm")
    f = deploy(evm, runtime, block=7, index=3)
    assert f == contract_address(evm.hash, 7, 3, 0)
    out = evm.execute(SENDER, f, b"", 7, 1000, NO_HASH, tx_index=4).output
    assert out[12:32] == contract_address(evm.hash, 7, 4, 1)
    assert out[44:64] == contract_address(evm.hash, 7, 4, 2)
    assert evm.code(out[12:32]) == b"\x00"


def test_create2_address_uses_the_chain_hash():
    """H(0xff || creator || salt || H(init code))[12:]; a second CREATE2 with that salt fails."""
    runtime, child = factory("PUSH1 0x42 PUSH1 %d PUSH1 0 PUSH1 0 CREATE2")
    evm = EVM("sm")
    f = deploy(evm, runtime)
    out = evm.execute(SENDER, f, b"", 2, 1000, NO_HASH).output
    h = evm.hash
    assert out[12:32] == h(b"\xff" + f + (0x42).to_bytes(32, "big") + h(child))[12:]
    assert out[32:] == bytes(32)  # address taken: CREATE2 pushes 0


def test_tx_index_defaults_to_the_count_of_transactions_in_the_block():
    evm = EVM("ecdsa")
    got = [evm.execute(SENDER, None, deployer(b"\x00"), n, 1000, NO_HASH).contract_address
           for n in (4, 4, 4, 5)]
    assert got == [contract_address(evm.hash, 4, 0), contract_address(evm.hash, 4, 1),
                   contract_address(evm.hash, 4, 2), contract_address(evm.hash, 5, 0)]


def test_replay_gives_equal_results_and_state_roots():
    """Two EVMs fed the same transactions; one asks for the root after every one."""
    sm3 = suite.get("sm").hash
    hw = contract_address(sm3, 2, 0)
    counter = contract_address(sm3, 3, 1)
    txs = [(None, bytes.fromhex(RECEIPT["input"][2:]), 2),
           (hw, abi.encode_call("set(string)", ["a" * 40], sm3), 3),
           (None, deployer(asm(COUNTER)), 3),
           (counter, b"", 4), (counter, b"", 4),
           (hw, b"\x00", 5),  # no such function: revert
           (b"\x44" * 20, b"", 5)]  # no code

    def run(evm, every):
        out = []
        for to, data, n in txs:
            r = evm.execute(SENDER, to, data, n, 1000 * n, NO_HASH)
            out.append((r.status, r.output, r.logs, r.gas_used, r.contract_address, r.message))
            if every:
                evm.state_root()
        return out, evm.state_root()

    a, b = run(EVM("sm"), True), run(EVM("sm"), False)
    assert a == b
    assert [s[0] for s in a[0]] == [0, 0, 0, 0, 0, 16, 19]
    assert a[1] != EVM("sm").state_root()
