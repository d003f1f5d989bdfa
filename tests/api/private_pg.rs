//! A PostgreSQL cluster of a test's own, which the test may crash, stop and start (the shared
//! server on 127.0.0.1:5432 is never touched): initialised and first started by the embedded
//! default's code (`LocalCluster`), then driven with `pg_ctl` as the cluster's system user.

use std::path::{Path, PathBuf};
use std::process::Command;

use tipsa::db::embedded::LocalCluster;

use crate::helpers::base_settings;

/// A PostgreSQL cluster of the test's own under `target/node-runs/`, which it may crash, stop
/// and start (initialised and first started by the same code as the embedded default).
pub struct PrivatePostgres {
    root: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
    run_as: Option<String>,
}

impl PrivatePostgres {
    pub fn start(root: &Path) -> PrivatePostgres {
        let settings = base_settings().embedded_postgres;
        let cluster = LocalCluster::start(root, &settings).expect("starting a private cluster");
        let root = root.canonicalize().unwrap();
        let running_as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let pg_ctl = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .flatten()
            .map(|e| e.path().join("bin/pg_ctl"))
            .filter(|p| p.exists())
            .max()
            .expect("pg_ctl under /usr/lib/postgresql");
        PrivatePostgres {
            root,
            port: cluster.port(),
            pg_ctl,
            run_as: running_as_root.then_some(settings.run_as_user),
        }
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.root.join("data");
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&self.pg_ctl);
                c
            }
            None => Command::new(&self.pg_ctl),
        };
        // Always with -l: without it the server would hold our stdout pipe open.
        let output = command
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A crash restart: every backend killed at once, crash recovery on start.
    pub fn crash_restart(&self) {
        self.pg_ctl(&["-m", "immediate", "-w", "-t", "60", "restart"]);
    }

    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.root.display()
        );
        self.pg_ctl(&["-w", "-t", "60", "-o", &options, "start"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.root.join("data");
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&self.pg_ctl);
                c
            }
            None => Command::new(&self.pg_ctl),
        };
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&data);
    }
}
