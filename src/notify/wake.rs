//! Wakes the notification workers (in this process and in others) after a commit that
//! enqueued jobs due now.
//!
//! Why not a `NOTIFY` inside the writing transaction: PostgreSQL serialises the commits of
//! transactions that notify (each holds a database-wide lock from the notification queue until
//! its commit record is flushed), so a `NOTIFY` per urgent tip made concurrent submissions wait
//! for one another's disk flush. Instead a writer calls `WorkerWaker::wake` once its commit has
//! succeeded; a background task sends one `NOTIFY` on its own connection per burst — wake-ups
//! that arrive while one is being sent merge into a single next one. A wake-up lost with a
//! crashing process costs at most the workers' poll interval (`notify.poll_interval_ms`).
//! The receiving side, each worker's `LISTEN` connection, is `listen`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::{Notify, watch};

use super::WAKE_CHANNEL;

/// Cheap to call from request handlers; dropping it stops the background task.
pub struct WorkerWaker {
    signal: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerWaker {
    /// Starts the task that sends the wake-ups (needs a tokio runtime). It connects on the first
    /// wake-up, not here, so a service that never enqueues never holds the connection.
    pub fn start(database_url: String) -> Self {
        let signal = Arc::new(Notify::new());
        let task = tokio::spawn(send_wake_ups(database_url, signal.clone()));
        WorkerWaker { signal, task }
    }

    /// Asks for a wake-up. Never waits: at most one is pending at a time, so a burst of calls
    /// becomes one or two `NOTIFY`s.
    pub fn wake(&self) {
        self.signal.notify_one();
    }
}

impl Drop for WorkerWaker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn send_wake_ups(database_url: String, signal: Arc<Notify>) {
    let mut connection: Option<AsyncPgConnection> = None;
    loop {
        signal.notified().await;
        // A connection that broke since the last wake-up (the database restarted or failed
        // over, a proxy dropped it) is only found out by using it. Then the wake-up is sent
        // again on a fresh connection: dropping it would leave the first urgent tip after
        // every database restart to the workers' next poll.
        for attempt in 0..2 {
            if connection.is_none() {
                match AsyncPgConnection::establish(&database_url).await {
                    Ok(conn) => connection = Some(conn),
                    Err(error) => {
                        // The workers' polling delivers the jobs; try again on the next wake-up.
                        tracing::debug!(error = %error, "connecting to wake the notification workers failed");
                        break;
                    }
                }
            }
            let Some(conn) = connection.as_mut() else {
                break;
            };
            match diesel::sql_query(format!("NOTIFY {WAKE_CHANNEL}"))
                .execute(conn)
                .await
            {
                Ok(_) => break,
                Err(error) => {
                    tracing::debug!(error = %error, attempt, "waking the notification workers failed");
                    connection = None;
                }
            }
        }
    }
}

/// How long the listener waits to connect and start listening before trying again.
const LISTENER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Listens for wake-ups on a connection of its own, reconnecting (every 2 s) when it is lost;
/// wakes `wake` on each, and once after every (re)connect for what came meanwhile.
pub(super) async fn listen(url: String, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        let session = async {
            // Bounded, so a database that accepts the connection but never answers (starting
            // up, failing over) cannot keep the listener away for good.
            let mut conn =
                tokio::time::timeout(LISTENER_CONNECT_TIMEOUT, AsyncPgConnection::establish(&url))
                    .await
                    .context("connecting the listener timed out")?
                    .context("connecting the listener")?;
            tokio::time::timeout(
                LISTENER_CONNECT_TIMEOUT,
                diesel::sql_query(format!("LISTEN {}", super::WAKE_CHANNEL)).execute(&mut conn),
            )
            .await
            .context("LISTEN timed out")??;
            // Anything enqueued while not listening.
            wake.notify_one();
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            while let Some(notification) = notifications.next().await {
                notification?;
                wake.notify_one();
            }
            Ok::<_, anyhow::Error>(())
        };
        tokio::select! {
            result = session => {
                if let Err(error) = result {
                    tracing::debug!(error = %format!("{error:#}"), "notification listener lost its connection");
                }
            }
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
    }
}
