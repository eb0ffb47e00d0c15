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

    /// Emitted once per accepted reading.
    event Reading(address indexed device, uint64 indexed seq, bytes reading);

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

    /// The last sequence number `device` recorded, 0 if none.
    function lastSeq(address device) external view returns (uint64) {
        return _lastSeq[device];
    }

    /// The reading `device` recorded as number `seq`; empty if there is none.
    function readingOf(address device, uint64 seq) external view returns (bytes memory) {
        return _readings[device][seq];
    }
}
