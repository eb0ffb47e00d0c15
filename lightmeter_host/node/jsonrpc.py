"""FISCO BCOS 3.x JSON-RPC methods of the local node: names, positional params
(group, node, ...), response shapes and error codes as a real node's
(bcos-rpc jsonrpc/JsonRpcImpl_2_0.cpp, jsonrpc/Common.h; fisco-bcos-3x.md §4).
"""

import json

from lightmeter.chain import fields
from lightmeter.errors import LightmeterError
from lightmeter.client.trust import quorum

from lightmeter_host.chain import txcodec
from lightmeter_host.node import chain as chain_mod, registry

PARSE_ERROR = (-32700, "Parse error")
INVALID_REQUEST = (-32600, "Invalid Request")
METHOD_NOT_FOUND = (-32601, "The method does not exist/is not available.")
INVALID_PARAMS = (-32602, "Invalid params")
INTERNAL_ERROR = (-32603, "Internal error")
GROUP_NOT_EXIST = (-32005, "GroupNotExist")

RECEIPT_TIMEOUT = 60.0


class RpcError(Exception):
    def __init__(self, err, detail=None):
        super().__init__(err[1] if detail is None else "%s: %s" % (err[1], detail))
        self.code = err[0]


def _bool(v, name):
    if not isinstance(v, bool):
        raise RpcError(INVALID_PARAMS, "%s must be a boolean" % name)
    return v


def _int(v, name):
    if isinstance(v, bool) or not isinstance(v, int):
        raise RpcError(INVALID_PARAMS, "%s must be an integer" % name)
    return v


def _hash(v, name="hash"):
    try:
        return fields.hexbytes(v, name, 32)
    except LightmeterError as e:
        raise RpcError(INVALID_PARAMS, str(e))


class Methods:
    """Method table bound to one chain."""

    def __init__(self, chain):
        self.chain = chain
        self.metrics = None  # a node.metrics.Metrics counting calls, when the node exposes them
        # name -> (number of params after group and node, of which optional, handler)
        self.table = {
            "getBlockNumber": (0, 0, self.get_block_number),
            "getBlockByNumber": (3, 2, self.get_block_by_number),
            "getBlockByHash": (3, 2, self.get_block_by_hash),
            "getBlockHashByNumber": (1, 0, self.get_block_hash_by_number),
            "getTransaction": (2, 1, self.get_transaction),
            "getTransactionReceipt": (2, 1, self.get_transaction_receipt),
            "sendTransaction": (2, 1, self.send_transaction),
            "call": (3, 1, self.call),
            "getCode": (1, 0, self.get_code),
            "getABI": (1, 0, lambda a: ""),
            "getSealerList": (0, 0, self.get_sealer_list),
            "getObserverList": (0, 0, lambda: [n.hex() for n in sorted(self.chain.observers)]),
            "getNodeListByType": (1, 0, self.get_node_list_by_type),
            "getPbftView": (0, 0, lambda: self.chain.height()),
            "getPendingTxSize": (0, 0, lambda: len(self.chain.pool)),
            "getSyncStatus": (0, 0, self.get_sync_status),
            "getConsensusStatus": (0, 0, self.get_consensus_status),
            "getSystemConfigByKey": (1, 0, self.get_system_config_by_key),
            "getTotalTransactionCount": (0, 0, self.get_total_transaction_count),
            "getGroupList": (0, 0, self.get_group_list),
            "getGroupInfo": (0, 0, self.get_group_info),
            "getGroupInfoList": (0, 0, lambda: [self.get_group_info()]),
            "getGroupNodeInfo": (0, 0, lambda: self._node_info()),
            "getPeers": (0, 0, self.get_peers),
            "getGroupPeers": (0, 0, lambda: []),
        }

    # -- dispatch ------------------------------------------------------------------

    def handle_bytes(self, body):
        """Response bytes for a request body (one JSON-RPC 2.0 request)."""
        try:
            req = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._encode(None, error=PARSE_ERROR)
        return self._encode(*self.handle(req))

    def handle(self, req):
        """(id, result, error) for a parsed request."""
        if not isinstance(req, dict):
            return None, None, (INVALID_REQUEST[0], INVALID_REQUEST[1])
        rid = req.get("id")
        method, params = req.get("method"), req.get("params")
        if req.get("jsonrpc") != "2.0" or not isinstance(method, str) or not isinstance(params, list):
            return rid, None, INVALID_REQUEST
        out = self._call(rid, method, params)
        if self.metrics is not None:
            self.metrics.rpc(method if method in self.table else "unknown", out[2] is not None)
        return out

    def _call(self, rid, method, params):
        entry = self.table.get(method)
        if entry is None:
            return rid, None, METHOD_NOT_FOUND
        count, optional, fn = entry
        try:
            args = self._args(params, count, optional)
            return rid, fn(*args), None
        except RpcError as e:
            return rid, None, (e.code, str(e))
        except Exception as e:  # a bug must not kill the server: report it as a real node does
            return rid, None, (INTERNAL_ERROR[0], "%s: %s" % (INTERNAL_ERROR[1], e))

    def _args(self, params, count, optional):
        # A real node reads params[0] (group) and params[1] (node); the documentation's
        # own curl examples sometimes send [], which it treats as "" for both.
        if len(params) > 2 + count:
            raise RpcError(INVALID_PARAMS, "at most %d params" % (2 + count))
        group = params[0] if params else ""
        if not isinstance(group, str):
            raise RpcError(INVALID_PARAMS, "group must be a string")
        if group not in ("", self.chain.group_id):
            raise RpcError(GROUP_NOT_EXIST, group)
        if len(params) > 1 and not isinstance(params[1], str):
            raise RpcError(INVALID_PARAMS, "node must be a string")
        rest = params[2:]
        if len(rest) < count - optional:
            raise RpcError(INVALID_PARAMS, "expected %d params after group and node" % (count - optional))
        return rest

    @staticmethod
    def _encode(rid, result=None, error=None):
        out = {"id": rid, "jsonrpc": "2.0"}
        if error is not None:
            out["error"] = {"code": error[0], "message": error[1]}
        else:
            out["result"] = result
        return json.dumps(out, separators=(",", ":")).encode()

    # -- blocks ----------------------------------------------------------------------

    def get_block_number(self):
        with self.chain.lock:  # not in the middle of a run of blocks (Chain.after_block)
            return self.chain.height()

    def get_block_by_number(self, number, only_header=True, only_tx_hash=True):
        number = _int(number, "blockNumber")
        out = self.chain.block_json(number, _bool(only_header, "onlyHeader"), _bool(only_tx_hash, "onlyTxHash"))
        if out is None:
            raise RpcError(INVALID_PARAMS, "block %d not found" % number)
        return out

    def get_block_by_hash(self, digest, only_header=True, only_tx_hash=True):
        n = self.chain.store.number_of(_hash(digest, "blockHash"))
        if n is None:
            raise RpcError(INVALID_PARAMS, "block not found")
        return self.get_block_by_number(n, only_header, only_tx_hash)

    def get_block_hash_by_number(self, number):
        got = self.chain.store.block(_int(number, "blockNumber"))
        if got is None:
            raise RpcError(INVALID_PARAMS, "block %d not found" % number)
        return fields.hex0x(got[0])

    # -- transactions ----------------------------------------------------------------

    def _find_tx(self, digest):
        got = self.chain.store.tx(_hash(digest)) or self.chain.find_background(_hash(digest))
        if got is None:
            raise RpcError(INVALID_PARAMS, "transaction not found")
        return got

    def get_transaction(self, digest, with_proof=False):
        number, idx, raw, import_time, _ = self._find_tx(digest)
        out = self.chain.tx_json(_hash(digest), raw, import_time)
        if _bool(with_proof, "requireProof") and self.chain.release.proofs:
            out["transactionProof"] = []  # kept empty by real nodes, "for compatibility"
            out["txProof"] = self.chain.proof(number, idx, receipts=False)
        return out

    def get_transaction_receipt(self, digest, with_proof=False):
        number, idx, raw, import_time, rc = self._find_tx(digest)
        out = self.chain.receipt_json(rc)
        tx = self.chain.tx_json(_hash(digest), raw, import_time)
        for k in ("input", "from", "to", "extraData"):
            if k in tx:
                out[k] = tx[k]
        release = self.chain.release
        if release.proofs:
            out["transactionProof"] = []
        if _bool(with_proof, "requireProof") and release.proofs:
            out["receiptProof"] = []
            out["txReceiptProof"] = self.chain.proof(number, idx, receipts=True)
        return out

    def send_transaction(self, data, with_proof=False):
        with_proof = _bool(with_proof, "requireProof")
        try:
            raw = txcodec.decode_hex(data)
            pending = self.chain.admit(raw)
        except chain_mod.RequestRefused as e:
            raise RpcError(INVALID_PARAMS, str(e))
        except chain_mod.TxRejected as e:
            return self._refusal(raw, e)
        except LightmeterError as e:
            raise RpcError(INVALID_PARAMS, str(e))
        if not pending.done.wait(RECEIPT_TIMEOUT):
            raise RpcError(INTERNAL_ERROR, "no block sealed the transaction in time")
        out = self.chain.receipt_json(pending.receipt)
        out["to"] = pending.tx["to"].decode()
        out["from"] = fields.hex0x(pending.sender)
        if with_proof and self.chain.release.proofs:
            number, idx = self.chain.store.tx(pending.digest)[:2]
            proof = self.chain.proof(number, idx, receipts=True)
            out["txReceiptProof"] = proof
            out["receiptProof"] = proof
        return out

    def _refusal(self, raw, e):
        """The receipt-shaped answer a node gives for a transaction its pool refused."""
        from lightmeter_host.chain import txdecode
        from lightmeter.chain import tx as txm

        tx = txdecode.to_firmware(txcodec.decode_transaction(raw))
        return {"version": 0, "contractAddress": "", "gasUsed": "0", "status": e.status,
                "blockNumber": self.chain.height(), "output": "0x", "message": str(e),
                "transactionHash": fields.hex0x(txm.tx_hash(tx, self.chain.suite)), "hash": "0x",
                "logEntries": [], "to": tx["to"].decode(), "from": ""}

    def call(self, to, data, sign=None):
        try:
            to_b = fields.hexbytes(to, "to", 20)
            data_b = fields.hexbytes(data, "data")
        except LightmeterError as e:
            raise RpcError(INVALID_PARAMS, str(e))
        res = self.chain.call(to_b, data_b)
        return {"blockNumber": self.chain.height(), "output": fields.hex0x(res.output),
                "status": res.status}

    def get_code(self, address):
        try:
            a = fields.hexbytes(address, "address", 20)
        except LightmeterError as e:
            raise RpcError(INVALID_PARAMS, str(e))
        with self.chain.lock:
            return fields.hex0x(self.chain.evm.code(a))

    # -- consensus and configuration ---------------------------------------------------

    def get_sealer_list(self):
        # weight is a uint64, a JSON number in every release (docs/fisco-versions.md §2); the
        # termWeight v3.12.0 adds is not printed here (its value is not what a light client reads)
        return [{"nodeID": n.hex(), "weight": w} for n, w in self.chain.sealer_list()]

    def get_node_list_by_type(self, kind):
        if kind == "consensus_sealer":
            return [{"nodeID": n.hex(), "weight": w} for n, w in self.chain.sealer_list()]
        if kind == "consensus_observer":
            return [{"nodeID": n.hex(), "weight": 0} for n in sorted(self.chain.observers)]
        raise RpcError(INVALID_PARAMS, "unknown node type %r" % (kind,))

    def _node_id(self):
        return self.chain.sealer_list()[0][0].hex()

    def get_sync_status(self):
        n = self.chain.height()
        latest = self.chain.hashes[-1].hex()
        return json.dumps({
            "archivedBlockNumber": 0, "blockNumber": n, "genesisHash": self.chain.hashes[0].hex(),
            "isSyncing": False, "knownHighestNumber": n, "knownLatestHash": latest,
            "latestHash": latest, "nodeID": self._node_id(), "peers": [],
        }, separators=(",", ":")) + "\n"

    def get_consensus_status(self):
        sealers = self.chain.sealer_list()
        total = sum(w for _, w in sealers)
        n = self.chain.height()
        return json.dumps({
            "blockNumber": n, "changeCycle": 0, "connectedNodeList": len(sealers),
            "consensusNodeList": [{"index": i, "nodeID": s.hex(), "weight": w}
                                  for i, (s, w) in enumerate(sealers)],
            "consensusNodesNum": len(sealers), "hash": self.chain.hashes[-1].hex(), "index": 0,
            "isConsensusNode": True, "leaderIndex": (n + 1) % len(sealers),
            "maxFaultyQuorum": (total - 1) // 3, "minRequiredQuorum": quorum(total),
            "view": n,
        }, separators=(",", ":")) + "\n"

    SYSTEM_CONFIG = {
        "tx_count_limit": str(chain_mod.TX_COUNT_LIMIT),
        "consensus_leader_period": "1",
        "tx_gas_limit": str(chain_mod.GAS_LIMIT),
    }

    def get_system_config_by_key(self, key):
        value = self.SYSTEM_CONFIG.get(key)
        if key == "compatibility_version":
            value = self.chain.release.compatibility
        if value is None:
            raise RpcError(INVALID_PARAMS, "unknown system config key %r" % (key,))
        return {"blockNumber": 0, "value": value}

    def get_total_transaction_count(self):
        total, failed = self.chain.store.counts()
        return {"blockNumber": self.chain.height(), "failedTransactionCount": failed,
                "transactionCount": total}

    def get_group_list(self):
        return {"code": 0, "msg": "success", "groupList": [self.chain.group_id]}

    def _node_info(self):
        return {"name": "node0", "type": 0, "nodeID": self._node_id(),
                "protocol": {"compatibilityVersion": self.chain.release.header_version},
                "meterRegistry": fields.hex0x(registry.ADDRESS)}

    def get_group_info(self):
        return {"chainID": self.chain.chain_id, "groupID": self.chain.group_id,
                "genesisConfig": {"consensusType": "pbft", "blockTxCountLimit": chain_mod.TX_COUNT_LIMIT,
                                  "txGasLimit": chain_mod.GAS_LIMIT,
                                  "smCryptoType": self.chain.crypto == "sm",
                                  "sealerList": [{"nodeID": n.hex(), "weight": w}
                                                 for n, w in self.chain.sealer_list()]},
                "nodeList": [self._node_info()]}

    def get_peers(self):
        return {"endPoint": "127.0.0.1:30300", "groupNodeIDInfo": [
            {"group": self.chain.group_id, "nodeIDList": [self._node_id()]}],
            "p2pNodeID": self._node_id(), "peers": []}
