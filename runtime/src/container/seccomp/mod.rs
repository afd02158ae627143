//! berth's default seccomp filter: the same policy as Docker's default profile
//! (deny with EPERM, allow what ordinary programs use, allow privileged calls
//! only to containers holding the capability they need), expressed as an OCI
//! `linux.seccomp` section. Unknown names for this kernel are skipped by the
//! runtime, so 32-bit and newer calls can stay in the lists.

pub mod bpf;

use std::collections::BTreeSet;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

/// Files, directories, descriptors and extended attributes.
const FILES: &[&str] = &[
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "close",
    "close_range",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "getxattr",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "name_to_handle_at",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "sendfile",
    "sendfile64",
    "setxattr",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vmsplice",
    "write",
    "writev",
];

/// Waiting for events: poll, select, epoll, eventfd, inotify, asynchronous I/O.
const EVENTS: &[&str] = &[
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioctl",
    "_newselect",
    "pause",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
];

/// Processes, credentials, scheduling and limits.
const PROCESSES: &[&str] = &[
    "capget",
    "capset",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "getcpu",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "get_thread_area",
    "gettid",
    "getuid",
    "getuid32",
    "ioprio_get",
    "ioprio_set",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "pidfd_open",
    "prctl",
    "prlimit64",
    "restart_syscall",
    "rseq",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "ugetrlimit",
    "uname",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
];

/// Memory management.
const MEMORY: &[&str] = &[
    "brk",
    "futex",
    "futex_time64",
    "futex_waitv",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "process_mrelease",
    "remap_file_pages",
];

/// Clocks, timers and system information.
const TIME: &[&str] = &[
    "adjtimex",
    "alarm",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getitimer",
    "getrandom",
    "gettimeofday",
    "nanosleep",
    "setitimer",
    "sysinfo",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
];

/// Signals.
const SIGNALS: &[&str] = &[
    "kill",
    "pidfd_send_signal",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "tgkill",
    "tkill",
];

/// Sockets (`socket` itself has its own rule) and System V / POSIX IPC.
const COMMUNICATION: &[&str] = &[
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "ipc",
    "listen",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "socketcall",
    "socketpair",
];

/// Calls allowed only to a container that holds the capability.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    ("CAP_SYS_MODULE", &["delete_module", "init_module", "finit_module"]),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_PTRACE", &["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"]),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime", "clock_settime64"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
];

/// Reading other processes' memory is safe without CAP_SYS_PTRACE since Linux 4.8.
const PTRACE: &[&str] = &["process_vm_readv", "process_vm_writev", "ptrace"];

/// The namespace flags of clone(2): creating namespaces needs CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// `socket(AF_VSOCK, ...)` reaches the hypervisor: refused, as in Docker's profile.
const AF_VSOCK: u64 = 40;

/// `personality(2)` values that only select an ABI (PER_LINUX, PER_LINUX32, UNAME26 and queries).
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The errno of a denied call, as Docker: EPERM.
const EPERM: u32 = 1;
/// `clone3` is refused with ENOSYS so that libc falls back to `clone`, whose flags can be checked.
const ENOSYS: u32 = 38;

fn rule(names: impl IntoIterator<Item = impl Into<String>>, action: LinuxSeccompAction) -> LinuxSyscall {
    let names: Vec<String> = names.into_iter().map(Into::into).collect();
    LinuxSyscallBuilder::default().names(names).action(action).build().expect("names and action are set")
}

fn arg_rule(name: &str, arg: LinuxSeccompArg) -> LinuxSyscall {
    let mut syscall = rule([name], LinuxSeccompAction::ScmpActAllow);
    syscall.set_args(Some(vec![arg]));
    syscall
}

fn compare(index: usize, value: u64, op: LinuxSeccompOperator) -> LinuxSeccompArg {
    LinuxSeccompArgBuilder::default().index(index).value(value).op(op).build().expect("all fields are set")
}

/// `(arg & mask) == 0`. libcontainer reads a masked comparison's mask from
/// `valueTwo` and the expected value from `value` (runc reads them the other
/// way round), so this is written for libcontainer.
fn masked_zero(index: usize, mask: u64) -> LinuxSeccompArg {
    LinuxSeccompArgBuilder::default()
        .index(index)
        .value(0u64)
        .value_two(mask)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .build()
        .expect("all fields are set")
}

fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

/// Calls only some architectures have.
fn arch_specific() -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        &["arch_prctl", "modify_ldt"]
    } else if cfg!(target_arch = "aarch64") {
        &["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"]
    } else {
        &[]
    }
}

/// The default filter for a container holding `capabilities` (`CAP_*` names).
pub fn default_filter(capabilities: &BTreeSet<String>) -> LinuxSeccomp {
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut syscalls = vec![rule(
        [FILES, EVENTS, PROCESSES, MEMORY, TIME, SIGNALS, COMMUNICATION, PTRACE, arch_specific()]
            .concat()
            .iter()
            .copied(),
        allow,
    )];
    syscalls.push(arg_rule("socket", compare(0, AF_VSOCK, LinuxSeccompOperator::ScmpCmpNe)));
    for persona in PERSONALITIES {
        syscalls.push(arg_rule("personality", compare(0, *persona, LinuxSeccompOperator::ScmpCmpEq)));
    }
    let mut privileged: BTreeSet<&str> = BTreeSet::new();
    for (capability, names) in BY_CAPABILITY {
        if capabilities.contains(*capability) {
            privileged.extend(names.iter());
        }
    }
    if !privileged.is_empty() {
        syscalls.push(rule(privileged.iter().copied(), allow));
    }
    if !capabilities.contains("CAP_SYS_ADMIN") {
        let clone_flags_index = if cfg!(target_arch = "s390x") { 1 } else { 0 };
        syscalls.push(arg_rule("clone", masked_zero(clone_flags_index, CLONE_NAMESPACE_FLAGS)));
        let mut clone3 = rule(["clone3"], LinuxSeccompAction::ScmpActErrno);
        clone3.set_errno_ret(Some(ENOSYS));
        syscalls.push(clone3);
    }
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(EPERM)
        .architectures(architectures())
        .syscalls(syscalls)
        .build()
        .expect("all fields are set")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(filter: &LinuxSeccomp) -> BTreeSet<String> {
        filter
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
            .flat_map(|s| s.names().iter().cloned())
            .collect()
    }

    fn defaults() -> BTreeSet<String> {
        super::super::security::DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn denies_by_default_with_eperm() {
        let filter = default_filter(&defaults());
        assert_eq!(filter.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(filter.default_errno_ret(), Some(EPERM));
    }

    #[test]
    fn ordinary_calls_are_allowed_and_privileged_ones_are_not() {
        let allowed = allowed(&default_filter(&defaults()));
        for name in ["read", "openat", "execve", "wait4", "accept4", "chroot", "ptrace"] {
            assert!(allowed.contains(name), "{name} should be allowed");
        }
        for name in ["mount", "unshare", "setns", "reboot", "init_module", "keyctl", "add_key", "bpf", "kexec_load"] {
            assert!(!allowed.contains(name), "{name} should be denied");
        }
    }

    #[test]
    fn capabilities_unlock_their_calls() {
        let mut caps = defaults();
        caps.insert("CAP_SYS_ADMIN".into());
        caps.insert("CAP_SYS_TIME".into());
        let filter = default_filter(&caps);
        let allowed = allowed(&filter);
        assert!(allowed.contains("mount") && allowed.contains("unshare") && allowed.contains("clock_settime"));
        assert!(
            !filter
                .syscalls()
                .iter()
                .flatten()
                .any(|s| s.names().contains(&"clone3".to_string()) && s.action() == LinuxSeccompAction::ScmpActErrno)
        );
    }

    #[test]
    fn clone_may_not_create_namespaces_without_sys_admin() {
        let filter = default_filter(&defaults());
        let clone =
            filter.syscalls().iter().flatten().find(|s| s.names() == &["clone".to_string()]).expect("a clone rule");
        let arg = &clone.args().as_ref().unwrap()[0];
        assert_eq!(arg.op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        assert_eq!((arg.value(), arg.value_two()), (0, Some(CLONE_NAMESPACE_FLAGS)));
    }

    #[test]
    fn no_name_is_listed_twice_in_the_base_rule() {
        let all = [FILES, EVENTS, PROCESSES, MEMORY, TIME, SIGNALS, COMMUNICATION, PTRACE].concat();
        let unique: BTreeSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
    }
}
