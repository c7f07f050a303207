# A throwaway PostgreSQL cluster for scripts (demo, scale probe). Source it, then:
#   cluster_start    sets PGC_DIR (under $PGC_ROOT, default /tmp), PGC_PORT, PGC_PSQL and starts the server
#   cluster_sql DB SQL
#   cluster_stop     stops the server and removes everything (also run on EXIT)
# initdb refuses root: as root, the server runs as user postgres (or nobody).

cluster_start() {
  PGC_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PGC_PSQL="$PGC_BIN/psql"   # the server's own psql, not Debian's Perl wrapper
  PGC_DIR=$(mktemp -d "${PGC_ROOT:-/tmp}/drover-pg-XXXXXX")
  PGC_PORT=$((20000 + RANDOM % 20000))
  PGC_RUN_AS=()
  if [[ $(id -u) -eq 0 ]]; then
    local user=postgres
    id postgres >/dev/null 2>&1 || user=nobody
    chown "$user" "$PGC_DIR"
    PGC_RUN_AS=(runuser -u "$user" --)
  fi
  trap cluster_stop EXIT
  "${PGC_RUN_AS[@]}" "$PGC_BIN/initdb" -D "$PGC_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  "${PGC_RUN_AS[@]}" "$PGC_BIN/pg_ctl" -D "$PGC_DIR/data" -l "$PGC_DIR/server.log" -w \
    -o "-k $PGC_DIR -p $PGC_PORT -c listen_addresses='' -c fsync=off ${PGC_OPTIONS:-}" start >/dev/null
}

cluster_sql() {
  "$PGC_PSQL" -X -q -h "$PGC_DIR" -p "$PGC_PORT" -U postgres -d "$1" -v ON_ERROR_STOP=1 -c "$2"
}

cluster_stop() {
  [[ -n "${PGC_DIR:-}" && -d "$PGC_DIR" ]] || return 0
  "${PGC_RUN_AS[@]}" "$PGC_BIN/pg_ctl" -D "$PGC_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGC_DIR"
}
