//! The embedded default (DESIGN §3): with no database URL configured, Tipsa runs a private
//! PostgreSQL cluster under `var_dir/pg` from the PostgreSQL binaries installed on the machine.
//!
//! The cluster is initialised on first use and reused afterwards. When Tipsa runs as root the
//! cluster belongs to an unprivileged system user (default `postgres`), because `initdb` refuses
//! to run as root. The test harness uses the same code for its throwaway cluster.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

use crate::config::EmbeddedPostgresSettings;

/// The database Tipsa creates inside the local cluster.
pub const DATABASE_NAME: &str = "tipsa";

/// A running local cluster.
#[derive(Debug)]
pub struct LocalCluster {
    root: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<String>,
    port: u16,
    started_here: bool,
}

impl LocalCluster {
    /// Initialises (first time) and starts the cluster kept in `root`, or attaches to it if it is
    /// already running. Blocking: call it from `spawn_blocking` or before the runtime starts.
    pub fn start(root: &Path, settings: &EmbeddedPostgresSettings) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir(
            settings.bin_dir.as_deref(),
            std::env::var_os("PATH"),
            Path::new(DEBIAN_POSTGRESQL_ROOT),
        )?;
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("resolving {}", root.display()))?;
        let run_as = running_as_root().then(|| settings.run_as_user.clone());

        // Two processes starting at once (serve + worker, parallel tests) take turns here.
        let lock = File::create(root.join("tipsa.lock"))
            .with_context(|| format!("creating the lock file in {}", root.display()))?;
        lock.lock().context("locking the local cluster directory")?;

        let mut cluster = LocalCluster {
            root,
            bin_dir,
            run_as,
            port: 0,
            started_here: false,
        };
        cluster.prepare_ownership()?;
        if !cluster.data_dir().join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        match cluster.running_port() {
            Some(port) => cluster.port = port,
            None => {
                cluster.port = free_port()?;
                cluster.pg_ctl_start()?;
                cluster.started_here = true;
            }
        }
        drop(lock);
        Ok(cluster)
    }

    /// URL of a database in this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the cluster if this process started it (another process may still be using a
    /// cluster it found running). Blocking.
    pub fn stop(self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        let data = self.data_dir();
        let output = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )?;
        check(&output, "pg_ctl stop")
    }

    fn prepare_ownership(&self) -> anyhow::Result<()> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(&self.root)
            .status()
            .context("running chown")?;
        if !status.success() {
            bail!(
                "cannot give {} to the system user {user:?}; create that user or set embedded_postgres.run_as_user",
                self.root.display()
            );
        }
        // The user must also be able to reach the directory through its parents.
        let reachable = Command::new("runuser")
            .args(["-u", user, "--", "test", "-w"])
            .arg(&self.root)
            .status()
            .context("running runuser (util-linux)")?;
        if !reachable.success() {
            bail!(
                "the system user {user:?} cannot write to {}: move var_dir somewhere it can reach, or set database.url",
                self.root.display()
            );
        }
        Ok(())
    }

    fn initdb(&self) -> anyhow::Result<()> {
        let data = self.data_dir();
        let output = self.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C.UTF-8".as_ref(),
            ],
        )?;
        check(&output, "initdb")
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let data = self.data_dir();
        let log = self.root.join("server.log");
        // Listen on loopback only; the socket lives beside the data, not in /var/run.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.root.display()
        );
        let output = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        )?;
        check(&output, "pg_ctl start")
            .with_context(|| format!("the local PostgreSQL did not start; see {}", log.display()))
    }

    /// The port of a server already running on this data directory, from `postmaster.pid`.
    fn running_port(&self) -> Option<u16> {
        let data = self.data_dir();
        let status = self
            .run(
                "pg_ctl",
                &["-D".as_ref(), data.as_os_str(), "status".as_ref()],
            )
            .ok()?;
        if !status.status.success() {
            return None;
        }
        let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
        // Line 4 of postmaster.pid is the port.
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
        let binary = self.bin_dir.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&binary);
                c
            }
            None => Command::new(&binary),
        };
        command.args(args).current_dir(&self.root);
        command
            .output()
            .with_context(|| format!("running {}", binary.display()))
    }
}

fn check(output: &Output, what: &str) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    bail!("{what} failed ({}): {}", output.status, stderr.trim())
}

/// Where Debian and Ubuntu install the server binaries, one directory per major version.
const DEBIAN_POSTGRESQL_ROOT: &str = "/usr/lib/postgresql";

/// Finds a directory with both `initdb` and `pg_ctl`: the configured one, else on `path`, else
/// the newest `<debian_root>/<major>/bin`.
fn find_bin_dir(
    configured: Option<&Path>,
    path: Option<std::ffi::OsString>,
    debian_root: &Path,
) -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = configured {
        if has_tools(dir) {
            return Ok(dir.to_owned());
        }
        bail!(
            "embedded_postgres.bin_dir {} has no initdb and pg_ctl",
            dir.display()
        );
    }
    if let Some(path) = path
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).ok_or_else(|| {
        anyhow::anyhow!(
            "PostgreSQL is not installed: install it (apt-get install postgresql) or set database.url (TIPSA__DATABASE__URL) to a running server"
        )
    })
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user of this process.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Creates `name` in the cluster behind `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use diesel::sql_types::Bool;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .context("connecting to the local PostgreSQL")?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(&mut conn)
            .await?;
    if !found.exists {
        // A concurrent creator makes this fail with a duplicate; that is fine.
        let created = diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await;
        if let Err(error) = created
            && !error.to_string().contains("already exists")
        {
            return Err(error).context("creating the tipsa database");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_postgresql_names_the_install_command_and_the_url_setting() {
        let empty = std::env::temp_dir().join(format!("tipsa-nopg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&empty).unwrap();
        let error = find_bin_dir(None, Some(empty.clone().into_os_string()), &empty)
            .unwrap_err()
            .to_string();
        assert!(error.contains("apt-get install postgresql"), "{error}");
        assert!(error.contains("TIPSA__DATABASE__URL"), "{error}");
        assert_eq!(error.lines().count(), 1);
    }

    #[test]
    fn the_newest_debian_version_wins() {
        let root = std::env::temp_dir().join(format!("tipsa-pgroot-{}", uuid::Uuid::new_v4()));
        for major in ["9", "15", "13"] {
            let bin = root.join(major).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("initdb"), "").unwrap();
            std::fs::write(bin.join("pg_ctl"), "").unwrap();
        }
        let found = find_bin_dir(None, None, &root).unwrap();
        assert_eq!(found, root.join("15").join("bin"));
    }
}
