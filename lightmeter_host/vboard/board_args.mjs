// board_args.mjs — the command line both board runners share (board_runner.mjs runs the device
// program, board_repl.mjs the REPL): --port MJS --root HOSTDIR --rx-fd N --tx-fd M [--heap BYTES],
// each with a value, plus options of the runner's own, taken by its `more(flag, value, options)`
// (true when it knew the flag). A bad command line ends the process with `die` (exit status 2).
// loadPort then gives the port's loadMicroPython once --root is known to be a directory.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export function wholeNumber(v, flag, die) {
  if (!/^[0-9]+$/.test(v)) die(`${flag} wants a non-negative integer, got ${JSON.stringify(v)}`);
  return parseInt(v, 10);
}

export function boardArgs(argv, usage, die, defaults = {}, more = () => false) {
  const o = Object.assign({ port: null, root: null, rx: null, tx: null, heap: null }, defaults);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") { process.stdout.write(usage + "\n"); process.exit(0); }
    if (i + 1 >= argv.length) die(`${a} needs a value\n${usage}`);
    const v = argv[++i];
    switch (a) {
      case "--port": o.port = v; break;
      case "--root": o.root = path.resolve(v); break;
      case "--rx-fd": o.rx = wholeNumber(v, a, die); break;
      case "--tx-fd": o.tx = wholeNumber(v, a, die); break;
      case "--heap": o.heap = wholeNumber(v, a, die); break;
      default: if (!more(a, v, o)) die(`unknown option ${a}\n${usage}`);
    }
  }
  if (o.port === null || o.root === null || o.rx === null || o.tx === null) die(usage);
  return o;
}

export async function loadPort(o, die) {
  let loadMicroPython;
  try {
    ({ loadMicroPython } = await import(pathToFileURL(path.resolve(o.port)).href));
  } catch (e) {
    die(`cannot load the MicroPython WebAssembly port (${o.port}): ${e.message}; run \`make setup\` (npm ci)`);
  }
  if (!fs.existsSync(o.root) || !fs.statSync(o.root).isDirectory()) die(`--root: ${o.root} is not a directory`);
  return loadMicroPython;
}
