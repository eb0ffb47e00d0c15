// board_runner.mjs — the MicroPython side of a virtual board: run the device program on the official
// WebAssembly port under Node, with its UART on two inherited pipes and its flash mirrored to a host
// directory.
//
//   node board_runner.mjs --port MICROPYTHON.MJS --root HOSTDIR --rx-fd N --tx-fd M
//                         [--module lightmeter.device.app] [--heap BYTES]
//                         [--mount HOSTDIR=MPDIR]... [--path MPDIR]...
//
// lightmeter_host/vboard/board.py starts this and moves bytes between the pipes and the pseudo-terminal.
// Start-up: --mount copies a host tree (.py and .json files) into the port's in-memory filesystem
// (the firmware goes to /lib/lightmeter); every file under --root is copied to /flash, the
// device's flash. The Python module `board` (registered from here) gives the device:
//   board.uart_read() -> str       hex of every byte received so far ("" if none; never blocks)
//   board.uart_write(hex)          send these bytes (hex text: the cheap way across the JS boundary)
//   board.flash_sync(paths)        copy each listed /flash file to --root (write a temporary file,
//                                  then rename), remove the host copy of a path that no longer
//                                  exists, mirror a listed directory's whole tree
//   board.random(n) -> Uint8Array  n bytes from the host's CSPRNG (this port has no os.urandom);
//                                  bytes(board.random(n)) in Python
// and the prologue wraps the first two in a `uart` object with read() -> bytes and write(data),
// sets lightmeter.device.store's commit hook to board.flash_sync (when that module exists), changes to
// /flash and awaits `run(uart, "/flash")` of --module.
// Durability: a change reaches --root when flash_sync is called for it. When the program ends, on
// SIGTERM, and when the host closes the line (end of input on --rx-fd), the whole of /flash is
// mirrored to --root before exiting; only SIGKILL (a power cut) loses unsynced changes.
// Output of the device (print, tracebacks) goes to stderr; nothing but UART bytes reaches --tx-fd.
// Exit status: 0 when run() returns or the host goes away, 1 if it raised, 2 for a runner error.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { boardArgs, loadPort } from "./board_args.mjs";
import { Sink, TMP_SUFFIX, copyMounts, copyTree, writeAtomic } from "../runtimes/mp_fs.mjs";

const FLASH = "/flash";
const USAGE = "usage: node board_runner.mjs --port MJS --root HOSTDIR --rx-fd N --tx-fd M " +
  "[--module M] [--heap BYTES] [--mount HOSTDIR=MPDIR]... [--path MPDIR]...";

function die(msg) {
  process.stderr.write(`board_runner: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = boardArgs(argv, USAGE, die, { module: "lightmeter.device.app", mounts: [], paths: [] }, (a, v, o) => {
    switch (a) {
      case "--module": o.module = v; return true;
      case "--path": o.paths.push(v); return true;
      case "--mount": {
        const k = v.lastIndexOf("=");  // MicroPython paths have no "=", host paths might
        if (k <= 0 || k === v.length - 1) die(`--mount wants HOSTDIR=MPDIR, got ${JSON.stringify(v)}`);
        o.mounts.push([v.slice(0, k), v.slice(k + 1)]);
        return true;
      }
      default: return false;
    }
  });
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(o.module)) die(`--module: not a module name: ${o.module}`);
  return o;
}

// Make the host copy of MEMFS path mp (absolute, under /flash) equal to it: file, tree, or gone.
function mirror(FS, mp, host) {
  const info = FS.analyzePath(mp);
  if (!info.exists) { fs.rmSync(host, { recursive: true, force: true }); return; }
  const mode = FS.stat(mp).mode;
  if (FS.isFile(mode)) {
    if (fs.existsSync(host) && fs.lstatSync(host).isDirectory()) fs.rmSync(host, { recursive: true });
    writeAtomic(host, FS.readFile(mp));
    return;
  }
  if (!FS.isDir(mode)) return;
  if (fs.existsSync(host) && !fs.lstatSync(host).isDirectory()) fs.rmSync(host);
  fs.mkdirSync(host, { recursive: true });
  const names = FS.readdir(mp).filter((n) => n !== "." && n !== "..");
  for (const n of names) mirror(FS, mp + "/" + n, path.join(host, n));
  const keep = new Set(names);
  for (const n of fs.readdirSync(host)) {
    if (!keep.has(n)) fs.rmSync(path.join(host, n), { recursive: true, force: true });
  }
}

const PROLOGUE = (o, mpPaths) => `
import sys, os, binascii
sys.path[:0] = ${JSON.stringify(mpPaths)}
import board

class Uart:
    """The device's UART: read() -> the bytes received so far (b"" if none), write(data)."""

    def read(self):
        h = board.uart_read()
        return binascii.unhexlify(h) if h else b""

    def write(self, data):
        if data:
            board.uart_write(binascii.hexlify(data).decode())
        return len(data)

try:
    import lightmeter.device.store as _store
    _store.set_commit_hook(board.flash_sync)
    del _store
except (ImportError, AttributeError):
    pass
os.chdir(${JSON.stringify(FLASH)})
_device = __import__(${JSON.stringify(o.module)}, None, None, ["run"])
`;

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const loadMicroPython = await loadPort(o, die);

  const log = new Sink(process.stderr);
  const opts = {
    linebuffer: false,
    stdout: (b) => { for (const c of b) log.put(c); },
    stderr: (b) => { for (const c of b) log.put(c); },
    stdin: () => null,  // never read the real fd 0
  };
  if (o.heap !== null) opts.heapsize = o.heap;
  const mp = await loadMicroPython(opts);
  const FS = mp.FS;
  copyMounts(FS, o.mounts, die);
  copyTree(FS, o.root, FLASH, { keep: (name) => !name.endsWith(TMP_SUFFIX) });

  let ended = false;
  const finish = (code) => {
    if (ended) return;
    ended = true;
    log.flush();
    try {
      mirror(FS, FLASH, o.root);
    } catch (e) {
      process.stderr.write(`board_runner: saving /flash to ${o.root} failed: ${e.message}\n`);
      if (code === 0) code = 2;
    }
    process.exit(code);
  };
  process.on("SIGTERM", () => finish(0));

  const rxBuf = Buffer.alloc(65536);
  const hostPath = (p) => {
    const abs = path.posix.resolve(FS.cwd(), String(p));
    if (abs === FLASH) return [abs, o.root];
    if (!abs.startsWith(FLASH + "/")) return [abs, null];
    return [abs, path.join(o.root, ...abs.slice(FLASH.length + 1).split("/"))];
  };
  mp.registerJsModule("board", {
    uart_read: () => {
      let hex = "";
      for (;;) {
        let n;
        try {
          n = fs.readSync(o.rx, rxBuf, 0, rxBuf.length, null);
        } catch (e) {
          if (e.code === "EAGAIN") break;
          throw e;
        }
        if (n === 0) finish(0);  // the host closed the line: the board is being taken down
        hex += rxBuf.toString("hex", 0, n);
        if (n < rxBuf.length) break;
      }
      return hex;
    },
    uart_write: (hex) => {
      const data = Buffer.from(String(hex), "hex");
      let off = 0;
      while (off < data.length) {
        try {
          off += fs.writeSync(o.tx, data, off, data.length - off);
        } catch (e) {
          if (e.code === "EPIPE") finish(0);
          if (e.code !== "EAGAIN") throw e;
        }
      }
      return data.length;
    },
    random: (n) => new Uint8Array(crypto.randomBytes(Number(n))),
    flash_sync: (paths) => {
      let list = mp.PyProxy.toJs(paths);
      if (typeof list === "string") list = [list];
      else if (!Array.isArray(list)) list = Array.from(list);
      for (const p of list) {
        const [abs, host] = hostPath(p);
        if (host === null) {
          process.stderr.write(`board_runner: flash_sync: ${abs} is not under ${FLASH}, not saved\n`);
          continue;
        }
        mirror(FS, abs, host);
      }
    },
  });

  const mpPaths = o.paths.concat(["/lib"]);
  let code = 0;
  try {
    mp.runPython(PROLOGUE(o, mpPaths));
    await mp.runPythonAsync(`await _device.run(Uart(), ${JSON.stringify(FLASH)})\n`);
  } catch (e) {
    log.flush();
    if (!e || e.name !== "PythonError") {
      const what = e && e.stack ? String(e.stack).split("\n").slice(0, 3).join(" | ") : String(e);
      process.stderr.write(`board_runner: MicroPython runtime failure: ${what}\n`);
      code = 2;
    } else if (e.type === "SystemExit") {
      const last = e.message.trimEnd().split("\n").pop();
      const m = /^SystemExit(?::\s?(-?[0-9]+))?$/.exec(last);
      code = m && m[1] !== undefined ? parseInt(m[1], 10) & 0xff : 0;
    } else {
      process.stderr.write(e.message.endsWith("\n") ? e.message : e.message + "\n");
      code = 1;
    }
  }
  finish(code);
}

main().catch((e) => die(`internal error: ${e && e.message ? e.message : e}`));
