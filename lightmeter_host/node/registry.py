"""The MeterRegistry contract the node installs at start, at a fixed address.

It is placed in the genesis state (not deployed by a transaction), so every
chain has it at the same address from block 0 without a block of its own.
"""

from lightmeter_host.chain import contracts

ADDRESS = bytes.fromhex("6c6d657465720000000000000000000000000001")  # "lmeter" ... 01


def install(evm, crypto):
    evm.deploy_at(ADDRESS, contracts.deployed_bytecode("MeterRegistry", crypto))
