"""Build and sign FISCO BCOS transactions on the host (tests, tools, SDK-like clients).

The hash and signature come from the firmware's rules (lightmeter.chain.tx, suite);
the Tars encoding from txcodec. A device builds the same transaction itself
and only the encoding happens on the host.
"""

from lightmeter.crypto import suite as suite_mod
from lightmeter.chain import tx as txm

from lightmeter_host.chain import txcodec

TEXT = ("chainID", "groupID", "nonce", "to", "abi", "value", "gasPrice", "maxFeePerGas",
        "maxPriorityFeePerGas")


def to_codec(tx):
    """The firmware's tx dict (bytes everywhere) as the codec's dict (str for Tars strings)."""
    out = {}
    for k, v in tx.items():
        if k in ("claimed_hash", "claimed_from"):
            continue
        out[k] = v.decode() if k in TEXT else v
    return out


def make(chain_id, group_id, block_limit, nonce, to=b"", data=b"", version=0, **extra):
    """An unsigned firmware tx dict; to is 20 bytes (or b"" to deploy), nonce text or bytes."""
    tx = txm.defaults()
    tx.update(version=version, chainID=chain_id.encode(), groupID=group_id.encode(),
              blockLimit=block_limit, nonce=nonce if isinstance(nonce, bytes) else str(nonce).encode(),
              to=to.hex().encode() if to else b"", input=data)
    tx.update(extra)
    return tx


def sign(tx, crypto, priv):
    """Sign tx in place with priv; returns (tx hash, Tars bytes)."""
    s = suite_mod.get(crypto)
    digest = txm.tx_hash(tx, s)
    tx["signature"] = s.sign_tx(priv, digest)
    return digest, encode(tx)


def encode(tx):
    """Tars bytes of a firmware tx dict, as an SDK sends them."""
    return txcodec.encode_transaction(to_codec(tx))
