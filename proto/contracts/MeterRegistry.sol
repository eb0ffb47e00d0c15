// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

/// @title MeterRegistry: signed meter readings on a FISCO BCOS chain
/// @notice A meter device signs a transaction that calls `record`, so `msg.sender` is the
/// device's own address (derived from the key that never leaves it). Each device has an
/// append-only log of readings keyed by a strictly increasing sequence number, and every
/// accepted reading is also emitted as an event, so a light client can prove it by receipt.
/// @dev No owner, no admin, no upgrade path: the chain's own permissions decide who may send.
contract MeterRegistry {
    /// Largest reading accepted, in bytes. A reading is an opaque canonical-CBOR record
    /// (defined in proto/); real ones are far smaller, the bound only caps storage per call.
    uint256 internal constant MAX_READING = 1024;

    /// The device's last accepted sequence number; 0 means none yet.
    mapping(address => uint64) private _lastSeq;
    /// The reading bytes, exactly as submitted, by device and sequence number.
    mapping(address => mapping(uint64 => bytes)) private _readings;

    /// Leaves of each batch root a submitter anchored; 0 means it never anchored that root.
    mapping(address => mapping(bytes32 => uint32)) private _batchCount;

    /// Emitted once per accepted reading.
    event Reading(address indexed device, uint64 indexed seq, bytes reading);

    /// Emitted once per anchored batch of device-signed readings (proto/batch.md).
    event Batch(address indexed submitter, bytes32 indexed root, uint32 count);

    /// Store `reading` as the sender's reading number `seq`.
    /// Reverts unless seq is greater than the sender's last one (so it starts at 1 and a
    /// reading can never be replaced or replayed) and the reading is 1..MAX_READING bytes.
    /// Gaps are allowed: a device that lost readings must not be stuck forever.
    function record(uint64 seq, bytes calldata reading) external {
        require(seq > _lastSeq[msg.sender], "seq not above last");
        require(reading.length != 0, "empty reading");
        require(reading.length <= MAX_READING, "reading too long");
        _lastSeq[msg.sender] = seq;
        _readings[msg.sender][seq] = reading;
        emit Reading(msg.sender, seq, reading);
    }

    /// Anchor the root of a Merkle tree over `count` device-signed readings (proto/batch.md).
    /// The sender is the concentrator that built the batch; the readings are signed by their
    /// devices, who check their own inclusion, so no one here needs to trust the sender.
    /// Reverts for a zero root or count, and for a root the sender already anchored (a resent
    /// batch is refused instead of logged twice). Per sender: no one else's transaction, such as
    /// a copy of a root with a wrong count sent ahead of it, can keep a root from being anchored.
    function recordBatch(bytes32 root, uint32 count) external {
        require(root != bytes32(0), "empty root");
        require(count != 0, "empty batch");
        require(_batchCount[msg.sender][root] == 0, "batch already recorded");
        _batchCount[msg.sender][root] = count;
        emit Batch(msg.sender, root, count);
    }

    /// The leaf count `submitter` anchored for `root`, 0 if it never did.
    function batchCount(address submitter, bytes32 root) external view returns (uint32) {
        return _batchCount[submitter][root];
    }

    /// The last sequence number `device` recorded, 0 if none.
    function lastSeq(address device) external view returns (uint64) {
        return _lastSeq[device];
    }

    /// The reading `device` recorded as number `seq`; empty if there is none.
    function readingOf(address device, uint64 seq) external view returns (bytes memory) {
        return _readings[device][seq];
    }
}
