#!/usr/bin/env bash
# Start/stop a streaming replica (127.0.0.1:5433) and PgBouncer (127.0.0.1:6432, transaction
# pooling) next to the local Debian-packaged PostgreSQL primary (127.0.0.1:5432). Run as root.
# Usage: scripts/scaleout_servers.sh start|stop|status|pause-replica|resume-replica
set -euo pipefail

PG_VERSION=${PG_VERSION:-15}
PG_CLUSTER=${PG_CLUSTER:-main}
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
HBA_FILE=/etc/postgresql/$PG_VERSION/$PG_CLUSTER/pg_hba.conf
HBA_LINE="host replication all 127.0.0.1/32 trust"
HBA_MARK=${HBA_MARK:-/tmp/sqlmodel-crud-utils-hba-added} # exists while our line is in $HBA_FILE
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
BOUNCER_PORT=${BOUNCER_PORT:-6432}
REPLICA_DIR=${REPLICA_DIR:-/tmp/sqlmodel-crud-utils-replica}
BOUNCER_DIR=${BOUNCER_DIR:-/tmp/sqlmodel-crud-utils-pgbouncer}
BOUNCER_PID=$BOUNCER_DIR/pgbouncer.pid
TIMEOUT=${TIMEOUT:-60}
cd / # postgres may not be able to read the caller's cwd

log() { echo "scaleout_servers: $*"; }
die() { echo "scaleout_servers: ERROR: $*" >&2; exit 1; }
as_pg() { runuser -u postgres -- "$@"; }
psql_at() { "$PG_BIN/psql" -X -Atq -h 127.0.0.1 -U postgres -p "$1" -d postgres -c "$2"; } # PORT SQL
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
show_log() { [[ -f $1 ]] && { echo "--- last lines of $1:" >&2; tail -n 20 "$1" >&2; } || true; }

wait_for() { # wait_for DESCRIPTION CMD...: retry CMD every 0.5 s for up to $TIMEOUT s
  local what=$1 deadline=$((SECONDS + TIMEOUT)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "scaleout_servers: ERROR: timed out after ${TIMEOUT}s waiting for $what" >&2; return 1; }
    sleep 0.5
  done
}

replica_running() { [[ -d $REPLICA_DIR/data ]] && as_pg "$PG_BIN/pg_ctl" -D "$REPLICA_DIR/data" status >/dev/null 2>&1; }
bouncer_running() { local st; [[ -f $BOUNCER_PID ]] && st=$(ps -o stat= -p "$(cat "$BOUNCER_PID")") && [[ $st != Z* ]]; }
in_recovery() { [[ $(psql_at "$REPLICA_PORT" "SELECT pg_is_in_recovery()") == t ]]; }
streaming() { [[ $(psql_at "$REPLICA_PORT" "SELECT status FROM pg_stat_wal_receiver") == streaming ]]; }
replication_ok() { "$PG_BIN/psql" -X -Atq "host=127.0.0.1 port=$PRIMARY_PORT user=postgres replication=true" -c IDENTIFY_SYSTEM; }
bouncer_ok() { psql_at "$BOUNCER_PORT" "SELECT 1"; }

prepare_primary() {
  [[ -x $PG_BIN/pg_basebackup ]] || die "$PG_BIN/pg_basebackup not found (set PG_VERSION)"
  psql_at "$PRIMARY_PORT" "SELECT 1" >/dev/null || die "primary on 127.0.0.1:$PRIMARY_PORT is not answering"
  [[ $(psql_at "$PRIMARY_PORT" "SHOW wal_level") =~ ^(replica|logical)$ ]] || die "primary wal_level must be replica or logical"
  local free
  free=$(psql_at "$PRIMARY_PORT" "SELECT current_setting('max_wal_senders')::int - count(*) FROM pg_stat_replication")
  ((free >= 2)) || die "primary needs 2 free wal senders (max_wal_senders too low)"
  if ! grep -qxF "$HBA_LINE" "$HBA_FILE"; then
    log "adding '$HBA_LINE' to $HBA_FILE"
    [[ -z $(tail -c1 "$HBA_FILE") ]] || echo >>"$HBA_FILE" # no trailing newline
    echo "$HBA_LINE" >>"$HBA_FILE"
    touch "$HBA_MARK"
    psql_at "$PRIMARY_PORT" "SELECT pg_reload_conf()" >/dev/null
  fi
  wait_for "a replication connection to the primary (check $HBA_FILE)" replication_ok
}

start_replica() {
  port_open "$REPLICA_PORT" && die "port $REPLICA_PORT is already in use by something else"
  rm -rf "$REPLICA_DIR" && install -d -o postgres -g postgres -m 700 "$REPLICA_DIR"
  log "taking base backup into $REPLICA_DIR/data"
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$REPLICA_DIR/data" \
    -R -X stream -c fast || die "pg_basebackup failed"
  # Debian keeps the config outside the data dir; hot standby needs these >= the primary's values.
  local s conf="$REPLICA_DIR/data/postgresql.conf"
  for s in max_connections max_worker_processes max_wal_senders max_prepared_transactions max_locks_per_transaction; do
    echo "$s = $(psql_at "$PRIMARY_PORT" "SHOW $s")"
  done | as_pg tee "$conf" >/dev/null
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' | as_pg tee "$REPLICA_DIR/data/pg_hba.conf" >/dev/null
  as_pg touch "$REPLICA_DIR/data/pg_ident.conf"
  run_replica
}

run_replica() { # start the replica's server on its data directory, wait until it streams
  log "starting replica on 127.0.0.1:$REPLICA_PORT"
  # Command-line settings win over a postgresql.auto.conf copied from the primary.
  as_pg "$PG_BIN/pg_ctl" -D "$REPLICA_DIR/data" -l "$REPLICA_DIR/replica.log" -w -t "$TIMEOUT" start \
    -o "-c port=$REPLICA_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='$REPLICA_DIR' -c hot_standby=on" \
    >/dev/null || { show_log "$REPLICA_DIR/replica.log"; die "replica did not start"; }
  wait_for "replica to be in recovery" in_recovery || { show_log "$REPLICA_DIR/replica.log"; exit 1; }
  wait_for "replica to stream WAL" streaming || { show_log "$REPLICA_DIR/replica.log"; exit 1; }
}

start_bouncer() {
  port_open "$BOUNCER_PORT" && die "port $BOUNCER_PORT is already in use by something else"
  if [[ ! -x /usr/sbin/pgbouncer ]]; then
    log "installing pgbouncer"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null || die "apt-get install pgbouncer failed"
  fi
  rm -rf "$BOUNCER_DIR" && install -d -o postgres -g postgres -m 700 "$BOUNCER_DIR"
  as_pg tee "$BOUNCER_DIR/pgbouncer.ini" >/dev/null <<INI
[databases]
* = host=127.0.0.1 port=$PRIMARY_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $BOUNCER_DIR/userlist.txt
auth_user = postgres
admin_users = postgres
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
logfile = $BOUNCER_DIR/pgbouncer.log
pidfile = $BOUNCER_PID
INI
  echo '"postgres" ""' | as_pg tee "$BOUNCER_DIR/userlist.txt" >/dev/null
  log "starting pgbouncer on 127.0.0.1:$BOUNCER_PORT"
  as_pg /usr/sbin/pgbouncer -d -q "$BOUNCER_DIR/pgbouncer.ini" || { show_log "$BOUNCER_DIR/pgbouncer.log"; die "pgbouncer did not start"; }
  wait_for "pgbouncer to accept connections" bouncer_ok || { show_log "$BOUNCER_DIR/pgbouncer.log"; exit 1; }
}

stop_all() {
  if replica_running; then
    log "stopping replica"
    as_pg "$PG_BIN/pg_ctl" -D "$REPLICA_DIR/data" -m fast -w -t "$TIMEOUT" stop >/dev/null || die "could not stop the replica"
  fi
  rm -rf "$REPLICA_DIR"
  if bouncer_running; then
    log "stopping pgbouncer"
    kill "$(cat "$BOUNCER_PID")"
    wait_for "pgbouncer to exit" eval '! bouncer_running' || die "pgbouncer did not exit"
  fi
  rm -rf "$BOUNCER_DIR"
  if [[ -f $HBA_MARK ]]; then # remove the pg_hba.conf line only if this script added it
    log "removing '$HBA_LINE' from $HBA_FILE"
    local kept
    kept=$(grep -vxF "$HBA_LINE" "$HBA_FILE" || true)
    printf '%s\n' "$kept" >"$HBA_FILE" # rewritten in place: owner and mode stay
    psql_at "$PRIMARY_PORT" "SELECT pg_reload_conf()" >/dev/null || true
    rm -f "$HBA_MARK"
  fi
}

status() {
  local rc=0
  if replica_running; then
    log "replica running on 127.0.0.1:$REPLICA_PORT (in recovery: $(psql_at "$REPLICA_PORT" "SELECT pg_is_in_recovery()" 2>&1 || true))"
  else log "replica not running"; rc=3; fi
  if bouncer_running; then log "pgbouncer running on 127.0.0.1:$BOUNCER_PORT (pid $(cat "$BOUNCER_PID"))"
  else log "pgbouncer not running"; rc=3; fi
  return $rc
}

[[ $(id -u) == 0 ]] || die "must run as root (uses runuser and apt-get)"
case ${1:-} in
  start)
    if replica_running && bouncer_running && in_recovery 2>/dev/null && bouncer_ok >/dev/null 2>&1; then log "already running"; status; exit 0; fi
    stop_all # clean up any half-started leftovers
    started=$SECONDS
    prepare_primary
    start_replica
    start_bouncer
    log "started in $((SECONDS - started))s"
    ;;
  stop) stop_all; log "stopped" ;;
  status) status ;;
  # For the test of a replica that goes away: stop its server, keep its data.
  pause-replica)
    replica_running || die "the replica is not running"
    as_pg "$PG_BIN/pg_ctl" -D "$REPLICA_DIR/data" -m fast -w -t "$TIMEOUT" stop >/dev/null
    log "replica paused" ;;
  resume-replica)
    [[ -d $REPLICA_DIR/data ]] || die "no replica to resume (run start)"
    replica_running || run_replica
    log "replica resumed" ;;
  *) echo "usage: $0 start|stop|status|pause-replica|resume-replica" >&2; exit 2 ;;
esac
