// board_repl.mjs — a virtual board whose UART is MicroPython's own REPL, as on a USB-connected
// ESP32 running stock MicroPython: friendly REPL, raw REPL, raw-paste, soft reset. Tools that
// speak to real boards (mpremote, pyboard.py, a terminal) work on it unchanged.
//
//   node board_repl.mjs --port MICROPYTHON.MJS --root HOSTDIR --rx-fd N --tx-fd M
//                       [--flash-size BYTES] [--heap BYTES]
//
// lightmeter_host/vboard/board.py starts this and moves bytes between the two pipes and the pseudo-terminal.
// Every byte received goes to the port's event-driven REPL (replProcessChar); everything the REPL
// and the running code print (stdout and stderr, as on a board) goes back on --tx-fd. This
// process's own stderr is the board's log.
//
// What the port does not do and this file adds (behaviour of shared/runtime/pyexec.c and
// ports/esp32/main.c in micropython/micropython):
// - Raw-paste (Ctrl-E 'A' Ctrl-A on the raw prompt): the port's own reader would read stdin
//   through mp_hal_stdin_rx_chr, which this port defines as 0, and hang. Here the host gets
//   "R\x01", the window (128 bytes, little-endian u16) and a first 0x01; each 128 bytes taken
//   earn another 0x01; Ctrl-D ends the data and is answered 0x04; the code then runs as a raw
//   REPL command, whose "OK" (raw-paste sends none) is held back.
// - Soft reset (Ctrl-D on an empty raw line, or on an empty friendly line, or SystemExit): the port
//   only prints "OK\r\n" (raw) or "\r\n". Here the flash is saved, "MPY: soft reboot\r\n" is
//   sent, the interpreter is thrown away and a fresh one is loaded (new heap, globals and
//   modules) on the same filesystem; boot.py runs, then main.py too if the friendly REPL was
//   active; then the raw REPL banner "raw REPL; CTRL-B to exit\r\n>" or the friendly banner.
//   Power-on is the same without the "soft reboot" line, in the friendly REPL.
// - The flash (mp_fs.mjs Flash): the device's "/" is the port's in-memory root, filled from
//   --root at power-on, written back to --root after each REPL byte that changed it (so after
//   every completed command), on SIGTERM and when the host closes the line.
// - The JS module `board`: random(n) (the host's CSPRNG; this port has no os.urandom) and
//   flash_sync(paths) (saves the flash now; the firmware store's commit hook).
// Not emulated: Ctrl-C cannot interrupt running code (the interpreter runs on this thread; bytes
// wait until it returns to the prompt), so a main.py that never returns keeps the board busy;
// code reading sys.stdin (input()) sees the end of input, not the UART; there is no `machine`
// module (machine.reset() fails; VirtualBoard.restart() is the hard reset).
// Exit status: 0 on SIGTERM or when the host closes the line, 2 for a runner error.

import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import { boardArgs, loadPort, wholeNumber } from "./board_args.mjs";
import { Flash } from "../runtimes/mp_fs.mjs";

const USAGE = "usage: node board_repl.mjs --port MJS --root HOSTDIR --rx-fd N --tx-fd M " +
  "[--flash-size BYTES] [--heap BYTES]";
const CTRL_A = 1, CTRL_B = 2, CTRL_C = 3, CTRL_D = 4, CTRL_E = 5;
const FORCED_EXIT = 0x100;        // PYEXEC_FORCED_EXIT (shared/runtime/pyexec.h)
const PASTE_WINDOW = 128;         // MICROPY_REPL_STDIN_BUFFER_MAX / 2, as pyexec.c offers it
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n";
const OUT_CHUNK = 512;            // bytes of output gathered before they go out mid-command

function die(msg) {
  process.stderr.write(`board_repl: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  return boardArgs(argv, USAGE, die, { flashSize: null }, (a, v, o) => {
    if (a !== "--flash-size") return false;
    o.flashSize = wholeNumber(v, a, die);
    return true;
  });
}

// Device-side start-up of each interpreter (sys.path is already MicroPython's board default:
// '', '.frozen', '/lib'; the working directory is "/").
const START = `
def _start():
    import os
    # VfsPosix lists (name, type, inode); a board's littlefs lists (name, type, inode, size),
    # which tools such as mpremote's ls show.
    listdir = os.ilistdir

    def ilistdir(path="."):
        for entry in listdir(path):
            size = 0
            if entry[1] == 0x8000:
                size = os.stat((path.rstrip("/") + "/" if path not in ("", ".") else "") + entry[0])[6]
            yield (entry[0], entry[1], entry[2], size)
    os.ilistdir = ilistdir
_start()
del _start
`;

// boot.py / main.py run in __main__ like pyexec_file; a traceback is printed, not fatal.
const RUN_FILE = (name) => `
def _run(name):
    import os
    try:
        if not os.stat(name)[0] & 0x8000:
            return
    except OSError:
        return
    with open(name) as f:
        src = f.read()
    exec(compile(src, name, "exec"), globals())
try:
    _run(${JSON.stringify(name)})
finally:
    del _run
`;

class Board {
  constructor(o, loadMicroPython) {
    this.o = o;
    this.load = loadMicroPython;
    this.flash = new Flash(o.root, o.flashSize);
    this.mp = null;
    this.out = [];            // output waiting to go to --tx-fd
    this.hold = null;         // bytes of output to swallow if they come next ("OK" after a paste)
    this.raw = false;         // which REPL is active (the port keeps its own copy)
    this.rawHead = [];        // first two bytes of the current raw line, and its length
    this.rawLen = 0;
    this.paste = null;        // {data: [], taken: n} while a raw-paste is being received
    this.pasteSource = "";    // code handed over through board._source()
    this.queue = [];
    this.busy = false;
  }

  put(byte) {
    if (this.hold !== null) {
      if (byte === this.hold[0]) {
        this.hold = this.hold.length > 1 ? this.hold.slice(1) : null;
        return;
      }
      this.hold = null;
    }
    this.out.push(byte);
    if (this.out.length >= OUT_CHUNK) this.flushOut();
  }

  send(text) {
    for (const b of Buffer.from(text, "latin1")) this.out.push(b);
  }

  flushOut() {
    if (!this.out.length) return;
    const data = Buffer.from(this.out);
    this.out = [];
    let off = 0;
    while (off < data.length) {
      try {
        off += fs.writeSync(this.o.tx, data, off, data.length - off);
      } catch (e) {
        if (e.code === "EPIPE") this.finish(0);
        if (e.code !== "EAGAIN") throw e;
      }
    }
  }

  // A fresh interpreter on the same flash: power-on (first call) or soft reset.
  async boot() {
    const sink = (b) => { for (const c of b) this.put(c); };
    const opts = { linebuffer: false, stdout: sink, stderr: sink, stdin: () => null };
    if (this.o.heap !== null) opts.heapsize = this.o.heap;
    const mp = await this.load(opts);
    this.flash.attach(mp);
    mp.registerJsModule("board", {
      random: (n) => new Uint8Array(crypto.randomBytes(Number(n))),
      flash_sync: () => { this.flash.sync(); },
      _source: () => this.pasteSource,
    });
    mp.runPython(START);
    this.mp = mp;  // the old instance is dropped only now, after the new one took the globals
    this.runFile("boot.py");
    if (!this.raw) this.runFile("main.py");
    this.flushOut();
    mp.replInit();  // prints the friendly banner
    if (this.raw) {
      this.mp.replProcessChar(CTRL_A);  // into the port's raw REPL, whose "\r\n" + banner + ">"
      this.out.length = 0;              // differ from a board's: sent below instead
      this.send(RAW_BANNER + ">");
      this.rawLen = 0;
    } else if (this.out[0] === 13 && this.out[1] === 10) {
      this.out.splice(0, 2);  // a board's banner starts its line after "soft reboot\r\n"
    }
    this.flash.sync();
    this.flushOut();
  }

  runFile(name) {
    try {
      this.mp.runPython(RUN_FILE(name));
    } catch (e) {
      if (!e || e.name !== "PythonError") throw e;
      if (e.type !== "SystemExit") this.send(e.message);
    }
    this.flash.sync();
  }

  async softReset() {
    this.flushOut();
    this.flash.sync();
    this.send("MPY: soft reboot\r\n");
    process.stderr.write("board: soft reboot\n");
    await this.boot();
  }

  // One byte into the port's REPL; returns true if it asked for a soft reset.
  feed(c) {
    const ret = this.mp.replProcessChar(c);
    if (this.flash.dirty) this.flash.sync();
    return (ret & FORCED_EXIT) !== 0;
  }

  async take(c) {
    if (this.paste) {
      if (c === CTRL_D || c === CTRL_C) {
        this.send("\x04");  // end of data acknowledged
        const data = this.paste.data;
        this.paste = null;
        return this.runPasted(c === CTRL_C ? Buffer.from("raise KeyboardInterrupt") : Buffer.from(data));
      }
      this.paste.data.push(c);
      if (++this.paste.taken % PASTE_WINDOW === 0) this.send("\x01");  // another window is free
      return false;
    }
    if (this.raw) {
      if (c === CTRL_A && this.rawLen === 2 && this.rawHead[0] === CTRL_E && this.rawHead[1] === 0x41) {
        this.feed(CTRL_C);  // clear the port's raw line ("\x05A"), silently
        this.rawLen = 0;
        this.paste = { data: [], taken: 0 };
        this.send("R\x01" + String.fromCharCode(PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8) + "\x01");
        return false;
      }
      if (c === CTRL_A || c === CTRL_C || c === CTRL_D) this.rawLen = 0;
      else if (c === CTRL_B) { this.raw = false; this.rawLen = 0; }
      else { if (this.rawLen < 2) this.rawHead[this.rawLen] = c; this.rawLen++; }
      return this.feed(c);
    }
    if (c === CTRL_A) this.flushOut();  // so that what this byte prints is all of this.out
    const reset = this.feed(c);
    if (c === CTRL_A && Buffer.from(this.out).toString("latin1").includes(RAW_BANNER)) {
      this.raw = true;
      this.rawLen = 0;
    }
    return reset;
  }

  // Run pasted code as a raw REPL command: output, 0x04, error output, 0x04, prompt.
  runPasted(code) {
    let src = code.length ? code : Buffer.from("\n");
    if (src.includes(CTRL_A) || src.includes(CTRL_B)) {
      // The raw line cannot carry these bytes: hand the source over through the board module.
      this.pasteSource = src.toString("utf8");
      src = Buffer.from("exec(compile(__import__('board')._source(), '<stdin>', 'exec'))");
    }
    for (const b of src) this.feed(b);
    this.hold = [0x4f, 0x4b];  // "OK": the raw REPL's reply to Ctrl-D, which raw-paste does not send
    const reset = this.feed(CTRL_D);
    this.hold = null;
    this.pasteSource = "";
    return reset;
  }

  receive(chunk) {
    for (const b of chunk) this.queue.push(b);
    if (!this.busy) this.pump().catch((e) => {
      process.stderr.write(`board_repl: ${e && e.stack ? e.stack : e}\n`);
      this.finish(2);
    });
  }

  async pump() {
    this.busy = true;
    try {
      let i = 0;
      while (i < this.queue.length) {
        const reset = await this.take(this.queue[i++]);
        if (reset) {
          this.queue.splice(0, i);
          i = 0;
          await this.softReset();
        }
      }
      this.queue.length = 0;
    } finally {
      this.busy = false;
      this.flushOut();
    }
  }

  finish(code) {
    if (this.ended) return;
    this.ended = true;
    try {
      this.flushOut();
    } catch (e) { /* the host is gone */ }
    try {
      if (this.mp) this.flash.sync();
    } catch (e) {
      process.stderr.write(`board_repl: saving the flash to ${this.o.root} failed: ${e.message}\n`);
      if (code === 0) code = 2;
    }
    process.exit(code);
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const loadMicroPython = await loadPort(o, die);
  const board = new Board(o, loadMicroPython);
  process.on("SIGTERM", () => board.finish(0));
  try {
    await board.boot();
  } catch (e) {
    die(`power-on failed: ${e && e.message ? e.message : e}`);
  }
  process.stderr.write(`board: MicroPython REPL on the UART, flash ${o.root}` +
    (o.flashSize === null ? "" : ` (${o.flashSize} bytes)`) + "\n");
  const rx = new net.Socket({ fd: o.rx, readable: true, writable: false });
  rx.on("data", (chunk) => board.receive(chunk));
  rx.on("end", () => board.finish(0));  // the host closed the line: the board is being taken down
  rx.on("error", (e) => { process.stderr.write(`board_repl: UART: ${e.message}\n`); board.finish(2); });
}

main().catch((e) => die(`internal error: ${e && e.message ? e.message : e}`));
