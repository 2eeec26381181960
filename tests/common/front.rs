//! A front before a real server for the failures a server rarely produces on demand: TLS
//! termination (as a hospital's reverse proxy does before Orthanc), an answer cut after so many
//! bytes (a dropped connection mid-download), and a server that accepts but never answers.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

pub enum Mode {
    /// Terminate TLS with the test certificate (tests/data/tls), relay plain HTTP.
    Tls,
    /// Relay, and close both sides once the server has sent this many bytes.
    CutAfter(usize),
    /// Accept and read, never answer.
    Silent,
}

/// A listening front on a free localhost port; its threads end with the test process.
pub struct Front {
    pub port: u16,
}

impl Front {
    /// A front for the server on localhost:`target` (unused for [`Mode::Silent`]).
    pub fn start(target: u16, mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tls = matches!(mode, Mode::Tls).then(server_config);
        let mode = Arc::new(mode);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (mode, tls) = (Arc::clone(&mode), tls.clone());
                std::thread::spawn(move || {
                    let _ = match *mode {
                        Mode::Silent => silent(client),
                        Mode::CutAfter(limit) => relay(client, target, limit),
                        Mode::Tls => terminate(client, target, tls.unwrap()),
                    };
                });
            }
        });
        Self { port }
    }
}

fn silent(mut client: TcpStream) -> io::Result<()> {
    let mut sink = [0u8; 4096];
    while client.read(&mut sink)? > 0 {}
    Ok(())
}

fn relay(client: TcpStream, target: u16, limit: usize) -> io::Result<()> {
    let server = TcpStream::connect(("127.0.0.1", target))?;
    let (mut up_from, mut up_to) = (client.try_clone()?, server.try_clone()?);
    std::thread::spawn(move || {
        let _ = io::copy(&mut up_from, &mut up_to);
    });
    let (mut from, mut to) = (server, client);
    let mut sent = 0;
    let mut buffer = [0u8; 16384];
    while sent < limit {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        let n = n.min(limit - sent);
        to.write_all(&buffer[..n])?;
        sent += n;
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
    Ok(())
}

fn server_config() -> Arc<rustls::ServerConfig> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let pem = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let certs = ureq::tls::parse_pem(&pem("server.pem"))
        .filter_map(|item| match item.unwrap() {
            ureq::tls::PemItem::Certificate(c) => {
                Some(rustls::pki_types::CertificateDer::from(c.der().to_vec()))
            }
            _ => None,
        })
        .collect();
    let key = ureq::tls::parse_pem(&pem("server.key"))
        .find_map(|item| match item.unwrap() {
            ureq::tls::PemItem::PrivateKey(k) => {
                Some(rustls::pki_types::PrivateKeyDer::try_from(k.der().to_vec()).unwrap())
            }
            _ => None,
        })
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// One TLS connection relayed to plain TCP: both sockets polled with a short read timeout.
fn terminate(
    mut client: TcpStream,
    target: u16,
    config: Arc<rustls::ServerConfig>,
) -> io::Result<()> {
    let mut server = TcpStream::connect(("127.0.0.1", target))?;
    let tick = Some(Duration::from_millis(2));
    client.set_read_timeout(tick)?;
    server.set_read_timeout(tick)?;
    let mut tls = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut buffer = [0u8; 16384];
    let waiting = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };
    loop {
        if tls.wants_read() {
            match tls.read_tls(&mut client) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    // A client that does not trust the certificate ends the handshake here.
                    if let Err(e) = tls.process_new_packets() {
                        let _ = tls.write_tls(&mut client);
                        return Err(io::Error::other(e));
                    }
                }
                Err(e) if waiting(&e) => {}
                Err(e) => return Err(e),
            }
        }
        loop {
            match tls.reader().read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => server.write_all(&buffer[..n])?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !tls.is_handshaking() {
            match server.read(&mut buffer) {
                Ok(0) => {
                    tls.send_close_notify();
                    while tls.wants_write() {
                        tls.write_tls(&mut client)?;
                    }
                    return Ok(());
                }
                Ok(n) => tls.writer().write_all(&buffer[..n])?,
                Err(e) if waiting(&e) => {}
                Err(e) => return Err(e),
            }
        }
        while tls.wants_write() {
            tls.write_tls(&mut client)?;
        }
    }
}
