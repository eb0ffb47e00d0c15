"""Writing a file a user named (`--out`, `--fleet`): whole or not at all, and never replacing a
thing that is not a regular file.

- A new path or a regular file: written to a temporary file beside it, synced, then renamed over
  it, so a reader (or a crash) sees the old file or the whole new one. An existing file keeps its
  permission bits; a new one gets the umask's.
- A symbolic link is followed: the file it points to is replaced as above and the link stays a
  link (an operator points a stable name at the current file, e.g. trust.json -> trust-42.json;
  replacing the link with a file would silently cut that). A link to nothing is refused: where it
  points is not the user's choice of a new file but a dangling name.
- A character device (/dev/null, a serial port, a terminal) or a FIFO is written in place: it
  cannot be replaced and renaming a file over it would take its place in /dev.
- Anything else (a directory, a block device, a socket) is refused.

OutputError (an OSError, so callers that report "cannot write PATH: ..." need nothing new) says
why, in a few words; OSError from the writing itself passes through.
"""

import os
import stat
import tempfile


class OutputError(OSError):
    """The path names something that is not written to (a directory, a dangling link, ...);
    str() is the reason, e.g. "it is a directory"."""


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file, a character device or a FIFO"


def target(path):
    """(where, how): how is "replace" (where: the regular file or new path to rename over) or
    "in place" (a character device or FIFO)."""
    try:
        st = os.stat(path)  # follows links
    except FileNotFoundError:
        if os.path.islink(path):
            raise OutputError("it is a symbolic link to %s, which does not exist" % os.readlink(path))
        return path, "replace"
    if stat.S_ISREG(st.st_mode):
        return (os.path.realpath(path) if os.path.islink(path) else path), "replace"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return path, "in place"
    raise OutputError("it is %s" % _kind(st.st_mode))


class Output:
    """`with Output(path) as f: f.write(...)`: the file is in place when the block ends without
    an error; after an error the old file is untouched and no temporary file is left."""

    def __init__(self, path, newline=""):
        self.path = str(path)
        self.newline = newline
        self.where, self.how = target(self.path)
        self._tmp = None
        self._f = None

    def __enter__(self):
        if self.how == "in place":
            self._f = open(self.where, "w", encoding="utf-8", newline=self.newline)
            return self._f
        folder = os.path.dirname(os.path.abspath(self.where))
        fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.where) + ".", suffix=".tmp",
                                         dir=folder)
        try:
            try:
                mode = stat.S_IMODE(os.stat(self.where).st_mode)
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(fd, mode)
            self._f = os.fdopen(fd, "w", encoding="utf-8", newline=self.newline)
        except BaseException:
            os.close(fd)
            self._drop()
            raise
        return self._f

    def _drop(self):
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None

    def __exit__(self, et, ev, tb):
        f = self._f
        if self.how == "in place":
            f.close()
            return False
        try:
            if et is None:
                f.flush()
                os.fsync(f.fileno())
            f.close()
            if et is None:
                os.replace(self._tmp, self.where)
                self._tmp = None
        finally:
            if not f.closed:
                f.close()
            self._drop()
        return False


def write_text(path, text):
    """Write text to path as Output does."""
    with Output(path) as f:
        f.write(text)
