//! A TCP proxy on 127.0.0.1 that breaks one response on purpose: the first
//! time a request line contains a given text, the answer is cut off after a
//! number of bytes and the connection closed — a network failure in the
//! middle of a download, for testing retries against a real registry.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug)]
pub struct CuttingProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CuttingProxy {
    /// Proxies to `target`; cuts the answer to the first request whose bytes contain `needle` after `keep` bytes.
    pub fn start(target: SocketAddr, needle: &str, keep: usize) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let cut_done = Arc::new(AtomicBool::new(false));
        let (stop_flag, needle) = (stop.clone(), needle.as_bytes().to_vec());
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else { continue };
                let cut_here = Arc::new(AtomicBool::new(false));
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (needle, cut_done, cut_flag) = (needle.clone(), cut_done.clone(), cut_here.clone());
                // Client to server: watch the requests for the needle.
                std::thread::spawn(move || {
                    pump(c2, s2, |chunk| {
                        if !cut_done.load(Ordering::SeqCst) && chunk.windows(needle.len()).any(|w| w == needle) {
                            cut_done.store(true, Ordering::SeqCst);
                            cut_flag.store(true, Ordering::SeqCst);
                        }
                        None
                    })
                });
                // Server to client: once marked, pass `keep` bytes more, then hang up.
                std::thread::spawn(move || {
                    let mut left = keep;
                    pump(server, client, move |chunk| {
                        if !cut_here.load(Ordering::SeqCst) {
                            return None;
                        }
                        let pass = left.min(chunk.len());
                        left -= pass;
                        Some(pass)
                    })
                });
            }
        });
        CuttingProxy { addr, stop, thread: Some(thread) }
    }

    /// `127.0.0.1:PORT`, to use as the registry part of a reference.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }
}

/// Copies `from` to `to`; `inspect` may limit a chunk to its first n bytes, after which the copy ends.
fn pump(mut from: TcpStream, mut to: TcpStream, mut inspect: impl FnMut(&[u8]) -> Option<usize>) {
    let _ = from.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match inspect(&buffer[..n]) {
            None => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Some(pass) => {
                let _ = to.write_all(&buffer[..pass]);
                if pass < n {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
