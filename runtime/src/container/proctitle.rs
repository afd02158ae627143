//! The command line `ps` shows for this process (/proc/self/cmdline),
//! rewritten in place within the room the original arguments took: a monitor
//! forked from the spawner would otherwise show as the spawner. (prctl's
//! PR_SET_MM needs CAP_SYS_RESOURCE, which root lacks on some hosts.)

/// Shows `words` as this process's arguments (truncated to the room there is)
/// and `name` as its short name (`comm`, 15 bytes at most).
pub fn set(name: &str, words: &[&str]) {
    if let Ok(name) = std::ffi::CString::new(name) {
        let _ = nix::sys::prctl::set_name(&name);
    }
    let Some((start, end)) = argument_area() else { return };
    let mut title: Vec<u8> = words.iter().flat_map(|w| w.bytes().chain([0])).collect();
    title.resize(end - start, 0);
    // The last byte stays NUL: the kernel then shows exactly these words.
    if let Some(last) = title.last_mut() {
        *last = 0;
    }
    write(start, &title);
}

#[allow(unsafe_code)]
fn write(start: usize, bytes: &[u8]) {
    // SAFETY: [start, start + len) is this process's argument area as the
    // kernel reports it (/proc/self/stat arg_start..arg_end): mapped, writable
    // stack memory holding the argv strings. Nothing else writes it; the
    // process is single-threaded (the monitor) and std only reads it as C
    // strings, which stay NUL-terminated.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, bytes.len()) }
}

/// `arg_start` and `arg_end` from /proc/self/stat (fields 48 and 49).
fn argument_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces; the first is field 3.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().skip(48 - 3);
    let start: usize = fields.next()?.parse().ok()?;
    let end: usize = fields.next()?.parse().ok()?;
    (end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_area_is_where_the_arguments_are() {
        let (start, end) = argument_area().unwrap();
        let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
        assert_eq!(end - start, cmdline.len());
    }
}
