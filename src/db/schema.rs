//! Diesel table definitions, kept in step with `migrations/` by hand (a test checks that every
//! table here exists with these columns after the migrations have run).

diesel::table! {
    categories (code) {
        code -> Text,
        label_sv -> Text,
        label_en -> Text,
        sort_order -> Int4,
    }
}

diesel::table! {
    care_sectors (code) {
        code -> Text,
        label_sv -> Text,
        label_en -> Text,
        sort_order -> Int4,
    }
}

diesel::table! {
    reporter_roles (code) {
        code -> Text,
        label_sv -> Text,
        label_en -> Text,
        sort_order -> Int4,
    }
}

diesel::table! {
    regions (code) {
        code -> Text,
        name -> Text,
        region_name -> Text,
    }
}

diesel::table! {
    municipalities (code) {
        code -> Text,
        name -> Text,
        region_code -> Text,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        prefix -> Text,
        name -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tips (id) {
        id -> Uuid,
        reference -> Text,
        channel -> Text,
        category -> Text,
        care_sector -> Text,
        region_code -> Text,
        municipality_code -> Nullable<Text>,
        facility_name -> Nullable<Text>,
        care_provider -> Nullable<Text>,
        occurred_on -> Nullable<Date>,
        ongoing -> Bool,
        description -> Text,
        reporter_role -> Text,
        outbreak -> Nullable<Text>,
        language -> Text,
        anonymous -> Bool,
        contact_ciphertext -> Nullable<Bytea>,
        contact_key_id -> Nullable<Text>,
        receipt_code_hash -> Bytea,
        status -> Text,
        outcome -> Nullable<Text>,
        submitted_by_api_key -> Nullable<Uuid>,
        submitted_at -> Timestamptz,
        updated_at -> Timestamptz,
        priority -> Text,
        priority_rank -> Int2,
        triage_score -> Int4,
        team -> Text,
        due_at -> Timestamptz,
        acknowledgement_due_at -> Nullable<Timestamptz>,
        feedback_due_at -> Nullable<Timestamptz>,
        triage -> Jsonb,
        triage_config_version -> Text,
        facility_key -> Nullable<Text>,
        cluster_id -> Nullable<Uuid>,
        assignee -> Nullable<Text>,
        duplicate_of -> Nullable<Uuid>,
        version -> Int4,
        closed_at -> Nullable<Timestamptz>,
        disposed_at -> Nullable<Timestamptz>,
        disposal_rule -> Nullable<Text>,
    }
}

diesel::table! {
    tip_clusters (id) {
        id -> Uuid,
        facility_key -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    tip_events (id) {
        id -> Int8,
        tip_id -> Uuid,
        kind -> Text,
        actor -> Text,
        data -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (api_key_id, idempotency_key) {
        api_key_id -> Uuid,
        idempotency_key -> Text,
        request_hash -> Bytea,
        state -> Text,
        response_status -> Nullable<Int2>,
        response_location -> Nullable<Text>,
        response_ciphertext -> Nullable<Bytea>,
        response_key_id -> Nullable<Text>,
        created_at -> Timestamptz,
        locked_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    tip_messages (id) {
        id -> Uuid,
        tip_id -> Uuid,
        direction -> Text,
        body -> Text,
        author -> Nullable<Text>,
        created_at -> Timestamptz,
        read_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        display_name -> Text,
        roles -> Array<Text>,
        language -> Text,
        active -> Bool,
        password_hash -> Nullable<Text>,
        totp_ciphertext -> Nullable<Bytea>,
        totp_key_id -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamptz>,
        failed_logins -> Int4,
        locked_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        local_login_allowed -> Bool,
    }
}

diesel::table! {
    user_teams (user_id, team) {
        user_id -> Uuid,
        team -> Text,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Uuid,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    user_identities (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        user_id -> Uuid,
        provider -> Text,
        created_at -> Timestamptz,
        last_sign_in_at -> Timestamptz,
    }
}

diesel::table! {
    sso_flows (state_hash) {
        state_hash -> Bytea,
        browser_hash -> Bytea,
        provider -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        next_path -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    sso_sessions (session_hash) {
        session_hash -> Bytea,
        provider -> Text,
        id_token_key_id -> Text,
        id_token_sealed -> Bytea,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        stage -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Bytea,
        purpose -> Text,
        user_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> Int8,
        at -> Timestamptz,
        actor -> Text,
        action -> Text,
        tip_id -> Nullable<Uuid>,
        detail -> Text,
        request_id -> Nullable<Text>,
        prev_hash -> Bytea,
        hash -> Bytea,
    }
}

diesel::table! {
    notification_jobs (id) {
        id -> Uuid,
        kind -> Text,
        tip_id -> Nullable<Uuid>,
        team -> Nullable<Text>,
        payload -> Jsonb,
        dedupe_key -> Nullable<Text>,
        state -> Text,
        attempts -> Int4,
        run_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        lease_token -> Nullable<Uuid>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notification_digest_entries (tip_id) {
        tip_id -> Uuid,
        team -> Text,
        created_at -> Timestamptz,
        job_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    tip_daily_counts (day, region_code, category, outbreak) {
        day -> Date,
        region_code -> Text,
        category -> Text,
        outbreak -> Text,
        tips -> Int4,
    }
}

diesel::joinable!(municipalities -> regions (region_code));
diesel::table! {
    attachments (id) {
        id -> Uuid,
        tip_id -> Nullable<Uuid>,
        message_id -> Nullable<Uuid>,
        position -> Nullable<Int4>,
        uploaded_by_api_key -> Nullable<Uuid>,
        draft_hash -> Nullable<Bytea>,
        kind -> Text,
        size_bytes -> Int8,
        width -> Nullable<Int4>,
        height -> Nullable<Int4>,
        key_id -> Text,
        chunk_count -> Int4,
        scan_status -> Text,
        scan_signature -> Nullable<Text>,
        scan_attempts -> Int4,
        next_scan_at -> Timestamptz,
        scanned_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        attached_at -> Nullable<Timestamptz>,
        storage -> Text,
    }
}

diesel::table! {
    attachment_chunks (attachment_id, seq) {
        attachment_id -> Uuid,
        seq -> Int4,
        sealed -> Bytea,
    }
}

diesel::table! {
    attachment_object_deletions (attachment_id) {
        attachment_id -> Uuid,
        chunk_count -> Int4,
        queued_at -> Timestamptz,
    }
}

diesel::joinable!(tip_messages -> tips (tip_id));
diesel::joinable!(tip_events -> tips (tip_id));
diesel::joinable!(attachment_chunks -> attachments (attachment_id));
diesel::joinable!(idempotency_keys -> api_keys (api_key_id));
diesel::joinable!(user_teams -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    attachments,
    attachment_chunks,
    attachment_object_deletions,
    categories,
    care_sectors,
    reporter_roles,
    regions,
    municipalities,
    api_keys,
    tips,
    tip_events,
    idempotency_keys,
    tip_messages,
    tip_clusters,
    users,
    user_teams,
    recovery_codes,
    sessions,
    account_tokens,
    audit_log,
    notification_jobs,
    notification_digest_entries,
    tip_daily_counts,
    legal_holds,
    records_requests,
    records_request_tips,
    disclosure_copies,
    disposal_runs,
);

/// Every table above with its columns, in declaration order (for the schema drift test).
pub const TABLE_COLUMNS: &[(&str, &[&str])] = &[
    (
        "categories",
        &["code", "label_sv", "label_en", "sort_order"],
    ),
    (
        "care_sectors",
        &["code", "label_sv", "label_en", "sort_order"],
    ),
    (
        "reporter_roles",
        &["code", "label_sv", "label_en", "sort_order"],
    ),
    ("regions", &["code", "name", "region_name"]),
    ("municipalities", &["code", "name", "region_code"]),
    (
        "api_keys",
        &[
            "id",
            "prefix",
            "name",
            "secret_hash",
            "scopes",
            "created_at",
            "revoked_at",
        ],
    ),
    (
        "tips",
        &[
            "id",
            "reference",
            "channel",
            "category",
            "care_sector",
            "region_code",
            "municipality_code",
            "facility_name",
            "care_provider",
            "occurred_on",
            "ongoing",
            "description",
            "reporter_role",
            "outbreak",
            "language",
            "anonymous",
            "contact_ciphertext",
            "contact_key_id",
            "receipt_code_hash",
            "status",
            "outcome",
            "submitted_by_api_key",
            "submitted_at",
            "updated_at",
            "priority",
            "priority_rank",
            "triage_score",
            "team",
            "due_at",
            "acknowledgement_due_at",
            "feedback_due_at",
            "triage",
            "triage_config_version",
            "facility_key",
            "cluster_id",
            "assignee",
            "duplicate_of",
            "version",
            // generated tsvector; queried with raw SQL, so not in the table! above
            "search",
            // set by a trigger; read by the situation report's raw SQL only
            "first_reviewed_at",
            "closed_at",
            "disposed_at",
            "disposal_rule",
        ],
    ),
    ("tip_clusters", &["id", "facility_key", "created_at"]),
    (
        "tip_events",
        &["id", "tip_id", "kind", "actor", "data", "created_at"],
    ),
    (
        "idempotency_keys",
        &[
            "api_key_id",
            "idempotency_key",
            "request_hash",
            "state",
            "response_status",
            "response_location",
            "response_ciphertext",
            "response_key_id",
            "created_at",
            "locked_at",
            "expires_at",
        ],
    ),
    (
        "users",
        &[
            "id",
            "email",
            "display_name",
            "roles",
            "language",
            "active",
            "password_hash",
            "totp_ciphertext",
            "totp_key_id",
            "totp_enabled_at",
            "failed_logins",
            "locked_until",
            "created_at",
            "updated_at",
            "local_login_allowed",
        ],
    ),
    ("user_teams", &["user_id", "team"]),
    (
        "user_identities",
        &[
            "issuer",
            "subject",
            "user_id",
            "provider",
            "created_at",
            "last_sign_in_at",
        ],
    ),
    (
        "sso_flows",
        &[
            "state_hash",
            "browser_hash",
            "provider",
            "nonce",
            "pkce_verifier",
            "next_path",
            "created_at",
            "expires_at",
        ],
    ),
    (
        "sso_sessions",
        &[
            "session_hash",
            "provider",
            "id_token_key_id",
            "id_token_sealed",
        ],
    ),
    ("recovery_codes", &["user_id", "code_hash", "used_at"]),
    (
        "sessions",
        &[
            "token_hash",
            "user_id",
            "stage",
            "created_at",
            "last_seen_at",
            "expires_at",
        ],
    ),
    (
        "account_tokens",
        &[
            "token_hash",
            "purpose",
            "user_id",
            "created_at",
            "expires_at",
            "used_at",
        ],
    ),
    (
        "audit_log",
        &[
            "seq",
            "at",
            "actor",
            "action",
            "tip_id",
            "detail",
            "request_id",
            "prev_hash",
            "hash",
        ],
    ),
    (
        "notification_jobs",
        &[
            "id",
            "kind",
            "tip_id",
            "team",
            "payload",
            "dedupe_key",
            "state",
            "attempts",
            "run_at",
            "locked_by",
            "lease_token",
            "last_error",
            "created_at",
            "updated_at",
            "sent_at",
        ],
    ),
    (
        "notification_digest_entries",
        &["tip_id", "team", "created_at", "job_id"],
    ),
    (
        "tip_daily_counts",
        &["day", "region_code", "category", "outbreak", "tips"],
    ),
    (
        "attachments",
        &[
            "id",
            "tip_id",
            "message_id",
            "position",
            "uploaded_by_api_key",
            "draft_hash",
            "kind",
            "size_bytes",
            "width",
            "height",
            "key_id",
            "chunk_count",
            "scan_status",
            "scan_signature",
            "scan_attempts",
            "next_scan_at",
            "scanned_at",
            "created_at",
            "attached_at",
            "storage",
        ],
    ),
    ("attachment_chunks", &["attachment_id", "seq", "sealed"]),
    (
        "attachment_object_deletions",
        &["attachment_id", "chunk_count", "queued_at"],
    ),
    (
        "legal_holds",
        &[
            "id",
            "tip_id",
            "cluster_id",
            "reason",
            "placed_by",
            "placed_at",
            "lifted_by",
            "lifted_at",
            "lift_reason",
        ],
    ),
    (
        "records_requests",
        &[
            "id",
            "reference",
            "received_on",
            "requester_ciphertext",
            "requester_key_id",
            "registered_by",
            "registered_at",
            "status",
            "decision",
            "decision_note",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decided_at",
            "version",
        ],
    ),
    (
        "records_request_tips",
        &["request_id", "tip_id", "redactions"],
    ),
    (
        "disclosure_copies",
        &[
            "request_id",
            "media_type",
            "content",
            "sha256",
            "produced_at",
        ],
    ),
    (
        "disposal_runs",
        &[
            "id",
            "started_at",
            "finished_at",
            "actor",
            "as_of",
            "disposed",
            "skipped_held",
            "skipped_requested",
        ],
    ),
];

diesel::table! {
    legal_holds (id) {
        id -> Uuid,
        tip_id -> Nullable<Uuid>,
        cluster_id -> Nullable<Uuid>,
        reason -> Text,
        placed_by -> Text,
        placed_at -> Timestamptz,
        lifted_by -> Nullable<Text>,
        lifted_at -> Nullable<Timestamptz>,
        lift_reason -> Nullable<Text>,
    }
}

diesel::table! {
    records_requests (id) {
        id -> Uuid,
        reference -> Text,
        received_on -> Date,
        requester_ciphertext -> Nullable<Bytea>,
        requester_key_id -> Nullable<Text>,
        registered_by -> Text,
        registered_at -> Timestamptz,
        status -> Text,
        decision -> Nullable<Text>,
        decision_note -> Nullable<Text>,
        proposed_by -> Nullable<Text>,
        proposed_at -> Nullable<Timestamptz>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    records_request_tips (request_id, tip_id) {
        request_id -> Uuid,
        tip_id -> Uuid,
        redactions -> Jsonb,
    }
}

diesel::table! {
    disclosure_copies (request_id) {
        request_id -> Uuid,
        media_type -> Text,
        content -> Bytea,
        sha256 -> Bytea,
        produced_at -> Timestamptz,
    }
}

diesel::table! {
    disposal_runs (id) {
        id -> Uuid,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        actor -> Text,
        as_of -> Timestamptz,
        disposed -> Int4,
        skipped_held -> Int4,
        skipped_requested -> Int4,
    }
}

diesel::joinable!(records_request_tips -> records_requests (request_id));
diesel::joinable!(records_request_tips -> tips (tip_id));
diesel::joinable!(legal_holds -> tips (tip_id));
