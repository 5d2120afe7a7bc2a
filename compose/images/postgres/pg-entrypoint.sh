#!/bin/bash
# Starts PostgreSQL as a streaming-replication primary or replica (PG_ROLE), initialising PGDATA on first start.
# Environment: PG_ROLE (primary|replica), PG_PRIMARY_HOST (replica), PG_SLOT (default replica1),
# PG_SYNC_STANDBY (primary: synchronous_standby_names), PG_APP_USER/PG_APP_PASSWORD/PG_APP_DB (default app).
set -euo pipefail
role=${PG_ROLE:-primary}
slot=${PG_SLOT:-replica1}
app_user=${PG_APP_USER:-app}
app_pw=${PG_APP_PASSWORD:-app}
app_db=${PG_APP_DB:-app}
repl_pw=${PG_REPLICATION_PASSWORD:-replicator}

common_conf() {
  cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
hot_standby = on
fsync = on
synchronous_commit = on
unix_socket_directories = '/var/run/postgresql'
log_line_prefix = '%m [%p] '
CONF
}

# The data directory lives only for the drill (a volume that `down -v` removes), so setting it up skips the fsyncs
# that make it survive a host crash: initdb and pg_basebackup with --no-sync, the primary's setup server with
# fsync off. The server the drill runs against keeps fsync = on.
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ "$role" = primary ]; then
    initdb -U postgres --auth-local=trust --auth-host=scram-sha-256 --no-sync -D "$PGDATA" >/dev/null
    common_conf
    cat >> "$PGDATA/pg_hba.conf" <<HBA
host replication replicator 0.0.0.0/0 scram-sha-256
host all all 0.0.0.0/0 scram-sha-256
HBA
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c fsync=off" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 -qU postgres <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${repl_pw}';
CREATE ROLE ${app_user} WITH LOGIN PASSWORD '${app_pw}';
ALTER ROLE postgres WITH PASSWORD '${PG_SUPERUSER_PASSWORD:-postgres}';
CREATE DATABASE ${app_db} OWNER ${app_user};
SELECT pg_create_physical_replication_slot('${slot}');
SQL
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    # Only now: with a synchronous standby named, the setup commits above would wait for a standby that
    # cannot exist yet.
    if [ -n "${PG_SYNC_STANDBY:-}" ]; then
      echo "synchronous_standby_names = '${PG_SYNC_STANDBY}'" >> "$PGDATA/postgresql.conf"
    fi
  else
    : "${PG_PRIMARY_HOST:?PG_PRIMARY_HOST is required for a replica}"
    export PGPASSWORD=$repl_pw
    until pg_isready -q -h "$PG_PRIMARY_HOST" -U replicator; do sleep 0.5; done
    rm -rf "${PGDATA:?}"/*
    pg_basebackup -h "$PG_PRIMARY_HOST" -U replicator -D "$PGDATA" -R -X stream -S "$slot" --checkpoint=fast --no-sync
    echo "cluster_name = '${slot}'" >> "$PGDATA/postgresql.conf"
    sed -i '/^synchronous_standby_names/d' "$PGDATA/postgresql.conf"
  fi
fi
exec postgres -D "$PGDATA"
