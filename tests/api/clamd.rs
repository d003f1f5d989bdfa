//! A real clamd for the tests: its own directory under `target/`, a one-signature database
//! matching [`ClamdProcess::MARKER`], its own port, and the client's behaviour against it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tipsa::attachments::scan::{Clamd, ScanError, ScannerAddress, Verdict};

/// A clamd process of its own, killed on Drop.
pub struct ClamdProcess {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl ClamdProcess {
    /// Bytes that the test database flags (signature `Tipsa.Test.Marker-1`).
    pub const MARKER: &str = "TIPSA-TEST-MALWARE-MARKER-7f3a";
    /// The name clamd reports: non-official databases' names get `.UNOFFICIAL`.
    pub const SIGNATURE: &str = "Tipsa.Test.Marker-1.UNOFFICIAL";

    /// Starts clamd with room for 64 MiB streams (our files go up to 25 MB).
    pub fn start() -> ClamdProcess {
        Self::start_with_stream_max_length("64M")
    }

    /// Starts clamd with `StreamMaxLength` set to `limit` (clamd's size syntax, e.g. "1M").
    pub fn start_with_stream_max_length(limit: &str) -> ClamdProcess {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        // Short, because the Unix socket's path must stay under 108 bytes.
        let unique = format!(
            "{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/tipsa-test-clamd")
            .join(unique);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A body signature (`.ndb`: name, any file type, any offset, hex of the bytes).
        std::fs::write(
            dir.join("tipsa-test.ndb"),
            format!(
                "Tipsa.Test.Marker-1:0:*:{}\n",
                hex::encode(Self::MARKER.as_bytes())
            ),
        )
        .unwrap();
        // A free port can be taken by someone else before clamd binds it: try a few.
        for _ in 0..3 {
            let port = crate::helpers::free_port();
            write_config(&dir, port, limit);
            let child = spawn_clamd(&dir);
            let mut clamd = ClamdProcess {
                dir: dir.clone(),
                port,
                child: Some(child),
            };
            if clamd.wait_until_ready(Duration::from_secs(30)) {
                return clamd;
            }
            clamd.stop();
        }
        panic!(
            "clamd did not start; install Debian's clamav-daemon. Its output:\n{}\n{}",
            std::fs::read_to_string(dir.join("clamd.out")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("clamd.log")).unwrap_or_default()
        );
    }

    /// True once PING answers PONG; false if clamd exits or `limit` passes first.
    fn wait_until_ready(&mut self, limit: Duration) -> bool {
        let port = self.port;
        crate::helpers::wait_for_server(self.child.as_mut(), limit, || raw_ping(port))
    }

    /// "tcp:127.0.0.1:PORT", as Tipsa's configuration takes it.
    pub fn address(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }

    /// "unix:/…/clamd.sock", the same daemon on its local socket.
    pub fn unix_address(&self) -> String {
        format!("unix:{}", self.dir.join("clamd.sock").display())
    }

    /// A client for this daemon over TCP.
    pub fn client(&self, timeout: Duration) -> Clamd {
        Clamd::new(self.address().parse().unwrap(), timeout)
    }

    /// Starts clamd again on the same port after `stop` (the outage is over).
    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(spawn_clamd(&self.dir));
        assert!(
            self.wait_until_ready(Duration::from_secs(30)),
            "clamd did not come back"
        );
    }

    /// Kills clamd, to simulate an outage.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs clamd with the configuration in `dir`, its output to `dir/clamd.out`.
fn spawn_clamd(dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("clamd.out")).unwrap();
    Command::new(clamd_binary())
        .arg(format!(
            "--config-file={}",
            dir.join("clamd.conf").display()
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("clamd did not start ({e}); install Debian's clamav-daemon"))
}

impl Drop for ClamdProcess {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_config(dir: &Path, port: u16, stream_max_length: &str) {
    let dir = dir.display();
    // DatabaseDirectory keeps clamd away from the system's /var/lib/clamav (a tiny database
    // loads in well under a second). No `User`: as root clamd then stays root, which the files
    // under target/ need. SelfCheck 0: no reloading behind a test's back. MaxFileSize and
    // MaxScanSize at least StreamMaxLength, or a larger file would pass unscanned as OK.
    let config = format!(
        "Foreground yes\n\
         DatabaseDirectory {dir}\n\
         TemporaryDirectory {dir}\n\
         TCPSocket {port}\n\
         TCPAddr 127.0.0.1\n\
         LocalSocket {dir}/clamd.sock\n\
         LogFile {dir}/clamd.log\n\
         PidFile {dir}/clamd.pid\n\
         StreamMaxLength {stream_max_length}\n\
         MaxFileSize 64M\n\
         MaxScanSize 256M\n\
         SelfCheck 0\n\
         Bytecode no\n"
    );
    std::fs::write(format!("{dir}/clamd.conf"), config).unwrap();
}

/// Debian puts clamd in /usr/sbin, which not every PATH holds.
fn clamd_binary() -> &'static str {
    if Path::new("/usr/sbin/clamd").exists() {
        "/usr/sbin/clamd"
    } else {
        "clamd"
    }
}

/// PING without the client under test, so a broken client cannot pass for a dead clamd.
fn raw_ping(port: u16) -> bool {
    let address = ([127, 0, 0, 1], port).into();
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = [0u8; 5];
    stream.write_all(b"zPING\0").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"PONG\0"
}

/// Deterministic bytes that no signature matches.
fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

const TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn clamd_ping_round_trip_over_tcp_and_unix_socket() {
    let clamd = ClamdProcess::start();
    clamd.client(TIMEOUT).ping().await.unwrap();
    let unix: ScannerAddress = clamd.unix_address().parse().unwrap();
    let client = Clamd::new(unix, TIMEOUT);
    client.ping().await.unwrap();
    assert_eq!(client.scan_bytes(b"hello").await.unwrap(), Verdict::Clean);
}

#[tokio::test]
async fn clamd_clean_bytes_are_clean() {
    let clamd = ClamdProcess::start();
    let verdict = clamd.client(TIMEOUT).scan_bytes(b"Hej, ett tips.").await;
    assert_eq!(verdict.unwrap(), Verdict::Clean);
}

#[tokio::test]
async fn clamd_finds_the_marker_in_the_middle_of_3_mib() {
    let clamd = ClamdProcess::start();
    let mut bytes = filler(3 << 20);
    let middle = bytes.len() / 2 + 12_345; // not on a 64 KiB chunk boundary either
    bytes.splice(middle..middle, ClamdProcess::MARKER.bytes());
    let verdict = clamd.client(TIMEOUT).scan_bytes(&bytes).await.unwrap();
    let signature = ClamdProcess::SIGNATURE.to_owned();
    assert_eq!(verdict, Verdict::Infected { signature });
}

#[tokio::test]
async fn clamd_scans_a_20_mib_stream_in_chunks() {
    let clamd = ClamdProcess::start();
    let client = clamd.client(TIMEOUT);
    let chunks = futures_util::stream::iter((0..20).map(|_| Ok(filler(1 << 20))));
    let verdict = client.scan_chunks(chunks).await;
    assert_eq!(verdict.unwrap(), Verdict::Clean);
    // The marker split across two chunks is still found: clamd sees one stream.
    let (head, tail) = ClamdProcess::MARKER.split_at(10);
    let chunks = vec![Ok(filler(1000)), Ok(head.into()), Ok(tail.into())];
    let verdict = client.scan_chunks(futures_util::stream::iter(chunks)).await;
    assert!(matches!(verdict.unwrap(), Verdict::Infected { .. }));
}

#[tokio::test]
async fn clamd_refuses_a_stream_over_its_limit() {
    let clamd = ClamdProcess::start_with_stream_max_length("1M");
    // Far more than the limit: clamd answers and closes while the client is still writing, so
    // a client that read the reply only after writing everything would see a broken pipe.
    let result = clamd.client(TIMEOUT).scan_bytes(&filler(16 << 20)).await;
    match result {
        Err(ScanError::Refused(message)) => assert!(message.contains("size limit"), "{message}"),
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn clamd_stopped_is_unavailable_quickly() {
    let mut clamd = ClamdProcess::start();
    let client = clamd.client(TIMEOUT);
    client.ping().await.unwrap();
    clamd.stop();
    let started = Instant::now();
    let result = client.scan_bytes(b"anything").await;
    assert!(
        matches!(result, Err(ScanError::Unavailable(_))),
        "{result:?}"
    );
    assert!(matches!(
        client.ping().await,
        Err(ScanError::Unavailable(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Something that accepts connections and never answers: the timeout ends the exchange.
#[tokio::test]
async fn clamd_silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let address = format!("tcp:127.0.0.1:{port}").parse().unwrap();
    let client = Clamd::new(address, Duration::from_millis(300));
    let started = Instant::now();
    assert!(matches!(client.ping().await, Err(ScanError::Timeout)));
    assert!(matches!(
        client.scan_bytes(b"x").await,
        Err(ScanError::Timeout)
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
    hold.abort();
}
