"""Bootstrap run inside the sandboxed interpreter, before the user's code. Standard library only.

    python -I -B -u _sandbox_child.py CONFIG_JSON

It reads the config and the code, sets the resource limits, installs the audit hook (unless the
config turns it off), then runs the code as `__main__` with the workspace as cwd and as the last
entry of sys.path. Under the kernel sandbox it first copies the workspace into its tmpfs, runs the
code in a forked child and waits, so the parent can copy the files back out (tools/_sandbox_sync.py).
An uncaught MemoryError is reported plainly and flagged to the parent through a status file.
See tools/sandbox.py for what the hook does and does not stop.
"""

import json
import linecache
import os
import resource
import signal
import sys
import traceback
import types

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_DENIED_EVENTS = {
    "os.system": "running shell commands",
    "os.exec": "replacing the process (os.exec*)",
    "os.posix_spawn": "starting processes (os.posix_spawn)",
    "os.spawn": "starting processes (os.spawn*)",
    "os.fork": "forking (os.fork)",
    "os.forkpty": "forking (os.forkpty)",
    "subprocess.Popen": "starting processes (subprocess)",
    "pty.spawn": "starting processes (pty.spawn)",
    "os.startfile": "starting programs",
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
    "gc.get_objects": "gc introspection",
    "gc.get_referrers": "gc introspection",
    "gc.get_referents": "gc introspection",
}
_DENIED_SYMBOLS = frozenset({
    "system", "popen", "fork", "vfork", "clone", "clone3", "execl", "execle", "execlp", "execv",
    "execve", "execvp", "execvpe", "fexecve", "posix_spawn", "posix_spawnp", "syscall", "kill",
    "killpg", "setrlimit", "prlimit", "prlimit64", "ptrace", "unshare", "setns", "pidfd_open",
    "pidfd_send_signal", "daemon", "setsid", "setpgid",
})
_NO_REIMPORT = frozenset({"posix", "_posixsubprocess"})


def _refuse(what):
    def refused(*args, **kwargs):
        raise PermissionError(f"sandbox: {what} is not allowed")
    return refused


def _set_limits(limits):
    def cap(which, soft, hard=None):
        hard = soft if hard is None else hard
        _, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (soft, hard))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_AS, limits["memory_bytes"])
    cap(resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 1)
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"])
    # RLIMIT_NPROC counts every task (threads too) of the real uid, so it can only be a coarse
    # backstop: the tasks running now plus headroom. The parent's watchdog is the real cap;
    # root ignores this limit anyway.
    try:
        with open("/proc/loadavg") as handle:
            running_now = int(handle.read().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        running_now = 4096
    cap(resource.RLIMIT_NPROC, running_now + limits["max_processes"] + 256)


def _become_subreaper():
    """Orphaned descendants re-parent to this process, not init, so the parent's watchdog
    still finds them below the child (PR_SET_CHILD_SUBREAPER; Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog then sees only the session and process group


def _read_roots(protected):
    """Where the interpreter must read from: prefixes and sys.path, minus anything holding a home."""
    roots = set()
    for entry in [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path]:
        if entry and os.path.isdir(entry):
            real = os.path.realpath(entry)
            if not any(home == real or home.startswith(real.rstrip("/") + "/") for home in protected):
                roots.add(real)
    return tuple(sorted(roots))


def _install_hook(config):
    """Install the audit hook. Every name the hook uses is a closure variable bound here, never
    a global or builtin looked up at call time, so user code cannot swap them out (a test checks
    the bytecode for LOAD_GLOBAL)."""
    workspace = config["workspace"]
    protected = tuple(config["protected_homes"])
    secrets = tuple(config["secret_paths"])
    read_roots = _read_roots(protected)
    own_pid = os.getpid()
    own_proc = f"/proc/{own_pid}"
    write_flags = _WRITE_FLAGS
    denied_symbols = _DENIED_SYMBOLS
    no_reimport = _NO_REIMPORT
    lstat, stat, readlink, getcwd, fspath = os.lstat, os.stat, os.readlink, os.getcwd, os.fspath
    denied, oserror, is_instance, as_int, as_str = PermissionError, OSError, isinstance, int, str
    str_type, bytes_type, int_type = str, bytes, int

    def under(path, roots):
        for root in roots:
            if path == root or path.startswith(root if root.endswith("/") else root + "/"):
                return True
        return False

    def realpath(path):
        """os.path.realpath(strict=False) without going through patchable module globals."""
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        pending = [p for p in path.split("/") if p and p != "."][::-1]
        resolved, links = "", 0
        while pending:
            part = pending.pop()
            if part == "..":
                resolved = resolved.rsplit("/", 1)[0]
                continue
            candidate = resolved + "/" + part
            try:
                mode = lstat(candidate).st_mode
            except oserror:
                resolved = candidate
                continue
            if mode & 0o170000 == 0o120000:
                links += 1
                if links > 40:
                    raise denied(f"sandbox: too many symlinks in {path}")
                target = readlink(candidate)
                if target.startswith("/"):
                    resolved = ""
                pending.extend([p for p in target.split("/") if p and p != "."][::-1])
                continue
            resolved = candidate
        return resolved or "/"

    def resolve(path, dir_fd=None):
        if path is None:
            path = "."
        if is_instance(path, int_type):
            return None  # an already open descriptor
        path = fspath(path)
        if is_instance(path, bytes_type):
            path = path.decode("utf-8", "surrogateescape")
        if dir_fd is not None and dir_fd >= 0 and not path.startswith("/"):
            path = readlink(f"/proc/self/fd/{dir_fd}") + "/" + path
        return realpath(path)

    def is_dir(path):
        try:
            return stat(path).st_mode & 0o170000 == 0o040000
        except oserror:
            return False

    def check_write(path, dir_fd=None, what="writing to"):
        real = resolve(path, dir_fd)
        if real is None or under(real, (workspace, own_proc)) or real == "/dev/null":
            return
        raise denied(f"sandbox: {what} {real} is not allowed (outside the workspace {workspace})")

    def check_read(path, dir_fd=None):
        real = resolve(path, dir_fd)
        if real is None:
            return
        if under(real, secrets):
            raise denied(f"sandbox: reading {real} is not allowed (credentials)")
        if under(real, (workspace,)) or under(real, read_roots):
            return
        if under(real, protected):
            raise denied(f"sandbox: reading {real} is not allowed (the user's home, outside the workspace)")
        if real.startswith("/proc/"):
            part = real.split("/")[2]
            if part.isdigit() and as_int(part) != own_pid:
                raise denied(f"sandbox: reading {real} is not allowed (another process)")

    def on_open(args):
        path, mode, flags = args
        if flags & write_flags:
            check_write(path)
        else:
            check_read(path)
        # os.open of a directory outside the workspace would give a dir_fd through which later
        # relative opens (whose audit event carries no dir_fd) could write.
        if mode is None and not is_instance(path, int_type):
            real = resolve(path)
            if not under(real, (workspace,)) and is_dir(real):
                raise denied(f"sandbox: opening the directory {real} is not allowed (outside the workspace)")

    def on_kill(args):
        if args[0] not in (0, own_pid):
            raise denied(f"sandbox: signalling process {args[0]} is not allowed")

    def on_dlsym(args):
        if is_instance(args[1], str_type) and args[1] in denied_symbols:
            raise denied(f"sandbox: calling {args[1]}() through ctypes is not allowed")

    def on_import(args):
        if args[0] in no_reimport:
            raise denied(f"sandbox: re-importing {args[0]} is not allowed")

    def on_sqlite(args):
        if as_str(args[0]) != ":memory:":
            check_write(args[0])

    def refuse(what):
        def refused(args):
            raise denied(f"sandbox: {what} is not allowed")
        return refused

    handlers = {
        "open": on_open,
        "os.listdir": lambda a: check_read(a[0]),
        "os.scandir": lambda a: check_read(a[0]),
        "os.mkdir": lambda a: check_write(a[0], a[2]),
        "os.remove": lambda a: check_write(a[0], a[1], "deleting"),
        "os.rmdir": lambda a: check_write(a[0], a[1], "deleting"),
        "os.rename": lambda a: (check_write(a[0], a[2], "moving"), check_write(a[1], a[3], "moving to")),
        "os.link": lambda a: (check_write(a[0], a[2], "linking"), check_write(a[1], a[3], "linking")),
        "os.symlink": lambda a: check_write(a[1], a[2], "creating a link at"),
        "os.chmod": lambda a: check_write(a[0], a[2], "changing"),
        "os.chown": lambda a: check_write(a[0], a[3], "changing"),
        "os.utime": lambda a: check_write(a[0], a[3], "changing"),
        "os.truncate": lambda a: check_write(a[0]),
        "os.chflags": lambda a: check_write(a[0], None, "changing"),
        "os.lchflags": lambda a: check_write(a[0], None, "changing"),
        "os.setxattr": lambda a: check_write(a[0], None, "changing"),
        "os.removexattr": lambda a: check_write(a[0], None, "changing"),
        "shutil.rmtree": lambda a: check_write(a[0], a[1], "deleting"),
        "sqlite3.connect": on_sqlite,
        "os.kill": on_kill,
        "os.killpg": on_kill,
        "ctypes.dlsym": on_dlsym,
        "import": on_import,
    }
    for event, what in _DENIED_EVENTS.items():
        handlers[event] = refuse(what)
    get_handler = handlers.get

    def hook(event, args):
        handler = get_handler(event)
        if handler is not None:
            handler(args)

    sys.addaudithook(hook)


def _patch_unaudited():
    """Process-starting calls that raise no audit event are replaced before the hook goes in."""
    import _posixsubprocess
    import posix
    import signal

    _posixsubprocess.fork_exec = _refuse("starting processes (subprocess)")
    for module in (os, posix):
        if hasattr(module, "pidfd_open"):
            module.pidfd_open = _refuse("opening process handles (pidfd_open)")
    if hasattr(signal, "pidfd_send_signal"):
        signal.pidfd_send_signal = _refuse("signalling other processes")


def _run(code, config, status_fd):
    filename = "<code>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    main = types.ModuleType("__main__")
    main.__file__ = filename
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    sys.argv = [filename]
    try:
        compiled = compile(code, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        traceback.print_exception(type(exc), exc, None)
        return 1
    try:
        exec(compiled, main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        report = traceback.TracebackException(type(exc), exc, exc.__traceback__.tb_next)
        del exc  # drop the frames' references so what they held can be freed
        sys.stderr.write("".join(_without_bootstrap(report).format()))
        if report.exc_type is MemoryError:
            os.write(status_fd, b"memory\n")
            limit_mb = config["limits"]["memory_bytes"] // (1024 * 1024)
            sys.stderr.write(f"sandbox: the code ran out of memory; the limit is {limit_mb} MB (memory_mb)\n")
        return 1
    return 0


def _without_bootstrap(report, seen=None):
    """Drop this file's frames (the audit hook's) from a traceback, chained ones included."""
    seen = set() if seen is None else seen
    if report is None or id(report) in seen:
        return report
    seen.add(id(report))
    report.stack = traceback.StackSummary.from_list(
        [frame for frame in report.stack if frame.filename != __file__])
    _without_bootstrap(report.__cause__, seen)
    _without_bootstrap(report.__context__, seen)
    return report


def _copy_in(source, workspace):
    """Fill the workspace tmpfs (the run's disk quota) from the read-only view of the real one.
    tools/_fswalk.py is loaded by path: this bootstrap runs outside the package."""
    fswalk = {"__name__": "_fswalk"}
    path = os.path.join(os.path.dirname(__file__), "_fswalk.py")
    with open(path, encoding="utf-8") as handle:
        exec(compile(handle.read(), path, "exec"), fswalk)
    fswalk["copy_tree"](source, workspace, (".tmp",))
    os.makedirs(os.path.join(workspace, ".tmp"), exist_ok=True)


def _supervise(code, config, status_fd):
    """Kernel mode: run the code in a child and stay alive after it ends, so the parent can copy
    the workspace tmpfs out of this mount namespace before it kills the sandbox."""
    try:
        _copy_in(config["copy_from"], config["workspace"])
    except OSError as exc:
        sys.stderr.write(f"sandbox: the workspace could not be copied into the sandbox: {exc}\n")
        os.write(status_fd, b"exit 1\n")
        return 1
    os.write(status_fd, b"ready\n")  # the tmpfs holds the whole workspace: copying it back is safe now
    pid = os.fork()
    if pid == 0:
        return _run_code(code, config, status_fd)
    import select

    for fd in (0, 1, 2):
        os.close(fd)  # the pipes reach EOF when the code and what it started are gone
    lifeline = config["lifeline_fd"]
    ended = os.pidfd_open(pid)  # readable once the code's process has ended
    while True:
        # Until the parent has copied the files out and kills the sandbox. The lifeline's write
        # end is held by the parent alone: EOF means it died (possibly before bubblewrap's own
        # die-with-parent was armed), and everything in this PID namespace goes with it.
        ready = select.select([lifeline] + ([ended] if pid else []), [], [])[0]
        if lifeline in ready and not os.read(lifeline, 1):
            os.kill(-1, signal.SIGKILL)
            os._exit(1)
        if pid and ended in ready:
            _, status = os.waitpid(pid, 0)
            pid = 0
            os.write(status_fd, f"exit {os.waitstatus_to_exitcode(status)}\n".encode())


def _run_code(code, config, status_fd):
    # The workspace goes last: a planted pandas.py or json.py must not shadow the real module.
    sys.path.append(config["workspace"])
    _set_limits(config["limits"])
    if not config.get("copy_from"):
        _become_subreaper()  # in the kernel sandbox the PID namespace's init reaps orphans
    if config["audit"]:
        _patch_unaudited()
        _install_hook(config)
    return _run(code, config, status_fd)


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    with open(config["code_path"], encoding="utf-8") as handle:
        code = handle.read()
    status_fd = config["status_fd"]
    os.set_inheritable(status_fd, False)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    if config.get("copy_from"):
        os.environ.pop("PWD", None)  # bubblewrap sets it; the environment is an allowlist
        return _supervise(code, config, status_fd)
    return _run_code(code, config, status_fd)


if __name__ == "__main__":
    sys.exit(main())
