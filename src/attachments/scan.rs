//! A client for ClamAV's daemon (clamd): attachments are streamed to it with the INSTREAM
//! command, chunk by chunk, before an inspector may open them.
//!
//! The protocol is small enough to speak directly (see clamd(8)): `zINSTREAM\0`, then chunks as
//! a 4-byte big-endian length and the bytes, then a zero-length chunk; the reply ends in `\0`.
//! The `clamav-client` crate covers the framing but hands back raw replies and I/O errors, and
//! it reads the reply only after writing everything, so clamd's early "size limit exceeded"
//! answer is lost to a broken pipe; here the reply is read while the chunks are written.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest chunk sent in one frame; clamd buffers each chunk whole.
const CHUNK: usize = 64 * 1024;
/// clamd's replies are one short line; anything longer is not clamd.
const MAX_REPLY: usize = 4096;

/// Where clamd listens, written in configuration as `tcp:HOST:PORT` or `unix:/path`.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum ScannerAddress {
    /// `HOST:PORT`, as `TcpStream::connect` takes it.
    Tcp(String),
    Unix(PathBuf),
}

impl FromStr for ScannerAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("tcp:") {
            let valid = rest
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if valid {
                return Ok(ScannerAddress::Tcp(rest.to_owned()));
            }
            return Err(format!("{s:?}: expected tcp:HOST:PORT"));
        }
        if let Some(path) = s.strip_prefix("unix:") {
            // A relative path would depend on the directory the service was started in.
            if path.starts_with('/') {
                return Ok(ScannerAddress::Unix(PathBuf::from(path)));
            }
            return Err(format!("{s:?}: expected unix:/absolute/path"));
        }
        Err(format!("{s:?}: expected tcp:HOST:PORT or unix:/path"))
    }
}

impl TryFrom<String> for ScannerAddress {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::fmt::Display for ScannerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScannerAddress::Tcp(address) => write!(f, "tcp:{address}"),
            ScannerAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    Infected { signature: String },
}

/// What went wrong; no variant ever carries file content.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("virus scanner unavailable: {0}")]
    Unavailable(String),
    /// clamd answered ERROR, e.g. "INSTREAM size limit exceeded".
    #[error("virus scanner refused the file: {0}")]
    Refused(String),
    #[error("virus scanner protocol error: {0}")]
    Protocol(String),
    #[error("virus scan timed out")]
    Timeout,
}

#[derive(Debug, Clone)]
pub struct Clamd {
    address: ScannerAddress,
    timeout: Duration,
}

trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

impl Clamd {
    /// `timeout` bounds each whole exchange: connecting, sending and the verdict.
    pub fn new(address: ScannerAddress, timeout: Duration) -> Self {
        Clamd { address, timeout }
    }

    pub fn address(&self) -> &ScannerAddress {
        &self.address
    }

    /// PING → PONG: clamd is up and answering.
    pub async fn ping(&self) -> Result<(), ScanError> {
        self.bounded(async {
            let mut conn = self.connect().await?;
            conn.write_all(b"zPING\0").await.map_err(lost)?;
            let reply = read_reply(&mut conn).await?;
            match reply.as_slice() {
                b"PONG" => Ok(()),
                _ => Err(ScanError::Protocol(unexpected(&reply))),
            }
        })
        .await
    }

    /// Scans the bytes handed over chunk by chunk (so a 25 MB file is never needed whole): the
    /// caller gives an async source of chunks. An error from the source ends the scan with
    /// that error; clamd discards a stream that ends without its terminating chunk.
    pub async fn scan_chunks<S>(&self, chunks: S) -> Result<Verdict, ScanError>
    where
        S: Stream<Item = Result<Vec<u8>, ScanError>> + Unpin,
    {
        self.bounded(async { instream(self.connect().await?, chunks).await })
            .await
    }

    /// Convenience for bytes already in memory, sent in 64 KiB chunks.
    pub async fn scan_bytes(&self, bytes: &[u8]) -> Result<Verdict, ScanError> {
        let chunks = futures_util::stream::iter(bytes.chunks(CHUNK).map(|c| Ok(c.to_vec())));
        self.scan_chunks(chunks).await
    }

    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, ScanError>>,
    ) -> Result<T, ScanError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ScanError::Timeout)?
    }

    async fn connect(&self) -> Result<Box<dyn Duplex>, ScanError> {
        let conn: std::io::Result<Box<dyn Duplex>> = match &self.address {
            ScannerAddress::Tcp(address) => tokio::net::TcpStream::connect(address.as_str())
                .await
                .map(|s| Box::new(s) as Box<dyn Duplex>),
            ScannerAddress::Unix(path) => tokio::net::UnixStream::connect(path)
                .await
                .map(|s| Box::new(s) as Box<dyn Duplex>),
        };
        conn.map_err(|e| ScanError::Unavailable(format!("connecting to {}: {e}", self.address)))
    }
}

fn lost(e: std::io::Error) -> ScanError {
    ScanError::Unavailable(format!("connection to clamd lost: {e}"))
}

fn unexpected(reply: &[u8]) -> String {
    // Not the reply itself: whatever answers on the port might echo the file back.
    format!("unexpected reply from clamd ({} bytes)", reply.len())
}

enum SendFailure {
    /// The caller's chunk source failed; clamd is still waiting for more, so do not wait for it.
    Source(ScanError),
    Io(std::io::Error),
}

/// One INSTREAM exchange on an open connection; generic so tests can play clamd in memory.
async fn instream<RW, S>(conn: RW, mut chunks: S) -> Result<Verdict, ScanError>
where
    RW: AsyncRead + AsyncWrite + Unpin,
    S: Stream<Item = Result<Vec<u8>, ScanError>> + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(conn);
    let send = async {
        writer
            .write_all(b"zINSTREAM\0")
            .await
            .map_err(SendFailure::Io)?;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(SendFailure::Source)?;
            // An empty chunk yields no pieces: a zero length would end the stream early.
            for piece in chunk.chunks(CHUNK) {
                let len = u32::try_from(piece.len()).unwrap_or(u32::MAX).to_be_bytes();
                writer.write_all(&len).await.map_err(SendFailure::Io)?;
                writer.write_all(piece).await.map_err(SendFailure::Io)?;
            }
        }
        writer.write_all(&[0; 4]).await.map_err(SendFailure::Io)?;
        writer.flush().await.map_err(SendFailure::Io)
    };
    let receive = read_reply(&mut reader);
    let mut send = std::pin::pin!(send);
    let mut receive = std::pin::pin!(receive);
    // clamd answers before the stream ends when it refuses it (size limit) and then closes;
    // reading while writing keeps that answer instead of a broken pipe.
    let reply = tokio::select! {
        reply = &mut receive => reply?,
        sent = &mut send => match sent {
            Ok(()) => receive.await?,
            Err(SendFailure::Source(e)) => return Err(e),
            Err(SendFailure::Io(e)) => receive.await.map_err(|_| lost(e))?,
        },
    };
    parse_reply(&reply)
}

/// Reads one reply up to its `\0` (or the end of the connection), without the terminator.
async fn read_reply<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, ScanError> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = reader.read(&mut buf).await.map_err(lost)?;
        if n == 0 {
            if reply.is_empty() {
                return Err(ScanError::Unavailable(
                    "clamd closed the connection without a reply".into(),
                ));
            }
            return Ok(reply);
        }
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            reply.extend_from_slice(&buf[..end]);
            return Ok(reply);
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.len() > MAX_REPLY {
            return Err(ScanError::Protocol(unexpected(&reply)));
        }
    }
}

/// Parses clamd's answer to INSTREAM: `stream: OK`, `stream: <Signature> FOUND`, or
/// `<message> ERROR` (e.g. `INSTREAM size limit exceeded. ERROR`).
pub fn parse_reply(reply: &[u8]) -> Result<Verdict, ScanError> {
    let text = std::str::from_utf8(reply)
        .map_err(|_| ScanError::Protocol(unexpected(reply)))?
        .trim_end_matches(['\0', '\n', '\r', ' ']);
    if let Some(message) = text.strip_suffix(" ERROR") {
        let message = message.strip_prefix("stream: ").unwrap_or(message);
        return Err(ScanError::Refused(message.trim_end_matches('.').to_owned()));
    }
    match text.strip_prefix("stream: ") {
        Some("OK") => Ok(Verdict::Clean),
        Some(found) => match found.strip_suffix(" FOUND") {
            Some(signature) if !signature.trim().is_empty() => Ok(Verdict::Infected {
                signature: signature.trim().to_owned(),
            }),
            _ => Err(ScanError::Protocol(unexpected(reply))),
        },
        None => Err(ScanError::Protocol(unexpected(reply))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        let tcp = |s: &str| ScannerAddress::Tcp(s.into());
        assert_eq!("tcp:127.0.0.1:3310".parse(), Ok(tcp("127.0.0.1:3310")));
        assert_eq!("tcp:[::1]:3310".parse(), Ok(tcp("[::1]:3310")));
        assert_eq!(
            "tcp:clamd.internal:3310".parse(),
            Ok(tcp("clamd.internal:3310"))
        );
        let unix = ScannerAddress::Unix("/run/clamav/clamd.ctl".into());
        assert_eq!("unix:/run/clamav/clamd.ctl".parse(), Ok(unix.clone()));
        assert_eq!(unix.to_string(), "unix:/run/clamav/clamd.ctl");
        let bad = "127.0.0.1:3310 tcp: tcp:host tcp::3310 tcp:host:99999 tcp:host:port unix: \
                   unix:clamd.ctl udp:host:3310 TCP:host:3310";
        for bad in bad.split_whitespace().chain([""]) {
            assert!(
                bad.parse::<ScannerAddress>().is_err(),
                "{bad:?} was accepted"
            );
        }
        #[derive(serde::Deserialize)]
        struct Scanner {
            address: ScannerAddress,
        }
        let s: Scanner = toml::from_str(r#"address = "tcp:127.0.0.1:3310""#).unwrap();
        assert_eq!(s.address, tcp("127.0.0.1:3310"));
        assert!(toml::from_str::<Scanner>(r#"address = "127.0.0.1:3310""#).is_err());
    }

    #[test]
    fn replies_parse() {
        assert_eq!(parse_reply(b"stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(parse_reply(b"stream: OK\0").unwrap(), Verdict::Clean);
        let found = parse_reply(b"stream: Tipsa.Test.Marker-1.UNOFFICIAL FOUND").unwrap();
        let signature = "Tipsa.Test.Marker-1.UNOFFICIAL".to_owned();
        assert_eq!(found, Verdict::Infected { signature });
        match parse_reply(b"INSTREAM size limit exceeded. ERROR") {
            Err(ScanError::Refused(m)) => assert_eq!(m, "INSTREAM size limit exceeded"),
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"PONG"[..],
            b"stream: FOUND",
            b"stream: maybe",
            b"",
            b"\xff FOUND",
        ] {
            assert!(
                matches!(parse_reply(bad), Err(ScanError::Protocol(_))),
                "{bad:?}"
            );
        }
    }

    /// Plays clamd in memory: the framing on the wire, and an early refusal.
    #[tokio::test]
    async fn instream_frames_chunks_and_keeps_an_early_answer() {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let fake = tokio::spawn(async move {
            let mut wire = Vec::new();
            server.read_to_end(&mut wire).await.map(|_| wire)
        });
        let chunks: Vec<Result<Vec<u8>, ScanError>> = vec![Ok(b"ab".to_vec()), Ok(vec![])];
        let chunks = futures_util::stream::iter(chunks.into_iter().chain([Ok(vec![7; CHUNK + 1])]));
        // The fake never answers; the client has sent everything when it waits for a reply.
        let scan = tokio::time::timeout(Duration::from_millis(200), instream(client, chunks));
        assert!(scan.await.is_err());
        let wire = fake.await.unwrap().unwrap();
        let mut expected = b"zINSTREAM\0\0\0\0\x02ab\0\x01\0\0".to_vec();
        expected.extend(vec![7; CHUNK]);
        expected.extend(b"\0\0\0\x01\x07\0\0\0\0");
        assert_eq!(wire, expected);

        let (client, mut server) = tokio::io::duplex(1024);
        tokio::spawn(async move {
            let _ = server
                .write_all(b"INSTREAM size limit exceeded. ERROR\0")
                .await;
        });
        let endless = futures_util::stream::repeat_with(|| Ok(vec![1; 4096]));
        let refused = instream(client, endless).await;
        assert!(matches!(refused, Err(ScanError::Refused(_))), "{refused:?}");
    }
}
