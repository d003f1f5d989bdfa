#!/usr/bin/env bash
# The database's share of the write path: pgbench replays the service's own submission
# statement (and parts of it) against a migrated database, one statement per transaction.
# Usage: benches/pgbench/run.sh postgres://postgres@127.0.0.1:5432/some_migrated_db [seconds]
# The database must have been migrated (`tipsa migrate`); it is written to (tips pile up), so
# use a scratch one. Variants of the schema (an older trigger, say) are compared by applying a
# migration's down.sql before a run and its up.sql after.
set -euo pipefail
url=${1:?usage: run.sh DATABASE_URL [seconds]}
seconds=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -1)
psql "$url" -qc "CREATE TABLE IF NOT EXISTS tips_like (LIKE tips INCLUDING ALL)"
for script in like tip_only full_digest full_urgent full_digest_batch8; do
    psql "$url" -qc "CHECKPOINT" >/dev/null
    tps=$("$pgbench" -n -M prepared -c 8 -j 2 -T "$seconds" -f "$here/$script.sql" "$url" \
        | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    printf '%-12s %8.0f tps\n' "$script" "$tps"
done
