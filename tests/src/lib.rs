//! berth's test harness: the pieces end-to-end suites share (the `berth`
//! binary, fresh state directories, test images built from Debian packages).
//! The suites themselves are in `tests/`.

pub mod berth;
pub mod dns_stub;
pub mod images;
pub mod net_host;
pub mod netns;
pub mod proxy;
pub mod registry;
pub mod rootfs;
pub mod stack;
pub mod token;
