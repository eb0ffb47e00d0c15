// Shared by the MicroPython runners (mp_runner.mjs, board_runner.mjs, board_repl.mjs): the port's
// in-memory filesystem filled from host trees and saved back to them, its output gathered into
// whole lines, and (Flash) the emulated flash chip of a REPL board.
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
    // Written in order; the runner exits only after the last write has gone out.
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

// The runners' --mount HOSTDIR=MPDIR pairs: each host tree's source files into the port's FS.
export function copyMounts(FS, mounts, die) {
  for (const [host, dst] of mounts) {
    if (!fs.existsSync(host) || !fs.statSync(host).isDirectory()) die(`--mount: ${host} is not a directory`);
    copyTree(FS, host, dst, SOURCE);
  }
}

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

// Host-side temporary files of an atomic write; never device files.
export const TMP_SUFFIX = ".~board";

// Write a host file so that a crash leaves the old content or the new, never a mix.
export function writeAtomic(host, data) {
  fs.mkdirSync(path.dirname(host), { recursive: true });
  const tmp = host + TMP_SUFFIX;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, host);
}

// --- The flash of a REPL board (board_repl.mjs) ---
//
// The device's filesystem is the port's own in-memory root (MEMFS "/", which MicroPython sees
// through its VfsPosix mounted at "/"), emptied of Emscripten's /tmp, /home and /dev and with
// /proc hidden, so the device's "/" holds its files and nothing else. (A VfsPosix with a root
// directory would have been simpler, but its rename() builds both paths in one buffer and
// renames the destination onto itself.) This port has no VfsLfs2 or VfsFat (only VfsPosix is
// compiled in), so the flash chip is emulated at the MEMFS level:
// - capacity: with a size, space is counted in 4096-byte blocks the way littlefs spends them
//   (2 blocks for the root metadata pair, 2 per directory, ceil(size / 4096) per file); a write,
//   truncate or mkdir that would need more blocks than the chip has fails with errno 28 (ENOSPC),
//   the number MicroPython's littlefs driver raises (LFS_ERR_NOSPC is -28), and os.statvfs
//   reports (bsize, frsize, blocks, bfree, bavail, 0, 0, 0, 0, 255) as VfsLfs2 does.
// - errno numbers: Emscripten's FS throws WASI numbers (ENOENT is 44); the device must see the
//   numbers MicroPython boards use (Linux/littlefs: ENOENT 2, EEXIST 17...), so errors leaving
//   an outermost FS call are renumbered by name.
// - durability: every change marks the file, and sync() copies what changed since the last
//   sync to the host directory (atomic file writes, removals), so the host directory is the
//   device's "/" file for file.
export const BLOCK = 4096;

// Linux errno values (include/uapi/asm-generic/errno-base.h and errno.h), by name.
const LINUX_ERRNO = { EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23,
  EMFILE: 24, ENOTTY: 25, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31,
  ENAMETOOLONG: 36, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, EOPNOTSUPP: 95 };

// The FS calls MicroPython's VfsPosix reaches through Emscripten's syscalls.
const FS_CALLS = ["open", "close", "read", "write", "llseek", "stat", "lstat", "fstat", "mkdir",
  "rmdir", "unlink", "rename", "readdir", "truncate", "ftruncate", "statfs", "statfsStream",
  "chdir", "utime", "readlink", "chmod"];

const blocksOf = (bytes) => Math.ceil(bytes / BLOCK);

export class Flash {
  // host: the host directory mirrored; size: bytes of flash, or null for no limit.
  constructor(host, size) {
    this.host = host;
    this.total = size === null ? null : Math.floor(size / BLOCK);
    this.synced = new Map();  // device path -> [node, version] as last written to the host
    this.dirty = false;
    this.FS = null;
    this.root = null;         // MEMFS root node of the flash mount
  }

  // Make the root of a fresh port instance `mp` the flash; its content comes from the previous
  // instance's flash (a soft reset keeps the filesystem) or, the first time, from the host dir.
  attach(mp) {
    const FS = mp.FS;
    const MEMFS = FS.filesystems.MEMFS;
    const prev = this.FS ? { FS: this.FS, root: this.root } : null;
    for (const name of FS.readdir("/")) {
      if (name === "." || name === "..") continue;
      if (name === "proc") {
        // /proc/self/fd is a mount that cannot be undone: take /proc out of the root's listing
        // and lookups instead (the port itself never opens it).
        const node = FS.lookupPath("/proc").node;
        FS.hashRemoveNode(node);
        delete FS.root.contents.proc;
      } else {
        removeTree(FS, "/" + name);
      }
    }
    this.FS = FS;
    this.root = FS.root;
    this._hook(FS, MEMFS);
    if (prev) {
      this._copyFrom(prev.FS, "", "");
      this.synced.clear();
      this._walk((p, node) => { this.synced.set(p, [node, node.lmVersion || 0]); });
      this.dirty = false;
    } else {
      const total = this.total;
      this.total = null;  // the host directory is what the chip holds; check it as a whole below
      copyTree(FS, this.host, "/", { keep: (name) => !name.endsWith(TMP_SUFFIX) });
      this.total = total;
      this._walk((p, node) => { this.synced.set(p, [node, node.lmVersion || 0]); });
      this.dirty = false;
      if (this.total !== null && this.used() > this.total) {
        throw new Error(`${this.host} holds ${this.used()} blocks of ${BLOCK} bytes, more than the ` +
          `${this.total} of the flash`);
      }
    }
  }

  onFlash(node) { return node && node.mount === this.root.mount; }

  // Blocks in use, as littlefs would count them.
  used() {
    let n = 2;
    const visit = (node) => {
      for (const child of Object.values(node.contents)) {
        if (this.FS.isDir(child.mode)) { n += 2; visit(child); }
        else if (this.FS.isFile(child.mode)) n += blocksOf(child.usedBytes);
      }
    };
    visit(this.root);
    return n;
  }

  _need(extra) {
    if (this.total !== null && extra > 0 && this.used() + extra > this.total) {
      const e = new this.FS.ErrnoError(LINUX_ERRNO.ENOSPC);
      e.linux = true;  // already in the device's numbering
      throw e;
    }
  }

  _mark(node) {
    if (this.onFlash(node)) {
      node.lmVersion = (node.lmVersion || 0) + 1;
      this.dirty = true;
    }
  }

  _hook(FS, MEMFS) {
    const flash = this;
    const fileStream = MEMFS.ops_table.file.stream;
    const write = fileStream.write;
    fileStream.write = function (stream, buffer, offset, length, position, canOwn) {
      const node = stream.node;
      if (flash.onFlash(node)) {
        const end = position + length;
        if (end > node.usedBytes) flash._need(blocksOf(end) - blocksOf(node.usedBytes));
      }
      const n = write.call(this, stream, buffer, offset, length, position, canOwn);
      flash._mark(node);
      return n;
    };
    for (const kind of Object.keys(MEMFS.ops_table)) {
      const ops = MEMFS.ops_table[kind].node;
      const setattr = ops.setattr;
      ops.setattr = function (node, attr) {
        if (flash.onFlash(node) && attr.size !== undefined && FS.isFile(node.mode)) {
          flash._need(blocksOf(attr.size) - blocksOf(node.usedBytes));
        }
        const r = setattr.call(this, node, attr);
        if (attr.size !== undefined) flash._mark(node);
        return r;
      };
      ops.statfs = () => flash._statfs();
    }
    const dirOps = MEMFS.ops_table.dir.node;
    const mknod = dirOps.mknod;
    dirOps.mknod = function (parent, name, mode, dev) {
      if (flash.onFlash(parent) && FS.isDir(mode)) flash._need(2);
      const node = mknod.call(this, parent, name, mode, dev);
      flash._mark(parent);
      return node;
    };
    for (const op of ["rename", "unlink", "rmdir"]) {
      const orig = dirOps[op];
      dirOps[op] = function (node, ...rest) {
        const r = orig.call(this, node, ...rest);
        flash._mark(node);
        if (op === "rename") flash._mark(rest[0]);
        return r;
      };
    }
    // Renumber errors leaving the outermost FS call (the syscall boundary) into Linux values.
    const byWasi = new Map();
    for (const [name, wasi] of Object.entries(FS.ErrnoError ? errnoCodes(FS) : {})) {
      if (LINUX_ERRNO[name] !== undefined && !byWasi.has(wasi)) byWasi.set(wasi, LINUX_ERRNO[name]);
    }
    let depth = 0;
    for (const name of FS_CALLS) {
      const orig = FS[name];
      FS[name] = function (...args) {
        depth++;
        try {
          return orig.apply(this, args);
        } catch (e) {
          if (depth === 1 && e && e.name === "ErrnoError" && !e.linux) {
            const linux = new FS.ErrnoError(byWasi.has(e.errno) ? byWasi.get(e.errno) : LINUX_ERRNO.EIO);
            linux.linux = true;
            throw linux;
          }
          throw e;
        } finally {
          depth--;
        }
      };
    }
  }

  // statvfs of any MEMFS path (the device sees nothing but the flash) reports the chip.
  _statfs() {
    if (this.total === null) return {};
    const free = Math.max(this.total - this.used(), 0);
    return { bsize: BLOCK, frsize: BLOCK, blocks: this.total, bfree: free, bavail: free,
      files: 0, ffree: 0, flags: 0, namelen: 255 };
  }

  // Visit every entry under the flash: fn(devicePath, node), parents before children.
  _walk(fn) {
    const visit = (node, p) => {
      for (const [name, child] of Object.entries(node.contents)) {
        const cp = p + "/" + name;
        fn(cp, child);
        if (this.FS.isDir(child.mode)) visit(child, cp);
      }
    };
    visit(this.root, "");
  }

  _copyFrom(oldFS, src, dst) {
    for (const name of oldFS.readdir(src || "/")) {
      if (name === "." || name === "..") continue;
      const s = src + "/" + name, d = dst + "/" + name;
      const st = oldFS.stat(s);
      if (oldFS.isDir(st.mode)) {
        this.FS.mkdir(d);
        this._copyFrom(oldFS, s, d);
      } else if (oldFS.isFile(st.mode)) {
        this.FS.writeFile(d, oldFS.readFile(s));
      }
    }
  }

  // Bring the host directory up to date with the flash: changed files written, gone ones removed.
  sync() {
    if (!this.dirty) return;
    this.dirty = false;
    const seen = new Map();
    this._walk((p, node) => { seen.set(p, node); });
    for (const [p, node] of seen) {
      const host = path.join(this.host, ...p.slice(1).split("/"));
      const was = this.synced.get(p);
      const version = node.lmVersion || 0;
      if (was && was[0] === node && was[1] === version) continue;
      if (this.FS.isDir(node.mode)) {
        if (fs.existsSync(host) && !fs.lstatSync(host).isDirectory()) fs.rmSync(host, { force: true });
        fs.mkdirSync(host, { recursive: true });
      } else if (this.FS.isFile(node.mode)) {
        if (fs.existsSync(host) && fs.lstatSync(host).isDirectory()) fs.rmSync(host, { recursive: true });
        writeAtomic(host, node.contents ? Buffer.from(node.contents.buffer, node.contents.byteOffset,
          node.usedBytes) : Buffer.alloc(0));
      }
      this.synced.set(p, [node, version]);
    }
    // Longest paths first, so a directory's entries go before it.
    const gone = [...this.synced.keys()].filter((p) => !seen.has(p)).sort((a, b) => b.length - a.length);
    for (const p of gone) {
      fs.rmSync(path.join(this.host, ...p.slice(1).split("/")), { recursive: true, force: true });
      this.synced.delete(p);
    }
  }
}

function removeTree(FS, p) {
  if (FS.isDir(FS.lstat(p).mode)) {
    for (const name of FS.readdir(p)) {
      if (name !== "." && name !== "..") removeTree(FS, p + "/" + name);
    }
    FS.rmdir(p);
  } else {
    FS.unlink(p);
  }
}

// Emscripten's table of errno names to its (WASI) numbers, read off ErrnoError instances.
function errnoCodes(FS) {
  const codes = {};
  for (let n = 0; n < 160; n++) {
    const code = new FS.ErrnoError(n).code;
    if (code && codes[code] === undefined) codes[code] = n;
  }
  return codes;
}
