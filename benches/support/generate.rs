//! What the benchmarks over a million tips share: generating realistic tips with set-based SQL
//! (`INSERT … SELECT … FROM generate_series`, batches on two connections, secondary indexes
//! and foreign keys dropped during the load and recreated from their own definitions, the
//! rollup's trigger disabled and the rollup recounted afterwards), and
//! starting the embedded PostgreSQL cluster. Included by `benches/queue.rs` and
//! `benches/stats.rs` through `#[path]`.
//!
//! With `Extras::Stats` the tips also get what the situation report reads and the queue does
//! not: outbreak tags (COVID-19 a year ago, influenza in the last two months), the normalised
//! facility key, and the time of the first review of every tip no longer `new` (about six in
//! ten in time). Without it (the queue bench) the rows are exactly as before.

#![allow(dead_code)] // each bench uses a different part

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Rows per `INSERT … SELECT` statement.
pub const BATCH: u64 = 200_000;
/// Connections inserting batches at the same time.
pub const LOAD_CONNECTIONS: usize = 2;

/// Each description is 2–6 of these, distinct (picked with a start and a step modulo the
/// length, which must therefore be prime).
pub const COMMON_SENTENCES: [&str; 23] = [
    "Under natten är det ofta bara en undersköterska på plats för tre avdelningar, och ingen sjuksköterska finns i huset efter klockan 22.",
    "En boende blev liggande på golvet i nästan en timme innan någon kom, eftersom den enda personalen var upptagen på en annan avdelning.",
    "Larmen går ofta utan att någon svarar, och vikarierna har inte fått någon introduktion i hur larmsystemet fungerar.",
    "En patient fick fel dos vid kvällsutdelningen eftersom dosetten var märkt med en annan persons namn och ingen kontrollerade ordinationen.",
    "Signeringslistorna för läkemedel fylls i i efterhand, ibland flera dagar senare, och det går inte att se vem som har gett vad.",
    "Narkotikaklassade läkemedel förvaras i ett olåst skåp i personalrummet och förrådet har inte räknats på flera veckor.",
    "Hygien prioriteras inte: personalen bär armbandsur och egna kläder i omvårdnadsarbetet, och handsprit saknas på flera ställen.",
    "Inkontinensskydd byts för sällan och flera boende har fått trycksår som inte har dokumenterats i journalen.",
    "Maten som serveras är ofta kall och det finns boende som inte får hjälp att äta, vilket har lett till viktnedgång.",
    "Dörrarna till avdelningen låses på kvällarna med kodlås, så att boende utan demens inte kan gå ut på egen hand.",
    "När jag tog upp saken med enhetschefen fick jag höra att det är så överallt och att jag inte ska göra någon stor sak av det.",
    "Flera anhöriga har klagat skriftligt men inte fått något svar, och klagomålen har inte registrerats som avvikelser.",
    "Personalen har inte fått någon utbildning i basala hygienrutiner sedan i våras, trots utbrott av magsjuka.",
    "Bemanningen har minskat sedan den nya ledningen tog över, och sjukfrånvaron bland ordinarie personal är mycket hög.",
    "Jag vill vara anonym eftersom jag är rädd för repressalier, men detta har pågått i flera månader.",
    "Avvikelserapporter försvinner utan åtgärd och vi som arbetar där får aldrig veta om något har utretts.",
    "En patient med hög fallrisk lämnades utan tillsyn i duschen, trots att vårdplanen säger att två personer ska vara med.",
    "Journalanteckningarna är bristfälliga och saknar uppgifter om vilka insatser som har utförts under dygnet.",
    "Jag hoppas att ni gör en oanmäld inspektion, gärna på natten, så att ni ser hur det faktiskt ser ut.",
    "Inom psykiatrin på sjukhuset används avskiljning ofta utan att läkaren har fattat något beslut om det.",
    "I gruppbostaden enligt LSS får de boende inte komma ut på aktiviteter eftersom det saknas personal på helgerna.",
    "Bemanning under helger och semestrar löses med timanställda som inte känner de boende eller deras behov.",
    "Läkemedelsgenomgångar har inte gjorts på över ett år och flera boende får läkemedel som borde ha satts ut.",
];

/// One of these is added to ~8 % of the descriptions: words only a few tips contain.
pub const RARE_SENTENCES: [&str; 7] = [
    "Vid ett tillfälle såg jag hur en boende var fastspänd i rullstolen med ett bälte utan att det fanns något beslut.",
    "En ung patient hölls fastspänd i bältessäng i flera timmar och ingen läkare kom för att bedöma situationen.",
    "Det har hänt att en boende fick dubbel dos insulin eftersom två personer gav läkemedlet samma kväll.",
    "En boende hittades uttorkad och förvirrad på morgonen efter att ingen hade gett henne något att dricka under natten.",
    "Personal har uttalat sig hotfullt mot de boende och en anhörig såg hur en kollega slog en boende på armen.",
    "Ambulansen fick vänta länge eftersom ingen på boendet kunde öppna ytterdörren under natten.",
    "Skyddsutrustning saknades helt under utbrottet och personalen fick återanvända munskydd i flera dagar.",
];

pub const FACILITIES: [&str; 15] = [
    "Solgläntans äldreboende",
    "Björkhagens gruppbostad",
    "Vårdcentralen Ängen",
    "Avdelning 12, Centrallasarettet",
    "Lindgårdens vård- och omsorgsboende",
    "Hemtjänsten Norra distriktet",
    "Tallbackens korttidsboende",
    "Akutmottagningen, Universitetssjukhuset",
    "Psykiatriska kliniken, avdelning 4",
    "HVB-hemmet Fyren",
    "Rosenlunds servicebostad",
    "Ekbackens demensboende",
    "Tandläkarhuset i centrum",
    "Ambulansstation Väst",
    "Sjöviks behandlingshem",
];

pub const PROVIDERS: [&str; 4] = [
    "Kommunens vård- och omsorgsförvaltning",
    "Omsorgsbolaget i Sverige AB",
    "Regionens hälso- och sjukvård",
    "Stiftelsen Vårdhemmet",
];

const fn is_prime(n: usize) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}
const _: () = assert!(is_prime(COMMON_SENTENCES.len()));

/// One batch of tips: rows `$1..=$2` of the generated series. `$3` common sentences, `$4` rare
/// sentences, `$5` facility names, `$6` care providers. Every choice is a hash of the row
/// number, so a rerun generates the same data (apart from ids and times relative to `now()`).
pub const GENERATE_SQL: &str = r#"
WITH muni AS MATERIALIZED (
    SELECT code, region_code, (row_number() OVER (ORDER BY code) - 1) AS i FROM municipalities
), base AS (
    SELECT g,
        hashint8extended(g, 1) & 9223372036854775807 AS h1,
        hashint8extended(g, 2) & 9223372036854775807 AS h2,
        hashint8extended(g, 3) & 9223372036854775807 AS h3,
        hashint8extended(g, 4) & 9223372036854775807 AS h4,
        hashint8extended(g, 5) & 9223372036854775807 AS h5,
        hashint8extended(g, 6) & 9223372036854775807 AS h6,
        hashint8extended(g, 7) & 9223372036854775807 AS h7,
        hashint8extended(g, 8) & 9223372036854775807 AS h8
    FROM generate_series($1::bigint, $2::bigint) g
), shaped AS (
    SELECT b.*, m.code AS muni, m.region_code,
        CASE WHEN b.h2 % 1000 < 850 THEN 'closed'
             WHEN b.h2 % 1000 < 925 THEN 'new'
             WHEN b.h2 % 1000 < 978 THEN 'in_review'
             ELSE 'awaiting_reporter' END AS status,
        CASE WHEN b.h4 % 100 < 3 THEN 'critical'
             WHEN b.h4 % 100 < 20 THEN 'high'
             WHEN b.h4 % 100 < 80 THEN 'normal'
             ELSE 'low' END AS priority
    FROM base b
    JOIN muni m ON m.i = b.h1 % (SELECT count(*) FROM muni)
), timed AS (
    -- closed tips over two years; open ones recent (new: 30 days, being worked: 120 days)
    SELECT s.*,
        now() - (s.h3 % (CASE s.status WHEN 'closed' THEN 730 WHEN 'new' THEN 30 ELSE 120 END * 86400))
            * interval '1 second' AS submitted_at
    FROM shaped s
)
INSERT INTO tips (id, reference, channel, category, care_sector, region_code, municipality_code,
    facility_name, care_provider, occurred_on, ongoing, description, reporter_role, outbreak,
    language, anonymous, contact_ciphertext, contact_key_id, receipt_code_hash, status, outcome,
    submitted_at, updated_at, priority, priority_rank, triage_score, team, due_at,
    acknowledgement_due_at, feedback_due_at, triage, triage_config_version, version)
SELECT
    gen_random_uuid(),
    'T-' || extract(year FROM t.submitted_at AT TIME ZONE 'Europe/Stockholm')::int || '-'
        || CASE WHEN t.g < 10000000 THEN lpad(t.g::text, 7, '0') ELSE t.g::text END,
    CASE WHEN t.h6 % 10 < 7 THEN 'web' ELSE 'api' END,
    c.categories[1 + t.h5 % cardinality(c.categories)],
    c.sectors[1 + (t.h5 / 100) % cardinality(c.sectors)],
    t.region_code,
    CASE WHEN (t.h1 / 1000) % 10 < 8 THEN t.muni END,
    CASE WHEN t.h7 % 10 < 6 THEN $5[1 + (t.h7 / 10) % cardinality($5)] END,
    CASE WHEN (t.h7 / 1000) % 4 = 0 THEN $6[1 + (t.h7 / 10000) % cardinality($6)] END,
    CASE WHEN (t.h7 / 100000) % 10 < 6
         THEN (t.submitted_at AT TIME ZONE 'Europe/Stockholm')::date - ((t.h7 / 1000000) % 60)::int END,
    (t.h7 / 100000000) % 10 < 3,
    concat_ws(' ',
        $3[1 + ((t.h6 / 100) % s.n)],
        $3[1 + ((t.h6 / 100) % s.n + 1 * (1 + (t.h6 / 10000) % (s.n - 1))) % s.n],
        CASE WHEN (t.h6 / 10) % 5 >= 1 THEN $3[1 + ((t.h6 / 100) % s.n + 2 * (1 + (t.h6 / 10000) % (s.n - 1))) % s.n] END,
        CASE WHEN (t.h6 / 10) % 5 >= 2 THEN $3[1 + ((t.h6 / 100) % s.n + 3 * (1 + (t.h6 / 10000) % (s.n - 1))) % s.n] END,
        CASE WHEN (t.h6 / 10) % 5 >= 3 THEN $3[1 + ((t.h6 / 100) % s.n + 4 * (1 + (t.h6 / 10000) % (s.n - 1))) % s.n] END,
        CASE WHEN (t.h6 / 10) % 5 >= 4 THEN $3[1 + ((t.h6 / 100) % s.n + 5 * (1 + (t.h6 / 10000) % (s.n - 1))) % s.n] END,
        CASE WHEN (t.h6 / 1000000) % 100 < 8 THEN $4[1 + (t.h6 / 100000000) % cardinality($4)] END
    ),
    c.roles[1 + (t.h5 / 10000) % cardinality(c.roles)],
    NULL,
    'sv', true, NULL, NULL,
    sha256(('tipsa-queue-bench-receipt-' || t.g)::bytea),
    t.status,
    CASE WHEN t.status = 'closed' THEN
        CASE WHEN t.h8 % 100 < 50 THEN 'risk_signal' WHEN t.h8 % 100 < 75 THEN 'no_action'
             WHEN t.h8 % 100 < 90 THEN 'referred' ELSE 'case_opened' END END,
    t.submitted_at,
    CASE WHEN t.status = 'new' THEN t.submitted_at
         ELSE least(now(), t.submitted_at + ((t.h3 / 1000) % 60) * interval '1 day') END,
    t.priority,
    CASE t.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
    CASE t.priority WHEN 'critical' THEN 90 WHEN 'high' THEN 60 WHEN 'normal' THEN 30 ELSE 10 END
        + ((t.h4 / 100) % 10)::int,
    CASE WHEN (t.h8 / 100) % 100 < 2 THEN 'nationell'
         WHEN t.region_code IN ('22', '23', '24', '25') THEN 'nord'
         WHEN t.region_code IN ('03', '17', '18', '19', '20', '21') THEN 'mitt'
         WHEN t.region_code IN ('01', '09') THEN 'ost'
         WHEN t.region_code IN ('04', '05', '06', '08') THEN 'sydost'
         WHEN t.region_code IN ('13', '14') THEN 'sydvast'
         WHEN t.region_code IN ('07', '10', '12') THEN 'syd'
         ELSE 'nationell' END,
    t.submitted_at + CASE t.priority WHEN 'critical' THEN interval '4 hours'
                                     WHEN 'high' THEN interval '1 day'
                                     WHEN 'normal' THEN interval '7 days'
                                     ELSE interval '14 days' END,
    NULL,
    t.submitted_at + interval '3 months',
    CASE t.priority
        WHEN 'critical' THEN '[{"kind": "base", "rule": "restraint of children and young people", "raise": 0, "detail": "restraint/children_youth_hvb"}, {"kind": "urgency", "rule": "risk to life", "raise": 2, "detail": "livshot"}]'::jsonb
        WHEN 'high' THEN '[{"kind": "urgency", "rule": "restraint or locking in", "raise": 1, "detail": "fastspänd"}]'::jsonb
        ELSE '[]'::jsonb END,
    'bench',
    CASE t.status WHEN 'new' THEN 1 WHEN 'closed' THEN 3 ELSE 2 END
FROM timed t,
    (SELECT (SELECT array_agg(code ORDER BY sort_order) FROM categories) AS categories,
            (SELECT array_agg(code ORDER BY sort_order) FROM care_sectors) AS sectors,
            (SELECT array_agg(code ORDER BY sort_order) FROM reporter_roles) AS roles) c,
    (SELECT cardinality($3) AS n) s
"#;

// ---------------------------------------------------------------------------------------------
// Generating the tips
// ---------------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct Definition {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    open: i64,
    #[diesel(sql_type = BigInt)]
    overdue: i64,
}

#[derive(QueryableByName)]
struct TeamCount {
    #[diesel(sql_type = Text)]
    team: String,
    #[diesel(sql_type = BigInt)]
    open: i64,
}

pub struct Generation {
    pub total: i64,
    pub open: i64,
    pub overdue: i64,
    pub open_by_team: Vec<(String, i64)>,
    pub insert: Duration,
    pub indexes: Duration,
    pub constraints: Duration,
    pub vacuum: Duration,
    pub table_size: String,
}

impl Generation {
    pub fn elapsed(&self) -> Duration {
        self.insert + self.indexes + self.constraints + self.vacuum
    }
}

/// Secondary indexes of `tips` (those not backing a constraint).
pub const SECONDARY_INDEXES_SQL: &str = "SELECT c.relname::text AS name, pg_get_indexdef(i.indexrelid) AS definition \
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
     WHERE i.indrelid = 'tips'::regclass \
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = 'tips'::regclass) \
     ORDER BY 1";
pub const FOREIGN_KEYS_SQL: &str = "SELECT conname::text AS name, pg_get_constraintdef(oid) AS definition \
     FROM pg_constraint WHERE conrelid = 'tips'::regclass AND contype = 'f' ORDER BY 1";

pub async fn definitions(
    conn: &mut AsyncPgConnection,
    sql: &'static str,
) -> anyhow::Result<Vec<(String, String)>> {
    let rows: Vec<Definition> = diesel::sql_query(sql)
        .load(conn)
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(rows.into_iter().map(|d| (d.name, d.definition)).collect())
}

pub async fn execute(conn: &mut AsyncPgConnection, sql: &str) -> anyhow::Result<()> {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}

/// What to generate beyond the queue's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extras {
    /// Exactly the rows the queue bench has always used.
    None,
    /// Also outbreak tags, facility keys and first-review times (the situation report).
    Stats,
    /// `Stats`, and what disposal reads: the closure time of closed tips (when they were last
    /// updated, as the migration sets it) and contact details on one tip in ten (sealed-looking
    /// random bytes: disposal removes them without opening them).
    Disposal,
}

/// Replaces `from` (which must occur exactly once) with `to`.
fn replace_once(sql: &str, from: &str, to: &str) -> String {
    assert_eq!(
        sql.matches(from).count(),
        1,
        "{from:?} must occur once in GENERATE_SQL"
    );
    sql.replacen(from, to, 1)
}

/// The batch statement for `extras`.
pub fn generate_sql(extras: Extras) -> String {
    match extras {
        Extras::None => GENERATE_SQL.to_owned(),
        Extras::Disposal => {
            let sql = generate_sql(Extras::Stats);
            let sql = replace_once(
                &sql,
                "version, facility_key, first_reviewed_at)",
                "version, facility_key, first_reviewed_at, closed_at)",
            );
            let sql = replace_once(
                &sql,
                "'sv', true, NULL, NULL,",
                "'sv', t.h5 % 10 <> 3, \
                 CASE WHEN t.h5 % 10 = 3 THEN sha256(('tipsa-bench-contact-' || t.g)::bytea) END, \
                 CASE WHEN t.h5 % 10 = 3 THEN 'local1' END,",
            );
            replace_once(
                &sql,
                "\nFROM timed t,",
                ",\n    CASE WHEN t.status = 'closed' \
                 THEN least(now(), t.submitted_at + ((t.h3 / 1000) % 60) * interval '1 day') END\nFROM timed t,",
            )
        }
        Extras::Stats => {
            let sql = replace_once(
                GENERATE_SQL,
                "triage, triage_config_version, version)",
                "triage, triage_config_version, version, facility_key, first_reviewed_at)",
            );
            // Influenza in a fifth of the last two months' tips, COVID-19 in three in ten
            // tips of ten weeks a bit more than a year ago.
            let sql = replace_once(
                &sql,
                "    NULL,\n    'sv', true, NULL, NULL,",
                "    CASE WHEN t.submitted_at > now() - interval '60 days' AND (t.h8 / 10000) % 100 < 20 \
                          THEN 'influenza-2026' \
                          WHEN t.submitted_at BETWEEN now() - interval '470 days' AND now() - interval '400 days' \
                               AND (t.h8 / 10000) % 100 < 30 THEN 'covid-19' END,\n    'sv', true, NULL, NULL,",
            );
            // The facility key as triage normalises it (kommun code, name in lower case with
            // punctuation evened out); first review within 0–1.6 times the deadline.
            replace_once(
                &sql,
                "    CASE t.status WHEN 'new' THEN 1 WHEN 'closed' THEN 3 ELSE 2 END\nFROM timed t,",
                "    CASE t.status WHEN 'new' THEN 1 WHEN 'closed' THEN 3 ELSE 2 END,\n\
                 CASE WHEN t.h7 % 10 < 6 THEN coalesce(CASE WHEN (t.h1 / 1000) % 10 < 8 THEN t.muni END, '-') || ':' \
                     || btrim(lower(regexp_replace($5[1 + (t.h7 / 10) % cardinality($5)], '[^[:alnum:]]+', ' ', 'g'))) END,\n\
                 CASE WHEN t.status <> 'new' THEN least(now(), t.submitted_at \
                     + CASE t.priority WHEN 'critical' THEN interval '4 hours' WHEN 'high' THEN interval '1 day' \
                                       WHEN 'normal' THEN interval '7 days' ELSE interval '14 days' END \
                       * (((t.h3 / 100000) % 1000) / 625.0)) END\nFROM timed t,",
            )
        }
    }
}

pub async fn generate_tips(db_url: &str, count: u64, extras: Extras) -> anyhow::Result<Generation> {
    let batch_sql = Arc::new(generate_sql(extras));
    let mut conn = AsyncPgConnection::establish(db_url)
        .await
        .context("connecting to the bench database")?;

    // Bulk-load pattern: drop the secondary indexes and foreign keys, load, recreate them from
    // their own definitions. Re-adding a foreign key checks every row.
    let indexes = definitions(&mut conn, SECONDARY_INDEXES_SQL).await?;
    let foreign_keys = definitions(&mut conn, FOREIGN_KEYS_SQL).await?;
    for (name, _) in &indexes {
        execute(&mut conn, &format!("DROP INDEX \"{name}\"")).await?;
    }
    for (name, _) in &foreign_keys {
        execute(
            &mut conn,
            &format!("ALTER TABLE tips DROP CONSTRAINT \"{name}\""),
        )
        .await?;
    }

    // The rollup's row trigger would upsert once per row (and the two loaders would wait on
    // each other's keys); it is recounted in one statement after the load instead.
    execute(
        &mut conn,
        "ALTER TABLE tips DISABLE TRIGGER tips_daily_counts_insert",
    )
    .await?;

    println!(
        "generating {count} tips in batches of {BATCH} on {LOAD_CONNECTIONS} connections \
         (without {} secondary indexes and {} foreign keys, recreated afterwards)",
        indexes.len(),
        foreign_keys.len()
    );
    let start = Instant::now();
    let batches = count.div_ceil(BATCH);
    let next_batch = Arc::new(AtomicU64::new(0));
    let inserted = Arc::new(AtomicU64::new(0));
    let mut loaders = tokio::task::JoinSet::new();
    for _ in 0..LOAD_CONNECTIONS.min(usize::try_from(batches).unwrap_or(1)) {
        let db_url = db_url.to_owned();
        let batch_sql = Arc::clone(&batch_sql);
        let next_batch = Arc::clone(&next_batch);
        let inserted = Arc::clone(&inserted);
        loaders.spawn(async move {
            let mut conn = AsyncPgConnection::establish(&db_url)
                .await
                .context("connecting to the bench database")?;
            execute(&mut conn, "SET synchronous_commit = off").await?;
            loop {
                let batch = next_batch.fetch_add(1, Ordering::SeqCst);
                if batch >= batches {
                    return Ok::<_, anyhow::Error>(());
                }
                let first = batch * BATCH + 1;
                let last = ((batch + 1) * BATCH).min(count);
                let rows = diesel::sql_query(batch_sql.as_str())
                    .bind::<BigInt, _>(i64::try_from(first)?)
                    .bind::<BigInt, _>(i64::try_from(last)?)
                    .bind::<Array<Text>, _>(COMMON_SENTENCES.to_vec())
                    .bind::<Array<Text>, _>(RARE_SENTENCES.to_vec())
                    .bind::<Array<Text>, _>(FACILITIES.to_vec())
                    .bind::<Array<Text>, _>(PROVIDERS.to_vec())
                    .execute(&mut conn)
                    .await
                    .with_context(|| format!("inserting tips {first}..={last}"))?;
                let done = inserted.fetch_add(rows as u64, Ordering::SeqCst) + rows as u64;
                println!(
                    "  inserted {done:>8} / {count} tips ({:.1} s)",
                    start.elapsed().as_secs_f64()
                );
            }
        });
    }
    while let Some(joined) = loaders.join_next().await {
        joined.context("an insert task failed")??;
    }
    let insert = start.elapsed();

    // The GIN index takes longest; build it on one connection and the B-trees on another.
    let start = Instant::now();
    let (gin, btree): (Vec<_>, Vec<_>) = indexes
        .iter()
        .map(|(_, definition)| definition.clone())
        .partition(|definition| definition.contains("USING gin"));
    let mut builders = tokio::task::JoinSet::new();
    for group in [gin, btree] {
        let db_url = db_url.to_owned();
        builders.spawn(async move {
            let mut conn = AsyncPgConnection::establish(&db_url)
                .await
                .context("connecting to the bench database")?;
            execute(&mut conn, "SET maintenance_work_mem = '512MB'").await?;
            for definition in group {
                execute(&mut conn, &definition).await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(joined) = builders.join_next().await {
        joined.context("an index task failed")??;
    }
    let index_time = start.elapsed();
    println!("  recreated indexes ({:.1} s)", index_time.as_secs_f64());

    let start = Instant::now();
    for (name, definition) in &foreign_keys {
        execute(
            &mut conn,
            &format!("ALTER TABLE tips ADD CONSTRAINT \"{name}\" {definition}"),
        )
        .await?;
    }
    let constraints = start.elapsed();
    println!(
        "  re-added and validated foreign keys ({:.1} s)",
        constraints.as_secs_f64()
    );
    if definitions(&mut conn, SECONDARY_INDEXES_SQL).await? != indexes
        || definitions(&mut conn, FOREIGN_KEYS_SQL).await? != foreign_keys
    {
        bail!("the indexes or foreign keys of tips differ from the migrated ones after the load");
    }

    let start = Instant::now();
    execute(
        &mut conn,
        "ALTER TABLE tips ENABLE TRIGGER tips_daily_counts_insert",
    )
    .await?;
    execute(&mut conn, "SELECT tip_daily_counts_rebuild()").await?;
    println!(
        "  recounted the daily rollup ({:.1} s)",
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    execute(&mut conn, "VACUUM ANALYZE tips").await?;
    let vacuum = start.elapsed();
    println!("  VACUUM ANALYZE tips ({:.1} s)", vacuum.as_secs_f64());

    let counts: Counts = diesel::sql_query(
        "SELECT count(*) AS total, \
                count(*) FILTER (WHERE status <> 'closed') AS open, \
                count(*) FILTER (WHERE status = 'new' AND due_at < now()) AS overdue \
         FROM tips",
    )
    .get_result(&mut conn)
    .await
    .context("counting tips")?;
    let open_by_team: Vec<TeamCount> = diesel::sql_query(
        "SELECT team, count(*) AS open FROM tips \
         WHERE status IN ('new', 'in_review', 'awaiting_reporter') GROUP BY team ORDER BY team",
    )
    .load(&mut conn)
    .await
    .context("counting open tips per team")?;
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = Text)]
        size: String,
    }
    let size: Size = diesel::sql_query(
        "SELECT pg_size_pretty(pg_relation_size('tips')) || ' heap, ' \
             || pg_size_pretty(pg_indexes_size('tips')) || ' indexes' AS size",
    )
    .get_result(&mut conn)
    .await
    .context("measuring the table")?;
    if u64::try_from(counts.total).ok() != Some(count) {
        bail!("expected {count} tips, found {}", counts.total);
    }

    Ok(Generation {
        total: counts.total,
        open: counts.open,
        overdue: counts.overdue,
        open_by_team: open_by_team.into_iter().map(|t| (t.team, t.open)).collect(),
        insert,
        indexes: index_time,
        constraints,
        vacuum,
        table_size: size.size,
    })
}
