//! The seccomp filter as the kernel takes it: a classic BPF program that
//! libseccomp compiles from the OCI profile once, kept in the run directory
//! under the profile's digest, and that the container's process loads right
//! before exec.
//!
//! Why not let libcontainer load the profile: it compiles it again in every
//! container's init, and compiling Docker's default profile costs about 9 ms of
//! CPU (measured with perf on these machines) on the critical path of every
//! start and every `exec` (so of every healthcheck probe). Loading a compiled
//! program costs microseconds. The translation below follows libcontainer's
//! (`libcontainer::seccomp`), which the profiles in [`super`] were written for.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};
use sha2::{Digest, Sha256};

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;
/// `struct sock_filter`: u16 code, u8 jt, u8 jf, u32 k.
const INSTRUCTION_SIZE: usize = 8;

// seccomp(2) constants from <linux/seccomp.h>.
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_FILTER_FLAG_TSYNC: libc::c_uint = 1 << 0;
const SECCOMP_FILTER_FLAG_LOG: libc::c_uint = 1 << 1;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: libc::c_uint = 1 << 2;

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("the seccomp profile cannot be compiled: {0}")]
    Compile(String),
    #[error("the seccomp profile uses {0}, which berth does not support")]
    Unsupported(&'static str),
    #[error("cannot {what} the compiled seccomp filter {}: {source}", path.display())]
    Cache { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// A compiled filter, ready to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledFilter {
    program: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` to load it with.
    flags: libc::c_uint,
}

impl CompiledFilter {
    /// The filter of `profile`: from `cache_dir` if it was compiled before,
    /// else compiled now and kept there (atomically: concurrent starts may race
    /// to write it, each writes a whole file).
    pub fn for_profile(cache_dir: &Path, profile: &LinuxSeccomp) -> Result<CompiledFilter, FilterError> {
        let flags = load_flags(profile)?;
        let path = cache_dir.join(format!("{}.bpf", digest(profile)));
        if let Ok(bytes) = std::fs::read(&path)
            && let Some(program) = decode(&bytes)
        {
            return Ok(CompiledFilter { program, flags });
        }
        let bytes = compile(profile)?;
        let program = decode(&bytes)
            .ok_or_else(|| FilterError::Compile(format!("libseccomp produced a program of {} bytes", bytes.len())))?;
        std::fs::create_dir_all(cache_dir)
            .and_then(|()| crate::container::layout::replace_file(&path, &bytes))
            .map_err(|source| FilterError::Cache { what: "keep", path, source })?;
        Ok(CompiledFilter { program, flags })
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Installs the filter on this thread (the caller has set no_new_privs or
    /// holds CAP_SYS_ADMIN). Irrevocable: for the container's process, right
    /// before it execs.
    #[allow(unsafe_code)]
    pub fn load(&self) -> std::io::Result<()> {
        let program = libc::sock_fprog {
            // `decode` keeps programs within BPF_MAXINSNS, which fits u16.
            len: self.program.len() as u16,
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `program` points at `len` initialised instructions that live
        // until the call returns; the kernel copies them and does not keep the pointer.
        let result = unsafe {
            libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, self.flags, &program as *const libc::sock_fprog)
        };
        if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    }
}

/// The cache key: the profile's canonical JSON, hashed.
fn digest(profile: &LinuxSeccomp) -> String {
    let json = serde_json::to_vec(profile).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// Splits exported bytes into instructions; `None` if they are not a program.
fn decode(bytes: &[u8]) -> Option<Vec<libc::sock_filter>> {
    let count = bytes.len() / INSTRUCTION_SIZE;
    if bytes.is_empty() || !bytes.len().is_multiple_of(INSTRUCTION_SIZE) || count > MAX_INSTRUCTIONS {
        return None;
    }
    Some(
        bytes
            .chunks_exact(INSTRUCTION_SIZE)
            .map(|i| libc::sock_filter {
                code: u16::from_ne_bytes([i[0], i[1]]),
                jt: i[2],
                jf: i[3],
                k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
            })
            .collect(),
    )
}

fn load_flags(profile: &LinuxSeccomp) -> Result<libc::c_uint, FilterError> {
    let mut flags = 0;
    for flag in profile.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(FilterError::Unsupported("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (a notify listener)"));
            }
        };
    }
    Ok(flags)
}

/// The profile compiled by libseccomp, as the bytes `seccomp_export_bpf` writes.
fn compile(profile: &LinuxSeccomp) -> Result<Vec<u8>, FilterError> {
    fn err(what: &str) -> impl FnOnce(libseccomp::error::SeccompError) -> FilterError + '_ {
        move |e| FilterError::Compile(format!("{what}: {e}"))
    }
    let default_action = action(profile.default_action(), profile.default_errno_ret())?;
    let mut context = ScmpFilterContext::new(default_action).map_err(err("new filter"))?;
    // Loading is ours (`CompiledFilter::load`); the program must not depend on it.
    context.set_ctl_nnp(false).map_err(err("no_new_privs attribute"))?;
    for &arch in profile.architectures().iter().flatten() {
        context.add_arch(architecture(arch)?).map_err(err("architecture"))?;
    }
    for syscall in profile.syscalls().iter().flatten() {
        let rule_action = action(syscall.action(), syscall.errno_ret())?;
        // A rule with the default action is redundant, and libseccomp refuses it.
        if rule_action == default_action {
            continue;
        }
        for name in syscall.names() {
            // Names this libseccomp does not know are calls this machine lacks: skipped, as libcontainer does.
            let Ok(number) = ScmpSyscall::from_name(name) else {
                tracing::debug!(syscall = %name, "unknown system call left out of the seccomp filter");
                continue;
            };
            let args = syscall.args().as_deref().unwrap_or_default();
            let comparisons: Vec<ScmpArgCompare> = args
                .iter()
                .map(|arg| ScmpArgCompare::new(arg.index() as u32, operator(arg.op(), arg.value_two()), arg.value()))
                .collect();
            let mut indexes = HashSet::new();
            if comparisons.is_empty() {
                context.add_rule(rule_action, number).map_err(err(name))?;
            } else if args.iter().all(|arg| indexes.insert(arg.index())) {
                context.add_rule_conditional(rule_action, number, &comparisons).map_err(err(name))?;
            } else {
                // libseccomp compares each argument once per rule: several
                // comparisons of one argument become rules of their own (as runc).
                for comparison in &comparisons {
                    context
                        .add_rule_conditional(rule_action, number, std::slice::from_ref(comparison))
                        .map_err(err(name))?;
                }
            }
        }
    }
    let mut exported = tempfile::tempfile()
        .map_err(|e| FilterError::Compile(format!("cannot make a file to export the filter to: {e}")))?;
    context.export_bpf(&exported).map_err(err("export"))?;
    exported.flush().map_err(|e| FilterError::Compile(e.to_string()))?;
    let mut bytes = Vec::new();
    std::io::Seek::rewind(&mut exported)
        .and_then(|_| std::io::Read::read_to_end(&mut exported, &mut bytes))
        .map_err(|e| FilterError::Compile(format!("cannot read the exported filter: {e}")))?;
    Ok(bytes)
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, FilterError> {
    let errno = errno.map_or(libc::EPERM, |e| e as i32);
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(errno).map_err(|_| FilterError::Compile(format!("SCMP_ACT_TRACE errno {errno}")))?,
        ),
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => return Err(FilterError::Unsupported("SCMP_ACT_NOTIFY")),
    })
}

/// libcontainer's reading of a masked comparison: the mask in `valueTwo`.
fn operator(op: LinuxSeccompOperator, value_two: Option<u64>) -> ScmpCompareOp {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value_two.unwrap_or(0)),
    }
}

fn architecture(arch: Arch) -> Result<ScmpArch, FilterError> {
    Ok(match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        // berth's profiles name only the architectures above.
        _ => return Err(FilterError::Unsupported("an architecture other than x86, arm, riscv64, ppc64le or s390x")),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn default_profile() -> LinuxSeccomp {
        let caps: BTreeSet<String> =
            crate::container::security::DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
        super::super::default_filter(&caps)
    }

    #[test]
    fn compiles_once_and_reads_the_cache_after() {
        let dir = tempfile::tempdir().unwrap();
        let profile = default_profile();
        let first = CompiledFilter::for_profile(dir.path(), &profile).unwrap();
        assert!(first.len() > 100 && first.len() <= MAX_INSTRUCTIONS, "{} instructions", first.len());
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "one cached program: {files:?}");
        // The cached bytes are what is loaded the second time, whatever compiling would give.
        let cached = std::fs::read(&files[0]).unwrap();
        let mut altered = cached.clone();
        altered[4] ^= 0x01;
        std::fs::write(&files[0], &altered).unwrap();
        let second = CompiledFilter::for_profile(dir.path(), &profile).unwrap();
        assert_ne!(first, second);
        assert_eq!(second.program, decode(&altered).unwrap());
    }

    #[test]
    fn a_damaged_cache_entry_is_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let profile = default_profile();
        let good = CompiledFilter::for_profile(dir.path(), &profile).unwrap();
        let path = dir.path().join(format!("{}.bpf", digest(&profile)));
        std::fs::write(&path, b"not a multiple of eight").unwrap();
        assert_eq!(CompiledFilter::for_profile(dir.path(), &profile).unwrap(), good);
        assert_eq!(std::fs::read(&path).unwrap().len(), good.len() * INSTRUCTION_SIZE);
    }

    #[test]
    fn profiles_that_differ_get_programs_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut caps: BTreeSet<String> =
            crate::container::security::DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
        let plain = CompiledFilter::for_profile(dir.path(), &default_profile()).unwrap();
        caps.insert("CAP_SYS_ADMIN".into());
        let admin = CompiledFilter::for_profile(dir.path(), &super::super::default_filter(&caps)).unwrap();
        assert_ne!(plain, admin);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn notify_is_refused_with_a_clear_error() {
        let mut profile = default_profile();
        profile.set_default_action(LinuxSeccompAction::ScmpActNotify);
        let error = CompiledFilter::for_profile(tempfile::tempdir().unwrap().path(), &profile).unwrap_err();
        assert_eq!(error.to_string(), "the seccomp profile uses SCMP_ACT_NOTIFY, which berth does not support");
    }
}
