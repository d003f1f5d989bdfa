//! Group commit for submissions: tips that arrive while earlier ones are being stored wait in a
//! queue and are then stored together, in one transaction and one multi-row statement.
//!
//! Why: storing a tip costs PostgreSQL far more per statement and per commit (executor start,
//! constraint set-up, the commit's WAL flush, a round trip) than per row. Under load the
//! submissions queue up anyway, each waiting for a pooled connection; taking them as a batch
//! pays those costs once per batch. Nothing waits on purpose: a lane takes whatever is queued
//! when it becomes free, so a lone tip is stored at once, exactly as `record_tip` stores it.
//!
//! Each tip still gets what it would get alone: the same triage (a tip sees the earlier tips
//! of its facility, including those earlier in the same batch), its own reference, event and
//! notification jobs, and its answer only after the commit. If a batch fails as a whole, its
//! tips are stored one by one, so one bad tip cannot fail the others.
//!
//! Lanes and locks: every tip about a facility goes through the same lane (by a hash of the
//! facility key), so batches stored at the same time never wait for each other's facility
//! locks. A batch still takes its facilities' locks in lock-id order and inserts its rows
//! ordered by the daily rollup's key, so whatever else takes those locks (a tip stored alone
//! with an `Idempotency-Key`, another process) may wait but cannot deadlock with it.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{AcceptedTip, IntakeError, PreparedTip, record_tip, saturate};
use crate::db::DbPool;
use crate::db::tip_batch::InsertSubmittedMany;
use crate::triage::{self, TriageResult, TriageRules};

/// How the queue is run (`[intake]` in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// Batches stored at the same time, each on its own pooled connection; 0 stores every tip
    /// on its own, in its request.
    pub lanes: usize,
    /// The most tips in one batch.
    pub max_tips: usize,
    /// How tips find a lane.
    pub queue: QueueKind,
}

/// How tips are spread over the lanes (`intake.batch_queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// One queue per lane; a facility's tips always go through the same lane, so batches never
    /// wait for each other's facility locks — but tips queued behind a lane whose commit
    /// stalls wait for it even while other lanes are idle.
    ByFacility,
    /// One queue that every free lane takes from: no tip waits behind a stalled commit while a
    /// lane is free. Two batches with the same facility may then be stored at once; the second
    /// waits for the first's facility lock (lock-id order rules out deadlocks).
    Shared,
}

struct Pending {
    tip: PreparedTip,
    reply: oneshot::Sender<Result<AcceptedTip, IntakeError>>,
}

/// The submission queue shared by request handlers. Dropping it lets the lanes finish what is
/// queued and stop.
pub struct SubmissionBatcher {
    mode: Mode,
}

enum Mode {
    /// `lanes = 0`: each tip is stored in its own request.
    Direct {
        pool: DbPool,
        rules: Arc<TriageRules>,
    },
    Queued {
        /// One queue per lane.
        lanes: Vec<mpsc::Sender<Pending>>,
        /// Spreads tips that name no facility over the lanes.
        next: AtomicUsize,
    },
    /// One queue, taken from by whichever lane is free.
    Shared { queue: mpsc::Sender<Pending> },
}

impl SubmissionBatcher {
    /// Starts the lanes (needs a tokio runtime).
    pub fn start(pool: DbPool, rules: Arc<TriageRules>, settings: BatchSettings) -> Self {
        if settings.lanes == 0 {
            return SubmissionBatcher {
                mode: Mode::Direct { pool, rules },
            };
        }
        let max_tips = settings.max_tips.max(1);
        if settings.queue == QueueKind::Shared {
            let (queue, receiver) = mpsc::channel(max_tips * 4 * settings.lanes);
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            let lanes = settings.lanes;
            spawn_lanes(move || {
                (0..lanes)
                    .map(|_| {
                        tokio::spawn(run_shared_lane(
                            pool.clone(),
                            rules.clone(),
                            receiver.clone(),
                            max_tips,
                        ))
                    })
                    .collect()
            });
            return SubmissionBatcher {
                mode: Mode::Shared { queue },
            };
        }
        let (lanes, receivers): (Vec<_>, Vec<_>) = (0..settings.lanes)
            .map(|_| mpsc::channel(max_tips * 4))
            .unzip();
        spawn_lanes(move || {
            receivers
                .into_iter()
                .map(|receiver| {
                    tokio::spawn(run_lane(pool.clone(), rules.clone(), receiver, max_tips))
                })
                .collect()
        });
        SubmissionBatcher {
            mode: Mode::Queued {
                lanes,
                next: AtomicUsize::new(0),
            },
        }
    }

    /// Tips waiting for a lane (for diagnostics and tests).
    pub fn queued(&self) -> usize {
        self.lane_queue_lengths().iter().sum()
    }

    /// Tips waiting, per lane (none when batching is off).
    pub fn lane_queue_lengths(&self) -> Vec<usize> {
        match &self.mode {
            Mode::Direct { .. } => Vec::new(),
            Mode::Queued { lanes, .. } => lanes
                .iter()
                .map(|lane| lane.max_capacity() - lane.capacity())
                .collect(),
            Mode::Shared { queue } => vec![queue.max_capacity() - queue.capacity()],
        }
    }

    /// Stores the tip (alone or with others) and answers once it is committed.
    pub async fn submit(&self, tip: PreparedTip) -> Result<AcceptedTip, IntakeError> {
        let sender = match &self.mode {
            Mode::Queued { lanes, next } => {
                // All tips about one facility go through one lane, so batches on different
                // lanes never wait for each other's facility locks. Any other tip goes to the
                // lane with the shortest queue, so a lane held up by a slow commit does not
                // collect more than its share.
                let lane = match tip.facility_key() {
                    Some(key) => {
                        let mut hasher = DefaultHasher::new();
                        key.hash(&mut hasher);
                        usize::try_from(hasher.finish() % 1024).unwrap_or(0) % lanes.len()
                    }
                    None => {
                        let start = next.fetch_add(1, Ordering::Relaxed);
                        (0..lanes.len())
                            .map(|offset| (start + offset) % lanes.len())
                            .min_by_key(|&i| lanes[i].max_capacity() - lanes[i].capacity())
                            .unwrap_or(0)
                    }
                };
                &lanes[lane]
            }
            Mode::Shared { queue } => queue,
            Mode::Direct { pool, rules } => {
                let mut conn = crate::db::checkout(pool)
                    .await
                    .map_err(|error| IntakeError::Unavailable(error.to_string()))?;
                return record_tip(&mut conn, rules, tip).await;
            }
        };
        let (reply, answer) = oneshot::channel();
        sender
            .send(Pending { tip, reply })
            .await
            .map_err(|_| IntakeError::Unavailable("the intake queue has stopped".into()))?;
        answer
            .await
            .map_err(|_| IntakeError::Unavailable("the intake queue dropped the tip".into()))?
    }
}

/// Runs the lanes on a thread of their own, so that nothing else on the process's shared
/// runtime (the notification worker rendering and writing mail, say) delays a batch that a
/// dozen submitters are waiting for. The thread ends when the queues close.
fn spawn_lanes(lanes: impl FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send + 'static) {
    let run = move || match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(async move {
            futures_util::future::join_all(lanes()).await;
        }),
        Err(error) => tracing::error!(error = %error, "starting the intake lanes failed"),
    };
    if let Err(error) = std::thread::Builder::new()
        .name("intake-lanes".into())
        .spawn(run)
    {
        tracing::error!(error = %error, "starting the intake thread failed");
    }
}

/// A lane of the shared queue: takes what is queued (up to `max_tips`) while holding the
/// queue, then lets the next free lane take the queue while it stores.
async fn run_shared_lane(
    pool: DbPool,
    rules: Arc<TriageRules>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>,
    max_tips: usize,
) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < max_tips {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        crate::monitoring::batch_taken(batch.len());
        store(&pool, &rules, batch).await;
    }
}

async fn run_lane(
    pool: DbPool,
    rules: Arc<TriageRules>,
    mut receiver: mpsc::Receiver<Pending>,
    max_tips: usize,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_tips {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        crate::monitoring::batch_taken(batch.len());
        store(&pool, &rules, batch).await;
    }
}

/// Stores a batch and answers each of its submitters.
async fn store(pool: &DbPool, rules: &TriageRules, batch: Vec<Pending>) {
    let mut conn = match crate::db::checkout(pool).await {
        Ok(conn) => conn,
        Err(error) => {
            for pending in batch {
                let _ = pending
                    .reply
                    .send(Err(IntakeError::Unavailable(error.to_string())));
            }
            return;
        }
    };
    if batch.len() > 1 {
        let tips: Vec<&PreparedTip> = batch.iter().map(|pending| &pending.tip).collect();
        match store_together(&mut conn, rules, &tips).await {
            Ok((mut stored, results)) => {
                // Committed: from here on nothing is stored again.
                for (pending, triage) in batch.into_iter().zip(results) {
                    let answer = match stored.remove(&pending.tip.id) {
                        Some((reference, at)) => Ok(pending.tip.accept(reference, at, triage)),
                        None => Err(IntakeError::Database(diesel::result::Error::NotFound)),
                    };
                    let _ = pending.reply.send(answer);
                }
                return;
            }
            Err(error) => {
                tracing::warn!(
                    error = %error,
                    tips = tips.len(),
                    "storing a batch of tips failed; storing them one by one"
                );
            }
        }
    }
    for pending in batch {
        let result = record_tip(&mut conn, rules, pending.tip).await;
        let _ = pending.reply.send(result);
    }
}

/// What the database gave each stored tip (reference, submission time) by id, and each tip's
/// triage result in the batch's order.
type Stored = (HashMap<Uuid, (String, DateTime<Utc>)>, Vec<TriageResult>);

/// Triages and inserts the tips in one transaction (or one statement when none names a
/// facility). All of them are stored at the same moment, so they share the repeat window.
async fn store_together(
    conn: &mut AsyncPgConnection,
    rules: &TriageRules,
    tips: &[&PreparedTip],
) -> diesel::QueryResult<Stored> {
    let submitted_at = Utc::now();
    let since = triage::apply::window_start(submitted_at, rules.repeat.window_days);
    let facilities: BTreeSet<&str> = tips.iter().filter_map(|tip| tip.facility_key()).collect();
    let in_transaction = !facilities.is_empty();
    let outcome = async {
        let histories = if in_transaction {
            let keys = facilities.iter().map(|key| (*key).to_owned()).collect();
            triage::apply::begin_lock_and_read_facilities(conn, keys, since, rules.repeat.threshold)
                .await?
        } else {
            HashMap::new()
        };

        // Triage in arrival order: a tip counts the earlier tips of its facility in this batch.
        let mut earlier_in_batch: HashMap<&str, i64> = HashMap::new();
        let mut clusters_to_start: BTreeSet<&str> = BTreeSet::new();
        let mut results = Vec::with_capacity(tips.len());
        for tip in tips {
            let (earlier, joins) = match tip.facility_key() {
                None => (0, None),
                Some(key) => {
                    let history = histories.get(key);
                    let recent = history.map_or(0, |h| h.recent);
                    let in_batch = earlier_in_batch.entry(key).or_insert(0);
                    let earlier = recent.saturating_add(*in_batch);
                    *in_batch += 1;
                    (earlier, history.and_then(|h| h.cluster_id))
                }
            };
            let input = tip.triage_input(submitted_at, saturate(earlier));
            let result = triage::rules::evaluate(rules, &input);
            let joins = result.forms_cluster.then_some(joins).flatten();
            if result.forms_cluster
                && joins.is_none()
                && let Some(key) = tip.facility_key()
            {
                // As alone: the first tip to cross the threshold starts the cluster, which then
                // links every tip of the window — here after the insert, so it links the
                // batch's later tips too.
                clusters_to_start.insert(key);
            }
            results.push((result, joins));
        }

        // Rows in the daily rollup's key order (see the module comment on locks).
        let mut order: Vec<usize> = (0..tips.len()).collect();
        order.sort_by_key(|&i| {
            let tip = &tips[i].tip;
            (&tip.region_code, &tip.category, &tip.outbreak)
        });
        let rows: Vec<_> = order
            .iter()
            .map(|&i| tips[i].row(&results[i].0, results[i].1, submitted_at))
            .collect();
        let actors: Vec<&str> = order
            .iter()
            .map(|&i| tips[i].submitter.actor.as_str())
            .collect();
        let insert = InsertSubmittedMany::new(&rows, &actors);
        let stored: Vec<(Uuid, String, DateTime<Utc>)> = if !in_transaction {
            insert.load(conn).await?
        } else if clusters_to_start.is_empty() {
            // The insert and the commit travel together; if the insert fails, the server
            // turns the commit into a rollback.
            let shared: &AsyncPgConnection = conn;
            let (mut first, mut second) = (shared, shared);
            let rows = insert.load::<(Uuid, String, DateTime<Utc>)>(&mut first);
            let commit = diesel::sql_query("COMMIT").execute(&mut second);
            futures_util::future::try_join(rows, commit).await?.0
        } else {
            let stored = insert.load(conn).await?;
            for key in &clusters_to_start {
                triage::apply::start_cluster(conn, key, since).await?;
            }
            diesel::sql_query("COMMIT").execute(conn).await?;
            stored
        };
        Ok::<_, diesel::result::Error>((stored, results))
    }
    .await;

    match outcome {
        Ok((stored, results)) => {
            let stored = stored
                .into_iter()
                .map(|(id, reference, at)| (id, (reference, at)))
                .collect();
            let results = results.into_iter().map(|(result, _)| result).collect();
            Ok((stored, results))
        }
        Err(error) => {
            if in_transaction {
                // Never hand the connection back inside a transaction.
                let _ = diesel::sql_query("ROLLBACK").execute(conn).await;
            }
            Err(error)
        }
    }
}
