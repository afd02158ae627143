//! Keeping an idle monitor small. Starting a container touches a lot of the
//! berth binary (spec generation, libcontainer, serde); supervising it needs
//! a few pages. Once the container runs, the monitor drops its mappings of the
//! file pages startup touched (code and constants, read again from the file if
//! ever needed), so an idle monitor's RSS is what its event loop uses.

/// `MADV_DONTNEED` over every file mapping of this process that holds no
/// private copy of a page: dropping those loses nothing.
pub(super) fn release_startup_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return };
    let mut candidate: Option<(usize, usize)> = None;
    let mut private_copies = 0u64;
    let flush = |candidate: &mut Option<(usize, usize)>, private_copies: u64| {
        if let Some((start, len)) = candidate.take()
            && private_copies == 0
        {
            drop_pages(start, len);
        }
    };
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            // A mapping's header: start-end perms offset dev inode path
            [range, perms, _, _, _, path, ..] if range.contains('-') && !range.ends_with(':') => {
                flush(&mut candidate, private_copies);
                private_copies = 0;
                let Some((start, end)) = range.split_once('-') else { continue };
                if let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
                    && path.starts_with('/')
                    && !perms.contains('w')
                {
                    candidate = Some((start, end - start));
                }
            }
            // Pages of the file this process changed (relocations): those must stay.
            ["Anonymous:", kb, ..] | ["Private_Dirty:", kb, ..] => private_copies += kb.parse::<u64>().unwrap_or(1),
            _ => {}
        }
    }
    flush(&mut candidate, private_copies);
}

#[allow(unsafe_code)]
fn drop_pages(start: usize, len: usize) {
    // SAFETY: the range is a read-only file mapping of this (single-threaded)
    // process with no page privately modified (checked in /proc/self/smaps just
    // now); MADV_DONTNEED then only drops page-table entries, and the next
    // access reads the same bytes from the file (a running executable or
    // library cannot be written to: ETXTBSY, and package updates replace files).
    let result = unsafe { rustix::mm::madvise(start as *mut std::ffi::c_void, len, rustix::mm::Advice::LinuxDontNeed) };
    if let Err(e) = result {
        tracing::debug!(error = %e, "madvise(MADV_DONTNEED) refused");
    }
    // SAFETY: as above; MADV_RANDOM only changes how later faults read the file.
    // Without it each fault maps the 16 pages around it (fault-around), and the
    // event loop's few pages of code would bring back ~1 MB.
    let result = unsafe { rustix::mm::madvise(start as *mut std::ffi::c_void, len, rustix::mm::Advice::Random) };
    if let Err(e) = result {
        tracing::debug!(error = %e, "madvise(MADV_RANDOM) refused");
    }
}
