"""Writing what the user asked for, and nothing else: reports and images go to regular files
through a temporary file and a rename (a failure, Ctrl-C or SIGTERM never leaves a half-written
file or a temporary one), or to a stream the user named (``-`` = standard output, a character
device such as ``/dev/null``); nothing else is replaced. FIFOs, sockets and folders are refused,
a symbolic link is followed (its target is written, the link stays), and an output that is one
of the inputs (the model file) or another output of the same run is an error.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
import threading

from .errors import OutputError

STREAM = "stream"     # write to the stream itself (stdout, a character device)
FILE = "file"         # atomic replace of a regular file (new or existing)

_TEMPS: set = set()   # temporary files being written: removed on SIGTERM
_LOCK = threading.Lock()


def _short(p: str, n: int = 60) -> str:
    return p if len(p) <= n else p[:n] + "…"


def target(path, flag: str = "--output", inputs=(), others=()) -> tuple:
    """(kind, path) of an output the user named, checked before any work is done: kind is
    STREAM for ``-`` and character devices, FILE for a regular file (new or existing; a link is
    resolved to its target). `inputs` are files this run reads (the model): writing one of them
    is refused; `others` are (flag, path) of the run's other outputs: the same file twice is
    refused. OutputError names `flag` and the fix."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise OutputError(f"{flag} {path!r} is not a file name") from None
    if not str(path).strip():
        raise OutputError(f"{flag} '' is empty; give a file name (or - for standard output)")
    if path == "-":
        return STREAM, path
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{flag} {_short(path)!r}: cannot use it ({exc.strerror or exc})") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{flag} {_short(path)!r} is a folder; give a file name")
        if stat.S_ISCHR(st.st_mode):
            return STREAM, path
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode) or stat.S_ISBLK(st.st_mode):
            raise OutputError(f"{flag} {_short(path)!r} is a pipe, socket or block device, not a file: "
                              f"give a regular file name, or - and redirect standard output")
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise OutputError(f"{flag} {_short(path)!r}: the folder {_short(folder)!r} does not exist; create it first")
    for inp in inputs:
        if inp and isinstance(inp, (str, os.PathLike)) and os.path.exists(inp) and \
                os.path.realpath(inp) == real:
            raise OutputError(f"{flag} {_short(path)!r} is an input of this command (the model or a data file "
                              f"it reads): flopest never overwrites its input; give another file name")
    for other_flag, other in others:
        if other and other != "-" and os.path.realpath(os.fspath(other)) == real:
            raise OutputError(f"{flag} {_short(path)!r} is also {other_flag}'s file: give each its own file")
    return FILE, real


def write(path, content, flag: str = "--output") -> None:
    """Write `content` (text, or a callable given an open binary file) where `path` says
    (see :func:`target`): atomically for a file, directly for a stream."""
    kind, where = target(path, flag)
    if kind == STREAM:
        _write_stream(where, content, flag)
    else:
        write_atomic(where, content, flag)


def _write_stream(where: str, content, flag: str) -> None:
    if where == "-":
        if callable(content):
            out = getattr(sys.stdout, "buffer", None)
            if out is None:
                raise OutputError(f"{flag} -: standard output takes no binary data here; give a file name")
            content(out)
            out.flush()
        else:
            sys.stdout.write(content)
            sys.stdout.flush()
        return
    try:
        with open(where, "wb") as f:   # a character device: written, never replaced
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"{flag} {_short(where)!r}: cannot write it ({exc.strerror or exc})") from None


def write_atomic(path: str, content, flag: str = "--output") -> None:
    """Write `content` (text, or a callable given the open binary file) to the regular file
    `path` through a temporary file in the same folder and a rename: a failure, Ctrl-C or
    SIGTERM never leaves a half-written file. Errors name `flag`."""
    path = os.fspath(path)
    if not str(path).strip():
        raise OutputError(f"{flag} '' is empty; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"{flag} {_short(path)!r}: folder {_short(folder)!r} does not exist; create it first")
    if os.path.isdir(path):
        raise OutputError(f"{flag} {_short(path)!r} is a folder; give a file name")
    _on_sigterm_cleanup()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".flopest-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{flag} {_short(path)!r}: cannot write in {_short(folder)!r} ({exc.strerror or exc})") from None
    with _LOCK:
        _TEMPS.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())   # the rename must not publish a file whose bytes are not on disk
        os.chmod(tmp, 0o666 & ~umask())   # mkstemp makes it 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"{flag} {_short(path)!r}: cannot write it ({exc.strerror or exc})") from None
        raise
    finally:
        with _LOCK:
            _TEMPS.discard(tmp)


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


_SIGTERM_INSTALLED = False


def _on_sigterm_cleanup() -> None:
    """On SIGTERM, remove the temporary files being written, then die of the signal as before
    (the previous handler, or the default action). Installed once, from the main thread only."""
    global _SIGTERM_INSTALLED
    if _SIGTERM_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    prev = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        with _LOCK:
            for t in list(_TEMPS):
                _remove(t)
            _TEMPS.clear()
        if callable(prev) and prev not in (signal.SIG_IGN, signal.SIG_DFL):
            prev(signum, frame)
            return
        if prev == signal.SIG_IGN:
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):   # not the main thread of the main interpreter
        return
    _SIGTERM_INSTALLED = True


def umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask sets it,
    racing other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
