//! A stand-in for the host's upstream resolver: a tiny DNS server on a
//! 127.0.0.x address of the test's choosing, so that forwarding is tested
//! without any query leaving the machine. It answers A queries for the names
//! it was given, NXDOMAIN for the rest, and remembers what it was asked.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

#[derive(Debug)]
pub struct DnsStub {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsStub {
    /// Serves `records` (name without trailing dot -> address) on `ip`:53/udp.
    pub fn start(ip: Ipv4Addr, records: &[(&str, Ipv4Addr)]) -> Self {
        let socket = UdpSocket::bind((ip, 53)).unwrap_or_else(|e| panic!("the stub DNS cannot bind {ip}:53: {e}"));
        socket.set_read_timeout(Some(Duration::from_millis(50))).expect("a read timeout");
        let addr = socket.local_addr().expect("a bound socket");
        let stop = Arc::new(AtomicBool::new(false));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let records: Vec<(String, Ipv4Addr)> = records.iter().map(|(n, ip)| (n.to_ascii_lowercase(), *ip)).collect();
        let thread = {
            let (stop, asked) = (Arc::clone(&stop), Arc::clone(&asked));
            std::thread::spawn(move || serve(socket, &records, &stop, &asked))
        };
        DnsStub { addr, stop, asked, thread: Some(thread) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The names asked so far (lower case, no trailing dot).
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("the stub thread does not panic").clone()
    }
}

fn serve(socket: UdpSocket, records: &[(String, Ipv4Addr)], stop: &AtomicBool, asked: &Mutex<Vec<String>>) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, client)) = socket.recv_from(&mut buf) else { continue };
        let Ok(query) = Message::from_vec(&buf[..len]) else { continue };
        let Some(question) = query.queries.first() else { continue };
        let name = question.name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        asked.lock().expect("no panic while held").push(name.clone());
        let mut response = Message::response(query.metadata.id, query.metadata.op_code);
        response.metadata.recursion_desired = query.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.queries.clone_from(&query.queries);
        match records.iter().find(|(n, _)| *n == name) {
            Some((_, ip)) if question.query_type == RecordType::A => {
                response.answers.push(Record::from_rdata(question.name.clone(), 30, RData::A(A(*ip))));
            }
            Some(_) => {}
            None => response.metadata.response_code = ResponseCode::NXDomain,
        }
        if let Ok(bytes) = response.to_vec() {
            let _ = socket.send_to(&bytes, client);
        }
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
