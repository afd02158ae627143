//! Root file systems for test images, built from Debian packages on this machine
//! (DESIGN.md, "Facts found on these machines").

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Where Debian's busybox-static puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Fills `dir` with a busybox rootfs: `/bin/busybox` and its applet links,
/// a minimal /etc/passwd and /etc/group, and /tmp with mode 1777.
pub fn busybox(dir: &Path) -> std::io::Result<()> {
    let busybox = Path::new(BUSYBOX);
    if !busybox.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "/bin/busybox is missing: install Debian's busybox-static (.ci/run does)",
        ));
    }
    for sub in ["bin", "etc", "tmp", "root", "home", "var", "proc", "sys", "dev"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy(busybox, dir.join("bin/busybox"))?;
    // The applet list comes from busybox itself; links are relative so they
    // resolve inside the container, not on the host.
    let list = Command::new(busybox).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines().map(str::trim).filter(|a| !a.is_empty()) {
        if applet == "busybox" {
            continue;
        }
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", &link)?;
        }
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nappuser:x:1000:1000:app:/home/appuser:/bin/sh\n",
    )?;
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\ndaemon:x:1:\nusers:x:100:appuser\nnogroup:x:65534:\nappuser:x:1000:\n",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_rootfs_has_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        busybox(dir.path()).unwrap();
        assert!(dir.path().join("bin/busybox").is_file());
        assert_eq!(std::fs::read_link(dir.path().join("bin/sh")).unwrap(), Path::new("busybox"));
        let mode = std::fs::metadata(dir.path().join("tmp")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o1777);
    }
}
