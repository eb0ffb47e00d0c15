"""The local chain: admits transactions as a FISCO BCOS 3.x node does, executes
them, and seals signed blocks.

Hashes, Merkle trees and the JSON shapes come from the firmware core
(lightmeter.chain.header, .tx, .receipt, .merkle), so the node and the light client
share one definition of every FISCO BCOS rule. Where this node must differ from
a real one, docs/node.md says so.
"""

import os
import threading
import time

from lightmeter.chain import fields, header as header_mod, receipt as receipt_mod
from lightmeter.chain import merklebuild
from lightmeter.chain import headerwrite
from lightmeter.crypto import suite as suite_mod
from lightmeter.chain import tx as txm
from lightmeter.chain import txread
from lightmeter.errors import LightmeterError
from lightmeter.client.trust import quorum
from lightmeter.client.verify import BLOCK_LIMIT_WINDOW

from lightmeter_host.chain import txcodec, txdecode
from lightmeter_host.node import background as background_mod, keys, releases, status
from lightmeter_host.node.store import Store

VERSION = 0x03030000  # compatibility_version 3.3.0 of the default chain (releases.DEFAULT_COMPATIBILITY)
TX_COUNT_LIMIT = 1000
GAS_LIMIT = 3_000_000_000
SIGN_MODES = ("quorum", "all", "few", "duplicate")


class TxRejected(Exception):
    """A transaction the pool refuses; .status is FISCO's TransactionStatus code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.status = code


class RequestRefused(Exception):
    """A request the RPC layer refuses before the pool (the node answers with an RPC error)."""


class Pending:
    """A transaction waiting for its block; done is set when its receipt exists."""

    def __init__(self, digest, raw, tx, sender, nonce):
        self.digest, self.raw, self.tx, self.sender, self.nonce = digest, raw, tx, sender, nonce
        self.import_time = int(time.time() * 1000)
        self.done = threading.Event()
        self.receipt = None


def genesis_config_text(crypto, chain_id, group_id, sealers, compatibility="3.3.0"):
    """The genesis extraData, in the layout of a real node's genesis file."""
    lines = ["[chain]", "sm_crypto:%d" % (crypto == "sm"), "chainID: %s" % chain_id,
             "groupID: %s" % group_id, "[consensus]", "consensus_type: pbft",
             "block_tx_count_limit:%d" % TX_COUNT_LIMIT, "leader_period:1", "[version]",
             "compatibility_version:%s" % compatibility, "[tx]", "gaslimit:%d" % GAS_LIMIT, "[executor]",
             "iswasm: 0", "isAuthCheck:0", "isSerialExecute:1"]
    lines += ["node.%d:%s,%d" % (i, n.hex(), w) for i, (n, w) in enumerate(sealers)]
    return ("\n".join(lines) + "\n").encode()


class Chain:
    """One group's chain. Thread-safe: every public method takes the lock."""

    def __init__(self, crypto="ecdsa", chain_id="chain0", group_id="group0", sealers=4,
                 data_dir=None, seed=None, sign_mode="quorum", now=None, release=None):
        self.store = Store(os.path.join(data_dir, "chain.sqlite") if data_dir else None)
        meta = self.store.get_meta()
        if meta:  # an existing chain: its settings win over the arguments
            crypto, chain_id, group_id = meta["crypto"], meta["chain_id"], meta["group_id"]
            seed, sealers = bytes.fromhex(meta["seed"]), meta["sealers"]
        else:
            seed = seed if seed is not None else os.urandom(16)
            self.store.set_meta({"crypto": crypto, "chain_id": chain_id, "group_id": group_id,
                                 "seed": seed.hex(), "sealers": sealers})
        if sign_mode not in SIGN_MODES:
            raise ValueError("sign mode must be one of %s" % ", ".join(SIGN_MODES))
        self.crypto, self.chain_id, self.group_id = crypto, chain_id, group_id
        # the FISCO BCOS release this node answers as (JSON spellings, pool rules, header version)
        self.release = release if isinstance(release, releases.Release) else releases.get(release)
        self.suite = suite_mod.get(crypto)
        self.sign_mode = sign_mode
        self.now = now or (lambda: int(time.time() * 1000))
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.keys = keys.pool(crypto, seed)
        # consensus list: node id -> weight (sealers); observers: set of node ids
        self.consensus = {n: 1 for n in keys.initial_sealers(crypto, seed, sealers)}
        self.observers = set()
        self.pool = []
        self.pool_nonces = set()
        self.changes = []  # sealer-set changes made in the block being executed
        self.hashes = []  # block hashes by number
        self.background = background_mod.Background(self, seed)
        self.background_per_block = 0  # background transactions sealed into every new block
        self.after_block = None  # called with the number, under the lock, after the sealer thread seals a block
        self.on_seal = None  # on_seal(number, pool txs, background txs) after every block sealed (metrics)
        self.closing = False  # set when the node stops: simulate() ends a run of blocks early
        self._new_evm()
        if self.store.height() < 0:
            self._write_genesis()
        self._replay()

    # -- state -----------------------------------------------------------------

    def _new_evm(self):
        from lightmeter_host.node.evm import EVM
        from lightmeter_host.node import registry

        self.evm = EVM(self.crypto, GAS_LIMIT, block_hash=self._block_hash)
        registry.install(self.evm, self.crypto)

    def _block_hash(self, number):
        return self.hashes[number] if 0 <= number < len(self.hashes) else None

    def sealer_list(self):
        """[(node_id, weight)] in FISCO's order (ascending node id)."""
        return sorted(self.consensus.items())

    def height(self):
        return len(self.hashes) - 1

    def _write_genesis(self):
        extra = genesis_config_text(self.crypto, self.chain_id, self.group_id, self.sealer_list(),
                                    self.release.compatibility)
        h = headerwrite.new(0, extra_data=extra, version=self.release.genesis_version)
        digest = h.hash(self.suite)
        self.store.add_block(0, digest, headerwrite.to_json(h, digest), [])

    def _replay(self):
        """Rebuild execution state from the stored blocks, checking each one."""
        from lightmeter_host.node import consensus

        n = 0
        while True:
            got = self.store.block(n)
            if got is None:
                break
            digest, hjson = got
            h = header_mod.from_json(hjson)
            if h.hash(self.suite) != digest:
                raise RuntimeError("stored block %d does not hash to its recorded hash" % n)
            if n > 0:
                self._check_sealers(h, n)
                rhashes = []
                for i, (txh, raw, _, stored) in enumerate(self.store.block_txs(n)):
                    tx = txdecode.to_firmware(txcodec.decode_transaction(raw))
                    sender = txread.sender(tx, self.suite, txh)
                    rc = self._execute(tx, txh, sender, n, h.timestamp, i)
                    if rc != stored:
                        raise RuntimeError("replaying block %d gives another receipt for 0x%s" % (n, txh.hex()))
                    rhashes.append(fields.hexbytes(rc["hash"], "hash", 32))
                rhashes += self.background.hashes(n, self.store.background(n))[1]
                if merklebuild.root(rhashes, self.suite.hash) != h.receipts_root:
                    raise RuntimeError("replaying block %d gives another receipts root" % n)
                consensus.apply_pending(self, n)
            self.hashes.append(digest)
            n += 1

    def _check_sealers(self, h, n):
        if [(s, w) for s, w in zip(h.sealer_list, h.weights)] != self.sealer_list():
            raise RuntimeError("stored block %d has another sealer set than replay gives" % n)

    # -- admission ---------------------------------------------------------------

    def admit(self, raw):
        """Decode and check a Tars transaction as a node's txpool does; returns a Pending.

        Raises LightmeterError for bytes that are no transaction and RequestRefused for another
        chain's transaction (both RPC errors), and TxRejected for a transaction the pool
        refuses (answered with a receipt carrying that status).
        """
        fields_ = txcodec.decode_transaction(raw)
        tx = txdecode.to_firmware(fields_)
        if tx["chainID"].decode() != self.chain_id:
            # checked in the RPC layer of a real node (JsonRpcImpl_2_0::sendTransaction)
            raise RequestRefused("Chain ID mismatch!")
        if tx["groupID"].decode() != self.group_id:
            raise TxRejected(status.INVALID_GROUP_ID, "Group ID mismatch!")
        if tx["version"] > self.release.max_tx_version:
            raise TxRejected(status.MALFORM, "transaction version %d (FISCO BCOS %s takes up to %d)"
                           % (tx["version"], self.release.name, self.release.max_tx_version))
        why = releases.nonce_refusal(self.release, tx["nonce"])
        if why:
            raise TxRejected(status.MALFORM, why)
        try:
            digest = txm.tx_hash(tx, self.suite)
        except LightmeterError as e:
            raise TxRejected(status.MALFORM, str(e))
        try:
            sender = txread.sender(tx, self.suite, digest)
        except LightmeterError:
            raise TxRejected(status.INVALID_SIGNATURE, "InvalidSignature")
        with self.lock:
            current = self.height()
            limit = tx["blockLimit"]
            if limit <= current or limit > current + BLOCK_LIMIT_WINDOW:
                raise TxRejected(status.BLOCK_LIMIT_CHECK_FAIL, "BlockLimitCheckFail")
            if self.store.tx(digest) is not None:
                raise TxRejected(status.TX_ALREADY_IN_CHAIN, "TxAlreadyInChain")
            if any(p.digest == digest for p in self.pool):
                raise TxRejected(status.ALREADY_IN_TX_POOL, "AlreadyInTxPool")
            nonce = tx["nonce"]
            if nonce in self.pool_nonces or self.store.nonce_used(nonce):
                raise TxRejected(status.NONCE_CHECK_FAIL, "NonceCheckFail")
            p = Pending(digest, bytes(raw), tx, sender, nonce)
            self.pool.append(p)
            self.pool_nonces.add(nonce)
            self.wake.notify_all()
            return p

    # -- execution ---------------------------------------------------------------

    def _execute(self, tx, digest, sender, number, timestamp, index):
        """The receipt JSON (as getTransactionReceipt shows it, without tx fields).

        index is the transaction's position in its block: FISCO derives contract
        addresses from it, precompile calls included."""
        from lightmeter_host.node import consensus

        to = tx["to"].decode()
        to_bytes = fields.hexbytes(to, "to", 20) if to else None
        if to_bytes == consensus.ADDRESS:
            res = consensus.execute(self, sender, tx["input"], number)
        else:
            res = self.evm.execute(sender, to_bytes, tx["input"], number, timestamp, digest, tx_index=index)
        ca = res.contract_address.hex() if res.contract_address else ""
        rc = {
            "version": tx["version"] if tx["version"] >= 1 else 0,
            "contractAddress": "0x" + ca if ca else "",
            "checksumContractAddress": _checksum(ca, self.suite) if ca else "",
            "gasUsed": str(res.gas_used),
            "status": res.status,
            "blockNumber": number,
            "output": fields.hex0x(res.output),
            "message": res.message,
            "transactionHash": fields.hex0x(digest),
            "logEntries": [{"address": a.hex(), "topics": [fields.hex0x(t) for t in topics],
                            "data": fields.hex0x(d)} for a, topics, d in res.logs],
            **({"effectiveGasPrice": "0"} if tx["version"] >= 1 else {}),
        }
        rc["hash"] = fields.hex0x(receipt_mod.from_json(rc).hash(self.suite))
        return rc

    def call(self, to, data):
        """Run a read-only call on the latest state: (output, status)."""
        with self.lock:
            res = self.evm.call(bytes(20), to, data, self.height(), self.now())
            return res

    # -- sealing -----------------------------------------------------------------

    def seal(self, pool=True):
        """Seal the pending transactions (up to the block limit) into one block; its number or None.

        Every block also carries background_per_block background transactions after its own;
        pool=False seals a block of background transactions only (the pool waits)."""
        from lightmeter_host.node import consensus

        with self.lock:
            bg = self.background_per_block
            if pool and not self.pool:
                return None  # FISCO BCOS 3.x makes no empty blocks
            if not pool and not bg:
                return None
            if pool:
                batch, self.pool = self.pool[:TX_COUNT_LIMIT], self.pool[TX_COUNT_LIMIT:]
            else:
                batch = []
            n = self.height() + 1
            prev = self.store.block(n - 1)[1]
            timestamp = max(self.now(), prev["timestamp"] + 1)
            receipts, rhashes, gas = [], [], 0
            for i, p in enumerate(batch):
                rc = self._execute(p.tx, p.digest, p.sender, n, timestamp, i)
                receipts.append(rc)
                rhashes.append(fields.hexbytes(rc["hash"], "hash", 32))
                gas += int(rc["gasUsed"])
            bg_txs, bg_rcs = self.background.hashes(n, bg)
            rhashes += bg_rcs
            gas += int(background_mod.GAS) * bg
            sealers = self.sealer_list()
            h = headerwrite.new(
                n, self.hashes[-1], [s for s, _ in sealers], [w for _, w in sealers],
                txs_root=merklebuild.root([p.digest for p in batch] + bg_txs, self.suite.hash),
                receipts_root=merklebuild.root(rhashes, self.suite.hash),
                state_root=self.evm.state_root(), gas_used=str(gas).encode(),
                timestamp=timestamp, sealer=n % len(sealers), version=self.release.header_version)
            digest = h.hash(self.suite)
            h.signatures = self._signatures(digest, sealers, n)
            self.store.add_block(n, digest, headerwrite.to_json(h, digest),
                                 [(p.digest, p.raw, p.nonce, p.import_time, rc) for p, rc in zip(batch, receipts)],
                                 bg)
            self.hashes.append(digest)
            for p in batch:
                self.pool_nonces.discard(p.nonce)
            consensus.apply_pending(self, n)
            for p, rc in zip(batch, receipts):
                p.receipt = rc
                p.done.set()
            if self.on_seal is not None:
                self.on_seal(n, len(batch), bg)
            return n

    def _signatures(self, digest, sealers, n):
        """Signatures of a quorum (or per sign_mode) of the sealers whose keys this node has."""
        total = sum(w for _, w in sealers)
        need = quorum(total)
        order = [(i + n) % len(sealers) for i in range(len(sealers))]  # rotate who signs
        signers, weight = [], 0
        for i in order:
            node, w = sealers[i]
            if node not in self.keys:
                continue
            if self.sign_mode != "all" and weight >= need:
                break
            if self.sign_mode == "few" and weight + w >= need:
                continue
            signers.append(i)
            weight += w
        if self.sign_mode == "duplicate" and signers:
            signers = signers[:-1] + [signers[0]]
        signers.sort()
        return [(i, background_mod.sign_node(self.crypto, self.suite, self.keys[sealers[i][0]], digest))
                for i in signers]

    def run_sealer(self, stop, batch_wait=0.005):
        """Seal whenever transactions are pending, until stop (an Event) is set."""
        while not stop.is_set():
            with self.lock:
                if not self.pool:
                    self.wake.wait(0.2)
                    continue
            time.sleep(batch_wait)  # let a burst of submissions share a block
            with self.lock:
                n = self.seal()
                if n is not None and self.after_block is not None:
                    self.after_block(n)  # e.g. the demo's background blocks between readings

    # -- queries -----------------------------------------------------------------

    def block_json(self, number, only_header=True, only_tx_hash=True):
        got = self.store.block(number)
        if got is None:
            return None
        out = dict(got[1])
        if not only_header:
            txs = self.block_txs(number, signed=not only_tx_hash)
            out["transactions"] = ([fields.hex0x(h) for h, _, _, _ in txs] if only_tx_hash else
                                   [self.tx_json(h, raw, t) for h, raw, t, _ in txs])
        return out

    def tx_json(self, digest, raw, import_time):
        tx = txdecode.to_firmware(txcodec.decode_transaction(raw))
        out = txread.to_json(tx, self.suite, digest)
        out["importTime"] = import_time
        return releases.tx_json(self.release, out)

    def receipt_json(self, rc):
        """A stored receipt as this node's release prints it."""
        return releases.receipt_json(self.release, rc)

    def block_txs(self, number, signed=True):
        """[(hash, raw, import_time, receipt_json)] of the block's transactions, its background
        ones last (signed=False: their raw bytes and receipts are None, only hashes are made)."""
        txs = self.store.block_txs(number)
        count = self.store.background(number)
        if not count:
            return txs
        if signed:
            return txs + [(d, raw, 0, rc) for d, raw, rc in
                          (self.background.signed(number, i) for i in range(count))]
        return txs + [(d, None, 0, None) for d in self.background.hashes(number, count)[0]]

    def find_background(self, digest):
        """store.tx's answer for a background transaction of a block seen lately, else None."""
        got = self.background.where(digest)
        if got is None:
            return None
        number, i = got
        d, raw, rc = self.background.signed(number, i)
        return number, len(self.store.block_txs(number)) + i, raw, 0, rc

    def proof(self, number, idx, receipts):
        """txProof / txReceiptProof items (hex, no 0x) for the idx-th transaction of a block."""
        txs = self.store.block_txs(number)
        bg_txs, bg_rcs = self.background.hashes(number, self.store.background(number))
        if receipts:
            leaves = [fields.hexbytes(rc["hash"], "hash", 32) for _, _, _, rc in txs] + bg_rcs
        else:
            leaves = [h for h, _, _, _ in txs] + bg_txs
        return [x.hex() for x in merklebuild.proof(leaves, idx, self.suite.hash)]


def _checksum(hex_addr, suite):
    """EIP-55 style mixed case of a lowercase address, with the chain's hash (as FISCO's SDKs do)."""
    h = suite.hash(hex_addr.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(hex_addr))
