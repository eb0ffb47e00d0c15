"""Background traffic: the transactions of other contracts that fill every block of a shared chain.

A busy FISCO BCOS chain carries far more than one application's transactions, so a light client's
proofs are as deep as the whole block. `lightmeter node --simulate ... --background K` (and the
benches) give every block K such transactions: ERC-20 style `transfer(address,uint256)` calls to
one of a few token contracts, from one of a few keys, all derived from the chain's seed, the block
number and the position in the block. Only the count per block is stored; a transaction and its
receipt are rebuilt when asked for (the signature only then: a FISCO transaction hash does not
cover it).

They do not run through the EVM (docs/node.md): the receipt is what such a transfer leaves
(status 0, output true, one Transfer log, a fixed gas figure) and the state root does not move.
Everything a light client checks is real: transaction and receipt hashes by the firmware's rules,
the block's txsRoot and receiptsRoot over all of the block's transactions, proofs, signatures.
Background transactions come after the block's own ones; one can be looked up by hash once its
block has been asked for (the last 64 blocks' are remembered).
"""

import hashlib

from lightmeter.chain import abi, fields, receipt as receipt_mod, tx as txm

from lightmeter_host.chain import txbuild

SENDERS = 8
CONTRACTS = 4
GAS = "29875"
TRANSFER = "transfer(address,uint256)"
_CACHE = 64  # blocks whose hashes are kept
_TRUE = bytes(31) + b"\x01"  # a transfer's output


class Background:
    """The background transactions of one chain (crypto, chain id, group id, seed)."""

    def __init__(self, chain, seed):
        s = chain.suite
        self.chain, self.suite = chain, s
        self.keys = [hashlib.sha256(b"lightmeter-background:" + seed + bytes([i])).digest()
                     for i in range(SENDERS)]
        self.senders = [s.address(s.public_key(k)) for k in self.keys]
        self.contracts = [hashlib.sha256(b"lightmeter-token:" + seed + bytes([i])).digest()[:20]
                          for i in range(CONTRACTS)]
        self.selector = abi.selector(TRANSFER, s.hash)
        self.topic_b = abi.event_topic("Transfer(address,address,uint256)", s.hash)
        self.topic = "0x" + self.topic_b.hex()
        self.chain_id, self.group_id = chain.chain_id.encode(), chain.group_id.encode()
        self.cache = {}
        self.index = {}
        self.signed_cache = {}

    def _parts(self, number, i):
        h = hashlib.sha256(b"%d:%d" % (number, i)).digest()
        who, to, amount = h[0] % SENDERS, h[1:21], int.from_bytes(h[21:25], "big")
        return who, self.contracts[h[25] % CONTRACTS], to, amount

    def tx(self, number, i):
        """The unsigned firmware tx dict of background transaction i of block number."""
        who, contract, to, amount = self._parts(number, i)
        t = txm.defaults()
        t.update(chainID=self.chain_id, groupID=self.group_id, blockLimit=number + 500,
                 nonce=b"bg-%d-%d" % (number, i), to=contract.hex().encode(),
                 input=self.selector + bytes(12) + to + amount.to_bytes(32, "big"))
        return t

    def receipt(self, number, i):
        """The receipt JSON (as Chain._execute makes it, hash included)."""
        who, contract, to, amount = self._parts(number, i)
        rc = {"version": 0, "contractAddress": "", "checksumContractAddress": "", "gasUsed": GAS,
              "status": 0, "blockNumber": number, "output": "0x" + "00" * 31 + "01", "message": "",
              "logEntries": [{"address": contract.hex(),
                              "topics": [self.topic, "0x" + (bytes(12) + self.senders[who]).hex(),
                                         "0x" + (bytes(12) + to).hex()],
                              "data": fields.hex0x(amount.to_bytes(32, "big"))}]}
        return rc

    def _receipt(self, number, i):
        """receipt() as the firmware's Receipt, built from the parts without the JSON round trip
        (the hot path of a busy chain's blocks; tests/host/test_simulate.py checks they agree)."""
        who, contract, to, amount = self._parts(number, i)
        r = receipt_mod.Receipt()
        r.version, r.gas_used, r.contract_address, r.status = 0, GAS.encode(), b"", 0
        r.output, r.effective_gas_price, r.block_number = _TRUE, b"", number
        r.logs = [(contract.hex().encode(), [self.topic_b, bytes(12) + self.senders[who], bytes(12) + to],
                   amount.to_bytes(32, "big"))]
        r.tx_hash = r.claimed_hash = None
        return r

    def hashes(self, number, count):
        """([tx hash], [receipt hash]) of the block's count background transactions."""
        got = self.cache.get(number)
        if got is None or len(got[0]) != count:
            s = self.suite
            txs, rcs = [], []
            for i in range(count):
                txs.append(txm.tx_hash(self.tx(number, i), s))
                rcs.append(self._receipt(number, i).hash(s))
            got = (txs, rcs)
            if len(self.cache) >= _CACHE:
                self.cache.clear()
                self.index.clear()
            self.cache[number] = got
            for i, d in enumerate(txs):
                self.index[d] = (number, i)
        return got

    def where(self, digest):
        """(block number, i) of a background transaction hash among the remembered blocks."""
        return self.index.get(bytes(digest))

    def signed(self, number, i):
        """(tx hash, Tars bytes, receipt JSON with its hash and transactionHash) of one transaction."""
        got = self.signed_cache.get((number, i))
        if got is not None:
            return got
        t = self.tx(number, i)
        who = self._parts(number, i)[0]
        digest = txm.tx_hash(t, self.suite)
        t["signature"] = _sign(self.chain.crypto, self.suite, self.keys[who], digest)
        raw = txbuild.encode(t)
        rc = self.receipt(number, i)
        rc["transactionHash"] = fields.hex0x(digest)
        rc["hash"] = fields.hex0x(self._receipt(number, i).hash(self.suite))
        if len(self.signed_cache) >= _CACHE * 64:
            self.signed_cache.clear()
        self.signed_cache[(number, i)] = got = (digest, raw, rc)
        return got


_native_keys = {}  # private key bytes -> coincurve.PrivateKey: a handful of sealers and senders


def _native_sign(priv, digest):
    """libsecp256k1's recoverable signature, or None without coincurve."""
    key = _native_keys.get(priv)
    if key is None:
        try:
            import coincurve
        except ImportError:
            return None
        if len(_native_keys) > 1024:
            _native_keys.clear()
        key = _native_keys[priv] = coincurve.PrivateKey(priv)
    return key.sign_recoverable(digest, hasher=None)


def sign_node(crypto, suite, priv, digest):
    """A sealer's signature of a block hash: libsecp256k1 when there is one (the same RFC 6979
    low-s bytes as suite.sign_node, so a seed still gives the same chain), else the suite's."""
    sig = _native_sign(priv, digest) if crypto == "ecdsa" else None
    return sig if sig is not None else suite.sign_node(priv, digest)


def _sign(crypto, suite, priv, digest):
    """The transaction signature: libsecp256k1 when there is one (a host program; the same RFC 6979
    low-s signature as the firmware's), else the suite's."""
    sig = _native_sign(priv, digest) if crypto == "ecdsa" else None
    return sig if sig is not None else suite.sign_tx(priv, digest)
