//! cgroup resources: devices, memory, CPU and pids.

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder,
};

use super::SpecError;
use crate::container::cgroup::CgroupSetup;
use crate::container::limits::{CPU_PERIOD_US, Resources};

/// Devices are denied, then the runtime allows the standard ones (null, zero,
/// full, random, urandom, tty, ptmx, pts), as Docker's default.
pub(super) fn build(resources: &Resources, cgroup: CgroupSetup) -> Result<LinuxResources, SpecError> {
    let mut builder = LinuxResourcesBuilder::default()
        .devices(vec![LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build()?]);
    if let Some(memory) = resources.memory {
        let mut limits = LinuxMemoryBuilder::default().limit(memory as i64);
        if let Some(swap) = resources.effective_memory_swap()
            && cgroup.swap_accounting
        {
            limits = limits.swap(swap);
        }
        builder = builder.memory(limits.build()?);
    }
    if resources.cpu_shares.is_some() || resources.nano_cpus.is_some() {
        let mut cpu = LinuxCpuBuilder::default();
        if let Some(shares) = resources.cpu_shares {
            cpu = cpu.shares(shares);
        }
        if let Some(quota) = resources.cpu_quota_us() {
            cpu = cpu.quota(quota).period(CPU_PERIOD_US);
        }
        builder = builder.cpu(cpu.build()?);
    }
    if let Some(limit) = resources.effective_pids_limit() {
        builder = builder.pids(LinuxPidsBuilder::default().limit(limit).build()?);
    }
    Ok(builder.build()?)
}
