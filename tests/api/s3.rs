//! A real S3-compatible server for the tests: moto's in-memory S3 (PyPI `moto[server]`) on its
//! own port, killed on Drop, with buckets made over plain HTTP and an object_store client of
//! its own to look at what Tipsa wrote.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tipsa::config::{Settings, StorageKind};

pub const REGION: &str = "us-east-1";

/// A moto server process of its own.
pub struct MotoServer {
    port: u16,
    child: Option<Child>,
}

impl MotoServer {
    /// Starts moto and waits until it answers HTTP.
    pub fn start() -> MotoServer {
        let mut last_output = String::new();
        // A free port can be taken by someone else before moto binds it: try a few.
        for _ in 0..3 {
            let port = crate::helpers::free_port();
            let log = std::env::temp_dir().join(format!("tipsa-moto-{port}.log"));
            let out = std::fs::File::create(&log).unwrap();
            let child = Command::new("python3")
                .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("python3 did not start ({e}); install python3 and `pip install 'moto[server]'`"));
            let mut moto = MotoServer {
                port,
                child: Some(child),
            };
            if moto.wait_until_ready(Duration::from_secs(30)) {
                let _ = std::fs::remove_file(&log);
                return moto;
            }
            moto.stop();
            last_output = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
        }
        panic!(
            "moto's S3 server did not start; install the PyPI package with `pip install 'moto[server]'`. Its output:\n{last_output}"
        );
    }

    fn wait_until_ready(&mut self, limit: Duration) -> bool {
        let port = self.port;
        crate::helpers::wait_for_server(self.child.as_mut(), limit, || raw_http_answers(port))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (object_store cannot; moto takes an unsigned PUT).
    pub async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "creating bucket {bucket}: {}",
            response.status()
        );
    }

    /// Points `settings` at `bucket` on this server, with S3 as where new files go.
    pub fn configure(&self, settings: &mut Settings, bucket: &str) {
        let storage = &mut settings.attachments.storage;
        storage.kind = StorageKind::S3;
        storage.s3.bucket = Some(bucket.to_owned());
        storage.s3.endpoint = Some(self.endpoint());
        storage.s3.region = Some(REGION.to_owned());
        storage.s3.access_key_id = Some("tipsa-test".to_owned());
        storage.s3.secret_access_key = Some("tipsa-test-secret".to_owned().into());
        storage.s3.allow_http = true;
        storage.s3.prefix = "attachments/".to_owned();
    }

    /// A client of our own, independent of Tipsa's.
    pub fn client(&self, bucket: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(self.endpoint())
            .with_region(REGION)
            .with_access_key_id("tipsa-test")
            .with_secret_access_key("tipsa-test-secret")
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .unwrap()
    }

    /// Every object name in `bucket` under `prefix`, sorted.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let client = self.client(bucket);
        let prefix = Path::parse(prefix).unwrap();
        let mut names: Vec<String> = client
            .list(Some(&prefix))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap();
        names.sort();
        names
    }

    /// One object's bytes.
    pub async fn get(&self, bucket: &str, name: &str) -> Vec<u8> {
        let client = self.client(bucket);
        let found = client.get(&Path::parse(name).unwrap()).await.unwrap();
        found.bytes().await.unwrap().to_vec()
    }

    /// Writes an object (to tamper with what Tipsa stored).
    pub async fn put(&self, bucket: &str, name: &str, bytes: Vec<u8>) {
        let client = self.client(bucket);
        client
            .put(&Path::parse(name).unwrap(), bytes.into())
            .await
            .unwrap();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Any HTTP answer, without the clients under test.
fn raw_http_answers(port: u16) -> bool {
    let address = ([127, 0, 0, 1], port).into();
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = [0u8; 8];
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && reply.starts_with(b"HTTP/1.")
}

#[tokio::test]
async fn attachments_s3_moto_takes_and_lists_objects() {
    let moto = MotoServer::start();
    moto.create_bucket("harness").await;
    moto.put("harness", "a/b/1", b"one".to_vec()).await;
    assert_eq!(moto.list("harness", "a/").await, ["a/b/1"]);
    assert_eq!(moto.get("harness", "a/b/1").await, b"one");
}
