#!/bin/bash
# Writes pdns.conf from the environment, loads the gpgsql schema and the zone once (under an advisory lock: two
# instances start together), then runs pdns_server in the foreground.
# Environment: PDNS_DB_HOSTS (a libpq multi-host list), PDNS_DB_NAME/USER/PASSWORD, PDNS_API_KEY, PDNS_ZONE.
set -euo pipefail
: "${PDNS_API_KEY:?PDNS_API_KEY is required}"
zone=${PDNS_ZONE:-example.test.}
zone=${zone%.}
export PGHOST=$PDNS_DB_HOSTS PGDATABASE=${PDNS_DB_NAME:-pdns} PGUSER=${PDNS_DB_USER:-pdns}
export PGPASSWORD=${PDNS_DB_PASSWORD:?PDNS_DB_PASSWORD is required} PGTARGETSESSIONATTRS=read-write PGCONNECT_TIMEOUT=2

umask 077
cat > /etc/powerdns/pdns.conf <<CONF
launch=gpgsql
gpgsql-host=${PGHOST}
gpgsql-port=5432
gpgsql-dbname=${PGDATABASE}
gpgsql-user=${PGUSER}
gpgsql-password=${PGPASSWORD}
gpgsql-extra-connection-parameters=target_session_attrs=read-write connect_timeout=2
local-address=0.0.0.0
local-port=5300
api=yes
api-key=${PDNS_API_KEY}
webserver=yes
webserver-address=0.0.0.0
webserver-port=8081
webserver-allow-from=0.0.0.0/0
daemon=no
guardian=no
disable-syslog=yes
loglevel=4
cache-ttl=0
negquery-cache-ttl=0
query-cache-ttl=0
zone-cache-refresh-interval=0
# No rectify after each API change: the zone is not DNSSEC-signed, and a rectify rewrites every record of the
# zone, so with it each PATCH costs the whole zone (measured here: PowerDNS saturated at 25 writes/s).
default-api-rectify=no
security-poll-suffix=
CONF

until pg_isready -q; do sleep 0.5; done
until psql -qXtA -o /dev/null -v ON_ERROR_STOP=1 -v zone="$zone" <<'SQL'
SELECT pg_advisory_lock(5300);
SELECT to_regclass('public.domains') IS NULL AS fresh \gset
\if :fresh
\i /usr/share/pdns-backend-pgsql/schema/schema.pgsql.sql
INSERT INTO domains (name, type) VALUES (:'zone', 'NATIVE');
INSERT INTO records (domain_id, name, type, content, ttl, auth)
  SELECT id, :'zone', 'SOA', 'ns1.' || :'zone' || ' hostmaster.' || :'zone' || ' 1 10800 3600 604800 60', 60, true
  FROM domains WHERE name = :'zone';
INSERT INTO records (domain_id, name, type, content, ttl, auth)
  SELECT id, :'zone', 'NS', 'ns1.' || :'zone', 60, true FROM domains WHERE name = :'zone';
\endif
SELECT pg_advisory_unlock(5300);
SQL
do sleep 1; done
exec pdns_server
