"""The seccomp filter handed to bubblewrap (`--seccomp FD`): system calls namespaces do not cover.

Built with libseccomp through `pyseccomp` (ctypes bindings), exported as a BPF program. The
filter allows everything else, answers the calls below with EPERM, and (libseccomp's default)
kills a process that switches to another syscall ABI (32-bit calls on x86-64) to dodge it.
"""

from __future__ import annotations

import errno
import functools
import tempfile

__all__ = ["DENIED_SYSCALLS", "filter_program"]

DENIED_SYSCALLS = (
    # reading or steering other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # mounts and namespaces (bubblewrap has set ours up already)
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    # kernel keyrings, eBPF, perf, io_uring and userfaultfd: large kernel attack surface
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # kernel modules, rebooting, swap, clocks, accounting, file handles
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "acct",
    "open_by_handle_at", "name_to_handle_at", "fanotify_init", "syslog", "quotactl", "vhangup",
    "iopl", "ioperm", "personality", "lookup_dcookie",
)


@functools.cache
def filter_program() -> bytes | None:
    """The compiled filter, or None when pyseccomp or libseccomp is not installed."""
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError):  # no package, or it found no libseccomp.so
        return None
    rules = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        except (ValueError, RuntimeError, OSError):
            continue  # a call this architecture or libseccomp version does not know
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()
