// Shared by the MicroPython runners (mp_runner.mjs, board_runner.mjs): the port's in-memory
// filesystem filled from host trees, and its output gathered into whole lines.
import fs from "node:fs";
import path from "node:path";

// MicroPython writes one byte per call (linebuffer: false keeps output binary-safe and loses no
// partial last line); gather bytes and write whole lines, or 64 KiB chunks of one very long line.
export class Sink {
  constructor(stream) { this.stream = stream; this.buf = Buffer.alloc(65536); this.n = 0; }
  put(byte) {
    this.buf[this.n++] = byte;
    if (byte === 10 || this.n === this.buf.length) this.flush();
  }
  flush() {
    // Pipes and files are written synchronously by Node on Linux, so nothing is lost on exit.
    if (this.n) { this.stream.write(Buffer.from(this.buf.subarray(0, this.n))); this.n = 0; }
  }
}

export function mkdirp(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    try { FS.mkdir(cur); } catch (e) { if (!FS.analyzePath(cur).exists) throw e; }
  }
}

// Source trees bring their .py and .json files, never caches or hidden entries.
export const SOURCE = {
  skip: (name) => name === "__pycache__" || name.startsWith("."),
  keep: (name) => /\.(py|json)$/.test(name),
};

// Copy the host tree src into the port's FS at dst: entries `skip` names are left out, and of the
// files only those `keep` accepts.
export function copyTree(FS, src, dst, { skip = () => false, keep = () => true } = {}) {
  mkdirp(FS, dst);
  for (const ent of fs.readdirSync(src, { withFileTypes: true })) {
    if (skip(ent.name)) continue;
    const s = path.join(src, ent.name), d = dst.replace(/\/$/, "") + "/" + ent.name;
    if (ent.isDirectory()) copyTree(FS, s, d, { skip, keep });
    else if (ent.isFile() && keep(ent.name)) FS.writeFile(d, fs.readFileSync(s));
  }
}
