"""The EVM of `lightmeter node`: FISCO BCOS 3.x contract execution on py-evm.

py-evm (0.12) runs the bytecode; this module sets it up the way a FISCO BCOS 3.x node with the
default ("classic") executor and default features sets up its evmone, so receipts carry FISCO's
status codes, gas figures, contract addresses and error outputs. State lives in memory; the node
rebuilds it by replaying its blocks, which reproduces every result and root because nothing here
depends on anything but the transactions and their order.

Facts, from the FISCO-BCOS/FISCO-BCOS sources (master 7608ab8, tags up to v3.16.4):

- Revision: Paris for block version >= 3.2 (FiscoBcosScheduleV320.enablePairs; London before,
  Cancun only with feature_evm_cancun) [bcos-executor/src/Common.h VMSchedule,
  bcos-executor/src/vm/VMInstance.cpp toRevision, bcos-executor/src/executive/BlockContext.cpp
  setVMSchedule]. So no PUSH0, TLOAD/TSTORE, MCOPY: they are undefined instructions here.
- KECCAK256 hashes with the chain's hash: SM3 on an SM chain. The host context carries hash_fn =
  hashImpl()->hash [bcos-executor/src/vm/HostContext.cpp evm_hash_fn; transaction-executor/
  bcos-transaction-executor/vm/HostContext.cpp], and FISCO's evmone uses it for the opcode
  (FISCO-BCOS/evmone, branch 0.4.1, lib/evmone/instructions.cpp: sm3_hash_fn in the SHA3 op).
  Each EVM below gets its own computation class, so an ecdsa and an sm EVM can share a process.
- Gas. The host answers every access_account/access_storage with COLD and every set_storage with
  EVMC_STORAGE_MODIFIED (`value == 0` compares the pointer) [bcos-executor/src/vm/
  EVMHostInterface.cpp]. Hence SLOAD always costs 2100, BALANCE/EXTCODE*/CALL* 2600, and SSTORE
  a flat 2100 + 2900 = 5000 with no refund. Code deposit is 20 gas a byte (createDataGas), max
  code size 1 MiB (maxEvmCodeSize 0x100000, 3.2+) [Common.h]. No intrinsic gas, no refunds:
  receipt gasUsed = tx gas limit - gas left [bcos-scheduler/src/BlockExecutive.cpp onTxFinish].
  Failures other than REVERT leave no gas (bugfix_evm_exception_gas_used, 3.8+), so gasUsed
  is the whole limit. Check: the HelloWorld deployment of the FISCO docs used 24363 gas; so here.
- Contract address of a deployment without feature_evm_address (off by default):
  H(decimal(blockNumber) + "_" + decimal(contextID) + "_" + decimal(seq))[:20] — the FIRST 20
  bytes — with contextID = index of the transaction in its block and seq = 0 for the
  transaction, +1 for every call or create a contract makes during it (precompile calls and
  DELEGATECALL/CALLCODE to code-less addresses excepted) [bcos-crypto/bcos-crypto/
  ChecksumAddress.h newEVMAddress; bcos-scheduler/src/SerialBlockExecutive.cpp, BlockExecutive.cpp
  (contextID = i); bcos-executor/src/executive/TransactionExecutive.cpp externalCall (seq);
  bcos-executor/src/vm/HostContext.cpp externalRequest (precompiles run locally, no seq)].
  Check: "2_0_0" under SM3 gives 0x82a3c328..., the address of the docs' block-2 deployment.
  CREATE2: H(0xff || sender || salt || H(init code))[12:] with the chain hash [ChecksumAddress.h
  newCreate2EVMAddress].
- Status codes [bcos-protocol/bcos-protocol/TransactionStatus.h] and the evmc mapping
  [TransactionExecutive.cpp parseEVMCResult; transaction-executor/bcos-transaction-executor/
  EVMCResult.cpp]; from block version 3.1 a failure's output is the ABI encoding of
  Error(string) (selector from the chain hash) with the text below:
      REVERT                      16  (output: the revert data)
      out of gas                  12  "Execution out of gas."
      invalid/undefined opcode    10  "Execution invalid/undefined opcode."
      bad jump destination        11  "Execution has violated the jump destination restrictions."
      stack overflow (> 1024)     13  "Execution stack overflow."
      stack underflow             14  "Execution needs more items on EVM stack."
      returndata read past end    14  "Execution tried to read outside memory bounds."
      state change when static     1  "Execution tried to execute an operation which is
                                       restricted in static mode."
      deployed code > 1 MiB       12  "Deploy code is too large."
      no gas for the code deposit 12  "Exceptional Failed Code Deposit"
      init code returns no code    1  "Create contract with empty code, invalid code input."
      deploy address has code     17  "Contract address already used."
      tx to an address w/o code   19  "Call address error."
  Unlike Ethereum, a failed inner call hands its error output to the caller as return data.
  An inner CALL to an address without code succeeds with that "Call address error." output
  (STATICCALL: empty output).
- Block context [EVMHostInterface.cpp getTxContext, HostContext.cpp/.h]: COINBASE 0,
  PREVRANDAO 0, BASEFEE 0, GASPRICE 0, GASLIMIT = the tx gas limit, CHAINID = the web3_chain_id
  system config (genesis web3.chain_id, default 0), TIMESTAMP = the block timestamp in
  MILLISECONDS (seconds only with feature_evm_timestamp, off by default), BLOCKHASH(n) = hash of
  block n for 0 <= n < current (no 256-block window), else 0. EXTCODEHASH = H(code), 0 when there
  is no code. BALANCE is 0 and value transfers fail: FISCO v0 transactions carry no value.
- RPC `call` runs with the EVMC_STATIC flag (SchedulerImpl::call builds a static BlockExecutive),
  so a call that writes state fails with status 1 instead of succeeding unsaved.
- Logs: a receipt's logEntries[].address is the emitting contract as lowercase hex WITHOUT 0x
  (HostContext::log stores myAddress(), itself hex_lower; JsonRpcImpl_2_0.cpp prints it as is;
  the docs' java_sdk/transaction_decode.md shows "0102e8b6fc8c..."). Result.logs carries raw bytes.
- A receipt's message is never set by the scheduler (only ExecutionMessage::setMessage is called),
  so real receipts show ""; Result.message is a readable reason for the node's own use.

Differences left, documented rather than reproduced:
- System contracts (0x1000...: consensus 0x...1003 and the rest) are the node's business before
  it calls execute(); a contract calling them here meets an address without code.
- FISCO's state root is its own storage hash; ours is py-evm's account trie root (keccak,
  whatever the suite): deterministic for the same history, not FISCO's value.
- Logs of a call that fails are dropped (Ethereum's rule, and the baseline executor's with
  bugfix_revert_logs, 3.16.4); the classic executor seems to carry them into the receipt.
- SELFDESTRUCT deletes the account at the end of the transaction (py-evm's rule); FISCO marks
  the contract for deletion at block end.
- Precompiles 0x1..0x9 are py-evm's Berlin set; FISCO registers the same nine
  (TransactionExecutor.cpp, fixed prices of 0x1-0x4, 0x6, 0x7 equal; modexp, pairing and blake2
  pricing not compared). A DELEGATECALL to one runs it (FISCO finds no code: success, empty).
"""

from eth import constants as _C
from eth._utils.address import force_bytes_to_address
from eth.db.atomic import AtomicDB
from eth.exceptions import (
    FullStack, InsufficientStack, InvalidInstruction, InvalidJumpDestination, OutOfBoundsRead,
    OutOfGas, Revert, StackDepthLimit, VMError, WriteProtection,
)
from eth.vm import mnemonics, opcode_values
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.berlin.logic import Create2EIP2929, CreateEIP2929
from eth.vm.forks.byzantium.opcodes import ensure_no_static
from eth.vm.forks.paris.computation import ParisComputation
from eth.vm.forks.paris.opcodes import PARIS_OPCODES
from eth.vm.forks.paris.state import ParisState
from eth.vm.message import Message
from eth.vm.opcode import as_opcode
from eth.vm.transaction_context import BaseTransactionContext

from lightmeter_host.node import status as st
from lightmeter.chain import abi, abidecode
from lightmeter.crypto import suite as suite_mod
from lightmeter.errors import LightmeterError

DEFAULT_GAS_LIMIT = 3_000_000_000  # tx_gas_limit system config default
CODE_DEPOSIT_GAS = 20  # VMSchedule.createDataGas
MAX_CODE_SIZE = 0x100000  # VMSchedule.maxEvmCodeSize, block version >= 3.2
SSTORE_GAS = 2100 + 2900  # cold slot + EVMC_STORAGE_MODIFIED, for every SSTORE
COLD_ACCOUNT_GAS = 2600

# What each py-evm error becomes: (status, text of its Error(string) output); REVERT keeps its data.
_FAILURES = (
    (Revert, st.REVERT_INSTRUCTION, None),
    (OutOfGas, st.OUT_OF_GAS, "Execution out of gas."),
    (InvalidInstruction, st.BAD_INSTRUCTION, "Execution invalid/undefined opcode."),
    (InvalidJumpDestination, st.BAD_JUMP_DESTINATION,
     "Execution has violated the jump destination restrictions."),
    (FullStack, st.OUT_OF_STACK, "Execution stack overflow."),
    (InsufficientStack, st.STACK_UNDERFLOW, "Execution needs more items on EVM stack."),
    (OutOfBoundsRead, st.STACK_UNDERFLOW, "Execution tried to read outside memory bounds."),
    (WriteProtection, st.UNKNOWN,
     "Execution tried to execute an operation which is restricted in static mode."),
    (StackDepthLimit, st.OUT_OF_GAS, "Execution out of gas."),
)


class Result:
    """The outcome of one transaction or call, in FISCO BCOS terms."""

    __slots__ = ("status", "output", "logs", "gas_used", "contract_address", "message")

    def __init__(self, status, output=b"", logs=(), gas_used=0, contract_address=b"", message=""):
        self.status = status  # TransactionStatus code, 0 = success
        self.output = output  # return data; revert data or Error(string) output on failure
        self.logs = list(logs)  # [(address20, [topic32, ...], data)] in emission order
        self.gas_used = gas_used
        self.contract_address = contract_address  # 20 bytes after a successful deployment
        self.message = message  # "" on success, else a readable reason

    def __repr__(self):
        return "Result(status=%d, gas_used=%d, output=%s, message=%r)" % (
            self.status, self.gas_used, self.output.hex(), self.message)


class _Failure(VMError):
    """A FISCO-specific failure (code deposit rules): keeps the gas left, sets the output."""

    burns_gas = False
    erases_return_data = False

    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


def _failure(err):
    """(status, error text or None) of a py-evm error."""
    if isinstance(err, _Failure):
        return err.status, err.text
    for cls, status, text in _FAILURES:
        if isinstance(err, cls):
            return status, text
    # FISCO maps the evmc codes it does not name to OutOfGas (parseEVMCResult, default branch)
    return st.OUT_OF_GAS, "Execution out of gas."


def _hash_of(crypto):
    """The chain's hash function, native where the host has it (lightmeter_host/chain/backends.py)."""
    from lightmeter_host.chain import backends

    try:
        return backends.native_sm3() if crypto == suite_mod.SM else backends.native_keccak256()
    except (ImportError, ValueError):
        return suite_mod.get(crypto).hash


# -- opcodes that differ from py-evm's Paris --------------------------------------------

def _keccak256(computation):
    """KECCAK256 (0x20) with the chain's hash: SM3 on an SM chain."""
    start, size = computation.stack_pop_ints(2)
    computation.extend_memory(start, size)
    data = computation.memory_read_bytes(start, size)
    computation.consume_gas(_C.GAS_SHA3WORD * ((size + 31) // 32), "SHA3: word gas cost")
    computation.stack_push_bytes(computation.chain_hash(data))


def _sstore(computation):
    """SSTORE as FISCO's host prices it: cold slot, status MODIFIED, no refund."""
    slot, value = computation.stack_pop_ints(2)
    if computation.get_gas_remaining() <= _C.GAS_CALLSTIPEND:  # EIP-2200 guard, kept by evmone
        raise OutOfGas("SSTORE with no more than the call stipend left")
    computation.consume_gas(SSTORE_GAS, "SSTORE")
    computation.state.set_storage(computation.msg.storage_address, slot, value)


def _extcodehash(computation):
    """EXTCODEHASH: H(code) with the chain's hash, 0 for an address without code."""
    address = force_bytes_to_address(computation.stack_pop1_bytes())
    computation.consume_gas(COLD_ACCOUNT_GAS, "EXTCODEHASH")
    code = computation.state.get_code(address)
    computation.stack_push_bytes(computation.chain_hash(code) if code else b"")


class _Create(CreateEIP2929):
    """CREATE at FISCO's address H("<block>_<context>_<seq>")[:20]."""

    def generate_contract_address(self, stack_data, call_data, computation):
        return computation.transaction_context.next_create_address()


class _Create2(Create2EIP2929):
    """CREATE2 at H(0xff || sender || salt || H(init code))[12:] with the chain's hash."""

    def generate_contract_address(self, stack_data, call_data, computation):
        computation.transaction_context.next_seq()
        h = computation.chain_hash
        return h(b"\xff" + computation.msg.storage_address + stack_data.salt.to_bytes(32, "big")
                 + h(call_data))[12:]


def _opcodes():
    ops = dict(PARIS_OPCODES)
    ops[opcode_values.SHA3] = as_opcode(logic_fn=_keccak256, mnemonic=mnemonics.SHA3,
                                        gas_cost=_C.GAS_SHA3)
    ops[opcode_values.SSTORE] = as_opcode(logic_fn=ensure_no_static(_sstore),
                                          mnemonic=mnemonics.SSTORE, gas_cost=0)
    ops[opcode_values.EXTCODEHASH] = as_opcode(logic_fn=_extcodehash,
                                               mnemonic=mnemonics.EXTCODEHASH, gas_cost=0)
    ops[opcode_values.CREATE] = _Create.configure(
        __name__="opcode:CREATE", mnemonic=mnemonics.CREATE, gas_cost=_C.GAS_CREATE)()
    ops[opcode_values.CREATE2] = _Create2.configure(
        __name__="opcode:CREATE2", mnemonic=mnemonics.CREATE2, gas_cost=_C.GAS_CREATE)()
    return ops


_OPCODES = _opcodes()


# -- message handling ------------------------------------------------------------------

class _Computation(ParisComputation):
    """Paris with FISCO's opcodes, call rules and failure outputs; subclassed once per suite."""

    opcodes = _OPCODES
    chain_hash = None  # set on the per-suite subclass

    @classmethod
    def error_output(cls, text):
        """FISCO's failure output: Error(string) with the chain's selector."""
        return abi.encode_call("Error(string)", [text], cls.chain_hash)

    # evmone hands a failed call's output to the caller whatever the failure; so do we.
    @property
    def should_erase_return_data(self):
        return False

    @property
    def output(self):
        return self._output

    @output.setter
    def output(self, value):
        self._output = bytes(value)

    def add_child_computation(self, child):
        self.return_data = b"" if child.msg.is_create and child.is_success else child.output
        self.children.append(child)

    @classmethod
    def apply_message(cls, state, message, transaction_context, parent_computation=None):
        if message.depth > _C.STACK_DEPTH_LIMIT:
            raise StackDepthLimit("Stack depth limit reached")
        if message.depth and not message.is_create and message.code_address not in cls._precompiles:
            delegated = message.code_address != message.to  # DELEGATECALL or CALLCODE
            if message.code or not delegated:
                transaction_context.next_seq()
            if not message.code:
                c = cls(state, message, transaction_context)
                if not delegated and not message.is_static:
                    c.output = cls.error_output("Call address error.")
                return c
        snapshot = state.snapshot()
        computation = cls.apply_computation(state, message, transaction_context, parent_computation)
        if computation.is_error:
            state.revert(snapshot)
            text = _failure(computation.error)[1]
            if text is not None:
                computation.output = cls.error_output(text)
        else:
            state.commit(snapshot)
        return computation

    @classmethod
    def apply_create_message(cls, state, message, transaction_context, parent_computation=None):
        snapshot = state.snapshot()
        state.increment_nonce(message.storage_address)  # FISCO sets a new contract's nonce to 1
        computation = cls.apply_message(state, message, transaction_context, parent_computation)
        if computation.is_error:
            state.revert(snapshot)
            return computation
        code = computation.output
        fail = None
        if len(code) > MAX_CODE_SIZE:
            fail = _Failure(st.OUT_OF_GAS, "Deploy code is too large.")
        elif len(code) * CODE_DEPOSIT_GAS > computation.get_gas_remaining():
            fail = _Failure(st.OUT_OF_GAS, "Exceptional Failed Code Deposit")
        elif not code:
            fail = _Failure(st.UNKNOWN, "Create contract with empty code, invalid code input.")
        if fail is not None:
            state.revert(snapshot)
            computation.error = fail
            computation.output = cls.error_output(fail.text)
            return computation
        computation.consume_gas(len(code) * CODE_DEPOSIT_GAS, "code deposit")
        state.set_code(message.storage_address, code)
        state.commit(snapshot)
        computation.output = b""  # FISCO clears a deployment's output
        return computation


class _State(ParisState):
    """py-evm state as FISCO's host reports it: every account and slot cold, any block hash."""

    block_hash_fn = None

    def is_storage_warm(self, address, slot):
        return False

    def mark_storage_warm(self, address, slot):
        pass

    def is_address_warm(self, address):
        return False

    def mark_address_warm(self, address):
        pass

    def get_ancestor_hash(self, block_number):
        if self.block_hash_fn is None or not 0 <= block_number < self.block_number:
            return b""
        return self.block_hash_fn(block_number) or b""


class _TxContext(BaseTransactionContext):
    """Origin plus what FISCO derives addresses from: block number, context id, seq."""

    __slots__ = ("block_number", "context_id", "seq", "chain_hash")

    def __init__(self, origin, block_number, context_id, chain_hash):
        super().__init__(gas_price=0, origin=origin)
        self.block_number = block_number
        self.context_id = context_id
        self.seq = 0
        self.chain_hash = chain_hash

    def next_seq(self):
        self.seq += 1
        return self.seq

    def create_address(self, seq):
        return contract_address(self.chain_hash, self.block_number, self.context_id, seq)

    def next_create_address(self):
        return self.create_address(self.next_seq())


def contract_address(hash_fn, block_number, context_id, seq=0):
    """FISCO's address of a contract created without feature_evm_address: the first 20 bytes of
    H("<block number>_<context id>_<seq>") (bcos-crypto/bcos-crypto/ChecksumAddress.h)."""
    return hash_fn(b"%d_%d_%d" % (block_number, context_id, seq))[:20]


_classes = {}


def _classes_for(crypto):
    """(state class, computation class) of a suite; its own KECCAK256, nothing global patched."""
    got = _classes.get(crypto)
    if got is None:
        h = _hash_of(crypto)
        comp = type("FiscoComputation_" + crypto, (_Computation,), {"chain_hash": staticmethod(h)})
        state = type("FiscoState_" + crypto, (_State,), {"computation_class": comp})
        got = _classes[crypto] = (state, comp)
    return got


def _address(value, what):
    if not isinstance(value, (bytes, bytearray)) or len(value) != 20:
        raise ValueError("%s: expected 20 bytes" % what)
    return bytes(value)


# -- the executor ----------------------------------------------------------------------

class EVM:
    """Contract state of one chain and the execution of its transactions, in memory.

    crypto is "ecdsa" or "sm". gas_limit is the tx_gas_limit every transaction and call gets
    (and GASLIMIT returns). chain_id is what CHAINID returns (FISCO's web3_chain_id).
    block_hash, if given, maps a block number to its 32-byte hash for BLOCKHASH.
    evm_timestamp_seconds mirrors feature_evm_timestamp: TIMESTAMP in seconds, not ms.
    """

    def __init__(self, crypto, gas_limit=DEFAULT_GAS_LIMIT, chain_id=0, block_hash=None,
                 evm_timestamp_seconds=False):
        if crypto not in suite_mod.NAMES:
            raise ValueError("unknown crypto suite %r (expected ecdsa or sm)" % (crypto,))
        self.crypto = crypto
        self.gas_limit = gas_limit
        self.chain_id = chain_id
        self.block_hash = block_hash
        self.evm_timestamp_seconds = evm_timestamp_seconds
        self._state_class, self._computation = _classes_for(crypto)
        self.hash = self._computation.chain_hash
        self._db = AtomicDB()
        self._root = _C.BLANK_ROOT_HASH
        self._live = None  # state with changes not yet written to the trie (see state_root)
        self._block = None  # (block number, transactions executed in it) for implicit tx_index

    # -- reading ------------------------------------------------------------------------

    def state_root(self):
        """32-byte root of the account trie (py-evm's, not FISCO's); equal for equal histories."""
        if self._live is not None:
            self._live.persist()
            self._root = self._live.state_root
            self._live = None
        return self._root

    def code(self, address):
        """The runtime code at address (b"" if none)."""
        return self._state(0, 0).get_code(_address(address, "address"))

    def storage(self, address, slot):
        """The storage word at slot of address, as an int."""
        return self._state(0, 0).get_storage(_address(address, "address"), slot)

    # -- writing ------------------------------------------------------------------------

    def deploy_at(self, address, runtime_code):
        """Place runtime code at address directly (genesis and system contracts)."""
        state = self._state(0, 0)
        address = _address(address, "address")
        state.set_code(address, bytes(runtime_code))
        state.set_nonce(address, 1)

    def execute(self, sender, to, data, block_number, timestamp_ms, tx_hash, tx_index=None):
        """Run one transaction; keep its state changes only if it succeeds.

        to None or b"" deploys data as init code. tx_index is the transaction's position in its
        block (FISCO's contextID, part of a deployment's address); if None, it is the number of
        execute() calls made before with the same block_number. tx_hash is not visible to the
        EVM (FISCO exposes none); it is taken for the caller's convenience only.
        """
        if self._block is None or self._block[0] != block_number:
            self._block = (block_number, 0)
        if tx_index is None:
            tx_index = self._block[1]
        self._block = (block_number, self._block[1] + 1)
        state = self._state(block_number, timestamp_ms)
        snapshot = state.snapshot()
        try:
            result, computation = self._run(state, sender, to, data, block_number, tx_index, False)
            if result.status == st.NONE:
                for address in computation.get_accounts_for_deletion():
                    state.delete_account(address)
                state.commit(snapshot)
                snapshot = None
            return result
        finally:
            if snapshot is not None:
                state.revert(snapshot)

    def call(self, sender, to, data, block_number, timestamp_ms):
        """Run a read-only call (FISCO's `call`: static, so writes fail with status 1)."""
        state = self._state(block_number, timestamp_ms)
        snapshot = state.snapshot()
        try:
            return self._run(state, sender, to or b"", data, block_number, 0, True)[0]
        finally:
            state.revert(snapshot)

    # -- inside -------------------------------------------------------------------------

    def _state(self, block_number, timestamp_ms):
        """The live state, its block context set to this block (one state serves many txs;
        the trie is written when state_root() is asked for)."""
        ctx = ExecutionContext(
            coinbase=_C.ZERO_ADDRESS, timestamp=timestamp_ms // 1000 if self.evm_timestamp_seconds
            else timestamp_ms, block_number=block_number, difficulty=0, mix_hash=_C.ZERO_HASH32,
            gas_limit=self.gas_limit, prev_hashes=(), chain_id=self.chain_id, base_fee_per_gas=0)
        if self._live is None:
            self._live = self._state_class(self._db, ctx, self._root)
            self._live.block_hash_fn = self.block_hash
        else:
            self._live.execution_context = ctx
        return self._live

    def _run(self, state, sender, to, data, block_number, tx_index, static):
        sender = _address(sender, "sender")
        data = bytes(data)
        comp = self._computation
        tctx = _TxContext(sender, block_number, tx_index, self.hash)
        creating = not to
        if creating:
            if static:  # a `call` without an address finds no code there
                return self._refused(st.CALL_ADDRESS_ERROR, "Call address error."), None
            address = tctx.create_address(0)
            if state.has_code_or_nonce(address):
                return self._refused(st.CONTRACT_ADDRESS_ALREADY_USED,
                                     "Contract address already used."), None
            msg = Message(gas=self.gas_limit, to=_C.CREATE_CONTRACT_ADDRESS, sender=sender, value=0,
                          data=b"", code=data, create_address=address)
            computation = comp.apply_create_message(state, msg, tctx)
        else:
            to = _address(to, "to")
            code = state.get_code(to)
            if not code and to not in comp._precompiles:
                return self._refused(st.CALL_ADDRESS_ERROR, "Call address error."), None
            msg = Message(gas=self.gas_limit, to=to, sender=sender, value=0, data=data, code=code,
                          is_static=static)
            computation = comp.apply_message(state, msg, tctx)
        gas_used = computation.get_gas_used()
        if computation.is_success:
            logs = [(address, [t.to_bytes(32, "big") for t in topics], bytes(log_data))
                    for address, topics, log_data in computation.get_log_entries()]
            return Result(st.NONE, computation.output, logs, gas_used,
                          msg.storage_address if creating else b""), computation
        status = _failure(computation.error)[0]
        output = computation.output
        return Result(status, output, (), gas_used, b"", self._reason(status, output)), computation

    def _refused(self, status, text):
        """A transaction FISCO turns down before running code: no gas, an Error(string) output."""
        return Result(status, self._computation.error_output(text), (), 0, b"", text)

    def _reason(self, status, output):
        """Readable reason of a failure: its Error(string) text, a Panic code, or a name."""
        h = self.hash
        try:
            if output[:4] == abi.selector("Error(string)", h):
                return abidecode.decode(["string"], output[4:])[0]
            if output[:4] == abi.selector("Panic(uint256)", h):
                return "Panic(0x%x)" % abidecode.decode(["uint256"], output[4:])[0]
        except LightmeterError:
            pass
        return _STATUS_NAMES.get(status, "status %d" % status)


_STATUS_NAMES = {
    st.UNKNOWN: "Unknown", st.BAD_INSTRUCTION: "BadInstruction",
    st.BAD_JUMP_DESTINATION: "BadJumpDestination", st.OUT_OF_GAS: "OutOfGas",
    st.OUT_OF_STACK: "OutOfStack", st.STACK_UNDERFLOW: "StackUnderflow",
    st.REVERT_INSTRUCTION: "RevertInstruction",
    st.CONTRACT_ADDRESS_ALREADY_USED: "ContractAddressAlreadyUsed",
    st.CALL_ADDRESS_ERROR: "CallAddressError",
}
