// mp_runner.mjs — run a script on real MicroPython (the official WebAssembly port from npm) under Node.
//
//   node mp_runner.mjs [--port MICROPYTHON.MJS] [--heap BYTES] [--pystack WORDS]
//                      [--mount HOSTDIR=MPDIR]... [--file HOSTFILE=MPPATH]... [--path MPDIR]...
//                      [--stdin] [--heap-report] (--run MPFILE.py | --code CODE) [-- ARG...]
//
// Host files are invisible to the port, so --mount copies a host tree (only .py and .json files,
// no __pycache__) into its in-memory filesystem and --file copies one file of any kind; parent
// directories are created as needed. sys.path becomes: the script's directory (as CPython does),
// then the --path entries in order, then the port's own ('', '.frozen', '/lib').
// The code runs with runPythonAsync, so top-level `await` works; each await returns to the JS
// event loop, which is the only moment this port's garbage collector runs (see micropython.py).
// Exit status: 0 on success, 1 if Python raised (traceback on stderr), SystemExit's code if the
// script exits, 2 for a usage error or a crash of the runtime itself.
// --stdin reads all of the runner's stdin into /stdin and serves it as sys.stdin; without it
// sys.stdin is empty (never block on an inherited terminal or pipe).
// --heap-report adds one last stderr line `mp_runner:heap {json}` telling whether the GC heap had
// to grow beyond --heap while the code ran (see min_heap in micropython.py for the method).

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Sink, copyMounts, mkdirp } from "./mp_fs.mjs";

const USAGE = "usage: node mp_runner.mjs [--port MJS] [--heap BYTES] [--pystack WORDS] " +
  "[--mount HOSTDIR=MPDIR]... [--file HOSTFILE=MPPATH]... [--path MPDIR]... [--stdin] " +
  "[--heap-report] (--run MPFILE.py | --code CODE) [-- ARG...]";

function die(msg) {
  process.stderr.write(`mp_runner: ${msg}\n`);
  process.exit(2);
}

const VALUED = ["--port", "--heap", "--pystack", "--mount", "--file", "--path", "--run", "--code"];

function parseArgs(argv) {
  const o = { port: null, heap: null, pystack: null, mounts: [], files: [], paths: [],
    stdin: false, heapReport: false, run: null, code: null, args: [] };
  const pair = (v, flag) => {
    const i = v.lastIndexOf("=");  // MicroPython paths have no "=", host paths might
    if (i <= 0 || i === v.length - 1) die(`${flag} wants HOST=MPPATH, got ${JSON.stringify(v)}`);
    return [v.slice(0, i), v.slice(i + 1)];
  };
  const int = (v, flag) => {
    if (!/^[0-9]+$/.test(v)) die(`${flag} wants a positive integer, got ${JSON.stringify(v)}`);
    return parseInt(v, 10);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { o.args = argv.slice(i + 1); break; }
    if (a === "--stdin") { o.stdin = true; continue; }
    if (a === "--heap-report") { o.heapReport = true; continue; }
    if (a === "-h" || a === "--help") { process.stdout.write(USAGE + "\n"); process.exit(0); }
    if (!VALUED.includes(a)) die(`unknown option ${a}\n${USAGE}`);
    if (i + 1 >= argv.length) die(`${a} needs a value\n${USAGE}`);
    const v = argv[++i];
    switch (a) {
      case "--port": o.port = v; break;
      case "--heap": o.heap = int(v, a); break;
      case "--pystack": o.pystack = int(v, a); break;
      case "--mount": o.mounts.push(pair(v, a)); break;
      case "--file": o.files.push(pair(v, a)); break;
      case "--path": o.paths.push(v); break;
      case "--run": o.run = v; break;
      case "--code": o.code = v; break;
    }
  }
  if ((o.run === null) === (o.code === null)) die(`give exactly one of --run or --code\n${USAGE}`);
  return o;
}

// The exit code SystemExit asked for, from the last line of its traceback ("SystemExit: 3").
function systemExitCode(message, err) {
  const last = message.trimEnd().split("\n").pop();
  const m = /^SystemExit(?::\s?(.*))?$/.exec(last);
  const arg = m && m[1] !== undefined ? m[1] : "";
  if (arg === "" || arg === "None") return 0;
  if (/^-?[0-9]+$/.test(arg)) return parseInt(arg, 10) & 0xff;
  err.flush();
  process.stderr.write(arg + "\n");  // sys.exit("message"): print it and fail, as CPython does
  return 1;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const portUrl = o.port ? pathToFileURL(path.resolve(o.port)).href
    : "@micropython/micropython-webassembly-pyscript";
  let loadMicroPython;
  try {
    ({ loadMicroPython } = await import(portUrl));
  } catch (e) {
    die(`cannot load the MicroPython WebAssembly port (${o.port || portUrl}): ${e.message}; ` +
      "run `make setup` (npm ci)");
  }

  let stdinData = Buffer.alloc(0);
  if (o.stdin) {
    try {
      stdinData = fs.readFileSync(0);
    } catch (e) {
      if (e.code !== "EOF" && e.code !== "EAGAIN") die(`reading stdin: ${e.message}`);
    }
  }
  let stdinPos = 0;

  const out = new Sink(process.stdout), err = new Sink(process.stderr);
  const opts = {
    linebuffer: false,
    stdout: (b) => { for (const c of b) out.put(c); },
    stderr: (b) => { for (const c of b) err.put(c); },
    // Always answer stdin ourselves: the Emscripten default would block reading the real fd 0.
    stdin: () => (stdinPos < stdinData.length ? stdinData[stdinPos++] : null),
  };
  if (o.heap !== null) opts.heapsize = o.heap;
  if (o.pystack !== null) opts.pystack = o.pystack;
  const mp = await loadMicroPython(opts);
  const FS = mp.FS;

  copyMounts(FS, o.mounts, die);
  for (const [host, dst] of o.files) {
    if (!fs.existsSync(host) || !fs.statSync(host).isFile()) die(`--file: ${host} is not a file`);
    mkdirp(FS, path.posix.dirname(dst));
    FS.writeFile(dst, fs.readFileSync(host));
  }
  if (o.stdin) FS.writeFile("/stdin", stdinData);

  let source = o.code;
  if (o.run !== null) {
    if (!FS.analyzePath(o.run).exists) die(`--run: ${o.run} is not in MicroPython's filesystem (mount it)`);
    source = FS.readFile(o.run, { encoding: "utf8" });
  }

  // Prologue, in __main__ (the namespace the script then runs in).
  const front = (o.run !== null ? [path.posix.dirname(o.run)] : []).concat(o.paths);
  const setup = {
    path: front, argv: [o.run !== null ? o.run : "-c"].concat(o.args),
    file: o.run,
  };
  let prologue = "import sys\n" +
    `_mp_setup = ${JSON.stringify(JSON.stringify(setup))}\n` +
    "import json as _mp_json\n_mp_setup = _mp_json.loads(_mp_setup)\n" +
    "sys.path[:0] = _mp_setup['path']\nsys.argv[:] = _mp_setup['argv']\n" +
    "if _mp_setup['file']:\n    __file__ = _mp_setup['file']\n" +
    "del _mp_setup, _mp_json\n";
  if (o.heapReport) {
    // Taken in its own top-level call: no split heap area exists yet if --heap covers startup.
    prologue += "import gc as _mp_gc\n_mp_heap_end = 0\n" +
      "_mp_heap_start = _mp_gc.mem_alloc() + _mp_gc.mem_free()\n";
    // Appended on new lines, so tracebacks keep the script's own line numbers. It runs in the
    // same top-level call as the script: no sweep can have freed a grown area since.
    source += "\n_mp_heap_end = _mp_gc.mem_alloc() + _mp_gc.mem_free()\n";
  }

  let code = 0, awaited = false;
  try {
    mp.runPython(prologue);
    const ret = mp.runPythonAsync(source);
    if (ret && typeof ret.then === "function") { awaited = true; await ret; }
  } catch (e) {
    if (!e || e.name !== "PythonError") {
      out.flush(); err.flush();
      // Short: Node's own report of a wasm trap would print the whole minified port.
      const what = e && e.stack ? String(e.stack).split("\n").slice(0, 3).join(" | ") : String(e);
      die(`MicroPython runtime failure: ${what}`);
    }
    // The port names the top-level source "<stdin>"; name the script instead.
    const message = o.run === null ? e.message : e.message.split('File "<stdin>"').join(`File "${o.run}"`);
    if (e.type === "SystemExit") code = systemExitCode(message, err);
    else {
      out.flush(); err.flush();
      process.stderr.write(message.endsWith("\n") ? message : message + "\n");
      code = 1;
    }
  }
  out.flush(); err.flush();

  if (o.heapReport) {
    const start = mp.globals.get("_mp_heap_start"), end = mp.globals.get("_mp_heap_end");
    // gc.mem_free() counts the room for new split areas too (a constant in this port), so the
    // two sums differ exactly when an area was added during the run.
    const report = { heapsize: o.heap, start, end, ok: code === 0 && end !== 0, awaited,
      grew: end !== start };
    process.stderr.write(`mp_runner:heap ${JSON.stringify(report)}\n`);
  }
  exitAfterOutput(code);
}

// Exit once everything written so far has reached stdout and stderr: a write's callback runs after
// the writes queued before it, and a bare process.exit() can drop the tail of a large output to a
// pipe whose reader is slow (seen on a loaded machine).
function exitAfterOutput(code) {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

main().catch((e) => die(`internal error: ${e && e.message ? e.message : e}`));
