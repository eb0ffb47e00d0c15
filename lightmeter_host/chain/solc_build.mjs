// solc_build.mjs — compile the project's Solidity contracts with solcjs (npm `solc`, pinned in package.json).
//
//   node lightmeter_host/chain/solc_build.mjs [--solc DIR] [--expect VERSION] [--out FILE] [CONTRACT.sol ...]
//
// Compiles each CONTRACT.sol (default: every proto/contracts/*.sol of this checkout) through solc's
// standard JSON interface with the settings below, one compilation per file (imports are read
// from the file's directory), and prints one JSON object (or writes it to FILE):
//
//   {"compiler": "0.8.26+commit.…", "language": "Solidity", "settings": {…},
//    "contracts": {"NAME": {"source": "NAME.sol", "abi": […], "bytecode": "60…",
//                           "deployedBytecode": "60…", "methodIdentifiers": {…}}}}
//
// That is the keccak256 half of an artifact. lightmeter_host/chain/contracts.py adds the SM-crypto variant
// (it needs SM3 and keccak256, which live once, in the firmware) and writes proto/contracts/NAME.json:
// run `.venv/bin/python -m lightmeter_host.chain.contracts`, not this script, to refresh an artifact.
//
// --solc DIR: the solc package to use (default: node_modules/solc of this checkout).
// --expect VERSION: fail unless that package is exactly this version (package.json's pin).
// Exit status: 0 success, 1 the compiler reported errors, 2 usage error or solc missing.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const USAGE = "usage: node solc_build.mjs [--solc DIR] [--expect VERSION] [--out FILE] [CONTRACT.sol ...]";

// Every setting that changes the bytecode, recorded as is in the artifact.
const SETTINGS = {
  // FISCO BCOS 3.x runs EVM code at revision London or Paris (bcos-executor/src/vm/VMInstance.cpp,
  // toRevision: EVMC_PARIS for chains at block version >= 3.2, EVMC_LONDON before; EVMC_CANCUN only
  // with the feature_evm_cancun switch, FISCO-BCOS/FISCO-BCOS #4332, v3.10.0). Neither has PUSH0
  // (Shanghai), which solc >= 0.8.20 emits by default, so the target is pinned to "paris" (which
  // also runs on the Cancun revision of FISCO's newer baseline executor).
  evmVersion: "paris",
  optimizer: {
    enabled: true,
    runs: 200,
    // The constant optimiser rewrites Error(string)'s selector word 0x08c379a0 << 224 as
    // PUSH3 0x461bcd PUSH1 0xe5 SHL, which the SM variant could not patch in place (SM3's
    // 0xc703cb12 needs a PUSH4). Off, every selector stays a whole PUSH4 or PUSH32 immediate.
    details: { constantOptimizer: false },
  },
  // No IPFS/Swarm hash of the metadata: the code then depends only on source text and settings,
  // not on file paths or comments, and rebuilds byte for byte. The CBOR trailer keeps the version.
  metadata: { bytecodeHash: "none" },
};

const OUTPUT = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"];

function die(msg, status) {
  process.stderr.write(`solc_build: ${msg}\n`);
  process.exit(status);
}

function parseArgs(argv) {
  const opts = { solc: path.join(ROOT, "node_modules", "solc"), expect: null, out: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--solc" || a === "--expect" || a === "--out") {
      if (i + 1 >= argv.length) die(`${a} needs a value\n${USAGE}`, 2);
      opts[a.slice(2)] = argv[++i];
    } else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    } else if (a.startsWith("-")) {
      die(`unknown option ${a}\n${USAGE}`, 2);
    } else {
      opts.files.push(a);
    }
  }
  if (opts.files.length === 0) {
    const dir = path.join(ROOT, "proto", "contracts");
    opts.files = fs.readdirSync(dir).filter((n) => n.endsWith(".sol")).sort().map((n) => path.join(dir, n));
  }
  return opts;
}

function loadSolc(dir, expect) {
  const pkgFile = path.join(dir, "package.json");
  if (!fs.existsSync(pkgFile)) die(`solc not found at ${dir}: run \`make setup\` (npm ci)`, 2);
  const version = JSON.parse(fs.readFileSync(pkgFile, "utf8")).version;
  if (expect && version !== expect) {
    die(`${dir} is solc ${version} but package.json pins ${expect}: run \`make setup\` (npm ci)`, 2);
  }
  return createRequire(pkgFile)("./index.js");
}

function compileFile(solc, file) {
  const dir = path.dirname(file);
  const unit = path.basename(file);
  const input = {
    language: "Solidity",
    sources: { [unit]: { content: fs.readFileSync(file, "utf8") } },
    settings: { ...SETTINGS, outputSelection: { "*": { "*": OUTPUT } } },
  };
  // Imports resolve beside the file, by plain relative name only.
  const findImports = (name) => {
    if (path.isAbsolute(name) || name.split("/").includes("..")) return { error: `import ${name} outside ${dir}` };
    try {
      return { contents: fs.readFileSync(path.join(dir, name), "utf8") };
    } catch (e) {
      return { error: `import ${name}: ${e.message}` };
    }
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const problems = output.errors || [];
  for (const p of problems) process.stderr.write((p.formattedMessage || p.message) + "\n");
  if (problems.some((p) => p.severity === "error")) die(`${unit}: compilation failed`, 1);
  return output.contracts[unit] || {};
}

const opts = parseArgs(process.argv.slice(2));
const solc = loadSolc(opts.solc, opts.expect);
const result = { compiler: solc.version(), language: "Solidity", settings: SETTINGS, contracts: {} };
for (const file of opts.files) {
  const unit = path.basename(file);
  for (const [name, c] of Object.entries(compileFile(solc, file))) {
    if (result.contracts[name]) die(`contract ${name} is defined twice (${result.contracts[name].source}, ${unit})`, 1);
    result.contracts[name] = {
      source: unit,
      abi: c.abi,
      bytecode: c.evm.bytecode.object,
      deployedBytecode: c.evm.deployedBytecode.object,
      methodIdentifiers: c.evm.methodIdentifiers,
    };
  }
}
const text = JSON.stringify(result, null, 2) + "\n";
if (opts.out) fs.writeFileSync(opts.out, text);
else process.stdout.write(text);
