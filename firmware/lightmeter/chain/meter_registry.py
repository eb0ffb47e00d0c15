"""The MeterRegistry contract's ABI as the device and the collector use it (proto/contracts/).

A device records each signed reading with record(seq, reading); the contract logs
Reading(device, seq, reading). Selectors and topics are the chain's hash of these
signatures (lightmeter.chain.abi.selector / event_topic: Keccak-256 or SM3).
"""

RECORD = "record(uint64,bytes)"
READING_EVENT = "Reading(address,uint64,bytes)"
# batch anchoring (proto/batch.md): a concentrator records a batch's root and leaf count
RECORD_BATCH = "recordBatch(bytes32,uint32)"
BATCH_EVENT = "Batch(address,bytes32,uint32)"
