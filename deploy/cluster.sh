#!/usr/bin/env bash
# A kansa cluster on one machine, on loopback ports in a directory of its own: a PostgreSQL
# primary and a synchronous standby (streaming replication), N stateless `kansa serve` nodes
# and nginx in front. An example of the topology of docs/scale.md, to read and to run
# (`make cluster`); the tests drive it too (tests/cluster/). Never touches a server on 5432.
#
#   deploy/cluster.sh run              up in a new temp dir, print the URLs, down on Ctrl-C
#   deploy/cluster.sh up DIR           make and start everything in DIR (must not exist)
#   deploy/cluster.sh down DIR         stop everything in DIR and remove DIR
#   deploy/cluster.sh failover DIR     stop the primary (-m KILL: SIGKILL it), promote the
#                                      standby; stop_primary and promote are the two halves
#   deploy/cluster.sh rejoin DIR       make the old primary a synchronous standby of the new
#                                      one (a fresh base backup), as the runbook says
#   deploy/cluster.sh kill_node DIR I  SIGKILL node I (0-based); restart_node DIR I starts it
#
# Settings (environment): NODES (3), PG_PORTS ("15432 15433"), NODE_PORTS ("18001 18002
# 18003"), LB_PORT (18000), KANSA (the kansa command), PG_EXTRA (more postgresql.conf lines,
# e.g. "fsync = off" for tests), INITDB_OPTS, PGBIN (default: the newest
# /usr/lib/postgresql/*/bin).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KANSA=${KANSA:-kansa}
NODES=${NODES:-3}
read -r -a PG_PORTS <<< "${PG_PORTS:-15432 15433}"
read -r -a NODE_PORTS <<< "${NODE_PORTS:-18001 18002 18003}"
LB_PORT=${LB_PORT:-18000}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
DB=kansa

# PostgreSQL refuses to run as root: then its commands run as the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg() { as_pg "$PGBIN/$1" "${@:2}"; }
say() { echo "cluster: $*" >&2; }

# The two servers are "a" and "b"; DIR/primary names the one that is primary now.
port_of() { if [ "$1" = a ]; then echo "${PG_PORTS[0]}"; else echo "${PG_PORTS[1]}"; fi; }
other() { if [ "$1" = a ]; then echo b; else echo a; fi; }
primary() { cat "$DIR/primary"; }
sql() { pg psql -X -q -t -A -h 127.0.0.1 -p "$(port_of "$1")" -U postgres -d "${3:-postgres}" -c "$2"; }

# What every node is given. Writes go to whichever server takes them (target_session_attrs):
# after a failover the nodes find the new primary by themselves. Reads prefer the standby,
# which applies every commit before the primary acknowledges it (remote_apply).
database_url() {
  echo "postgresql://postgres@127.0.0.1:${PG_PORTS[0]},127.0.0.1:${PG_PORTS[1]}/$DB?target_session_attrs=read-write&connect_timeout=2"
}
read_url() {
  echo "postgresql://postgres@127.0.0.1:${PG_PORTS[1]},127.0.0.1:${PG_PORTS[0]}/$DB?target_session_attrs=prefer-standby&connect_timeout=2"
}

start_server() {  # NAME
  pg pg_ctl -D "$DIR/pg/$1" -l "$DIR/pg/$1.log" -w -t 60 start > /dev/null
}

stop_server() {  # NAME [MODE]
  pg pg_ctl -D "$DIR/pg/$1" -m "${2:-fast}" -w -t 60 stop > /dev/null 2>&1 || true
}

# The synchronous standby: a base backup of the primary that streams from it (-R writes
# primary_conninfo and standby.signal), on its own port.
make_standby() {  # NAME
  local name=$1 from
  from=$(other "$name")
  rm -rf "${DIR:?}/pg/$name"
  pg pg_basebackup -h 127.0.0.1 -p "$(port_of "$from")" -U postgres -D "$DIR/pg/$name" \
    -R -X stream -c fast
  echo "port = $(port_of "$name")" >> "$DIR/pg/$name/postgresql.conf"
  start_server "$name"
  # Acknowledged means on two servers: the primary commits only once one standby has
  # applied the commit (synchronous_commit = remote_apply, set for every server below).
  sql "$from" "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (*)'" > /dev/null
  sql "$from" "SELECT pg_reload_conf()" > /dev/null
  for _ in $(seq 1 300); do
    [ "$(sql "$from" "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum') AND replay_lsn IS NOT NULL")" -ge 1 ] && return 0
    sleep 0.1
  done
  say "the standby $name did not catch up"; return 1
}

make_primary() {
  # shellcheck disable=SC2086 # INITDB_OPTS: more initdb options, e.g. --no-sync for tests
  pg initdb -D "$DIR/pg/a" -U postgres --auth=trust -E UTF8 --locale=C ${INITDB_OPTS:-} > /dev/null
  cat >> "$DIR/pg/a/postgresql.conf" <<EOF
# -- deploy/cluster.sh --
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/pg'
max_connections = 200
wal_level = replica
max_wal_senders = 10
hot_standby = on
wal_log_hints = on                # pg_rewind can turn a failed primary into a standby
synchronous_commit = remote_apply # an acknowledged commit is applied on the standby
$(printf '%s\n' "${PG_EXTRA:-}" | tr ';' '\n')
port = ${PG_PORTS[0]}
EOF
  start_server a
  echo a > "$DIR/primary"
  sql a "CREATE DATABASE $DB" > /dev/null
}

start_node() {  # INDEX (0-based)
  local port=${NODE_PORTS[$1]}
  # setsid: a node outlives this script; `down` stops it by the pid kept here.
  KANSA_SIGNING_KEY_FILE="$DIR/kansa-signing.key" \
  KANSA_READ_DATABASE_URL="$(read_url)" \
  KANSA_TRUSTED_PROXIES=127.0.0.1 \
    setsid "$KANSA" serve --db "$(database_url)" --host 127.0.0.1 --port "$port" \
    >> "$DIR/node-$1.log" 2>&1 < /dev/null &
  echo $! > "$DIR/node-$1.pid"
}

wait_http() {  # URL
  for _ in $(seq 1 200); do
    if python3 - "$1" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1)
EOF
    sleep 0.1
  done
  say "nothing answers at $1"; return 1
}

start_balancer() {
  local nodes=""
  for i in $(seq 0 $((NODES - 1))); do
    nodes+="        server 127.0.0.1:${NODE_PORTS[$i]} max_fails=1 fail_timeout=2s;"$'\n'
  done
  mkdir -p "$DIR/nginx"
  python3 - "$HERE/cluster-nginx.conf" "$DIR/nginx.conf" "$DIR/nginx" "127.0.0.1:$LB_PORT" "$nodes" <<'EOF'
import sys
template, target, where, listen, nodes = sys.argv[1:]
text = open(template).read()
text = text.replace("@DIR@", where).replace("@LISTEN@", listen).replace("@NODES@", nodes.rstrip("\n"))
open(target, "w").write(text)
EOF
  "$NGINX" -e "$DIR/nginx/error.log" -c "$DIR/nginx.conf"
}

up() {
  [ "${#NODE_PORTS[@]}" -ge "$NODES" ] || { say "NODE_PORTS names fewer than $NODES ports"; exit 2; }
  mkdir "$DIR"
  chmod 711 "$DIR"  # the postgres user reaches its directory inside
  mkdir "$DIR/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
  echo "kansa cluster" > "$DIR/.kansa-cluster"
  make_primary
  make_standby b
  KANSA_SIGNING_KEY_FILE="$DIR/kansa-signing.key" "$KANSA" init --db "$(database_url)" > /dev/null
  for i in $(seq 0 $((NODES - 1))); do start_node "$i"; done
  for i in $(seq 0 $((NODES - 1))); do wait_http "http://127.0.0.1:${NODE_PORTS[$i]}/healthz"; done
  start_balancer
  wait_http "http://127.0.0.1:$LB_PORT/healthz"
  {
    echo "LB_URL=http://127.0.0.1:$LB_PORT"
    echo "DATABASE_URL=$(database_url)"
    echo "READ_DATABASE_URL=$(read_url)"
    echo "PG_PORTS=${PG_PORTS[*]}"
    echo "NODE_PORTS=${NODE_PORTS[*]:0:$NODES}"
  } > "$DIR/cluster.env"
  say "up in $DIR: nginx on http://127.0.0.1:$LB_PORT, $NODES nodes, PostgreSQL primary" \
      "on ${PG_PORTS[0]} and synchronous standby on ${PG_PORTS[1]}"
}

down() {
  [ -f "$DIR/.kansa-cluster" ] || { say "$DIR is no cluster made here"; exit 2; }
  [ -f "$DIR/nginx/nginx.pid" ] && kill "$(cat "$DIR/nginx/nginx.pid")" 2>/dev/null || true
  for pidfile in "$DIR"/node-*.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$DIR"/node-*.pid; do  # wait for each node to finish its requests
    [ -f "$pidfile" ] || continue
    for _ in $(seq 1 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  for name in a b; do [ -d "$DIR/pg/$name" ] && stop_server "$name" immediate; done
  rm -rf "$DIR"
}

stop_primary() {  # [-m KILL]: SIGKILL, as a crash would
  local old
  old=$(primary)
  if [ "${1:-}" = "-m" ] && [ "${2:-}" = KILL ]; then
    kill -9 "$(head -n 1 "$DIR/pg/$old/postmaster.pid")"
  else
    stop_server "$old" fast
  fi
  say "the primary $old is stopped: no server takes writes until the standby is promoted"
}

promote() {
  local new
  new=$(other "$(primary)")
  pg pg_ctl -D "$DIR/pg/$new" -w -t 60 promote > /dev/null
  echo "$new" > "$DIR/primary"
  say "$new is the primary (port $(port_of "$new")); rejoin the old one as its standby"
}

kill_node() {  # INDEX: SIGKILL, as a crash would
  kill -9 "$(cat "$DIR/node-$1.pid")"
  say "node $1 killed"
}

restart_node() {  # INDEX
  kill "$(cat "$DIR/node-$1.pid")" 2>/dev/null || true
  start_node "$1"
  wait_http "http://127.0.0.1:${NODE_PORTS[$1]}/healthz"
  say "node $1 serves again"
}

failover() {  # [-m KILL]
  stop_primary "$@"
  promote
}

rejoin() {
  local old
  old=$(other "$(primary)")
  stop_server "$old" immediate
  make_standby "$old"
  say "$old is a synchronous standby of $(primary) again"
}

command=${1:-}
case "$command" in
  up|down|stop_primary|promote|failover|rejoin|kill_node|restart_node)
    [ -n "${2:-}" ] || { say "usage: $0 $command DIR"; exit 2; }
    DIR=$(realpath -m "$2")
    "$command" "${@:3}"
    ;;
  run)
    DIR=$(mktemp -u -d "${TMPDIR:-/tmp}/kansa-cluster-XXXXXX")
    trap 'down' EXIT
    trap 'exit 0' INT TERM
    up
    cat "$DIR/cluster.env"
    say "press Ctrl-C to stop it all"
    while :; do sleep 3600; done
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
