#!/usr/bin/env bash
# `make run` / `make stop` / `make psql`: a local cluster under .pgdata/ with
# lexledger and pg_cron loaded.  Re-running reuses the cluster.
#   LEXLEDGER_PORT  localhost port (default 5488)
#   LEXLEDGER_DB    database name (default lexledger)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PGPORT=${LEXLEDGER_PORT:-5488}
DB=${LEXLEDGER_DB:-lexledger}
PGDIR=$(cluster_home "$PROJECT/.pgdata" run)

case "${1:-start}" in
start)
	"$PROJECT/scripts/deps.sh"
	build_and_install
	init_cluster "$PGDIR" "$PGPORT" "$DB"
	start_cluster "$PGDIR"
	create_database "$PGDIR" "$PGPORT" "$DB"
	cat <<-EOF

		lexledger is running (PostgreSQL $(pg_config --version | awk '{print $2}'), data in $PGDIR/data, log in $PGDIR/server.log).
		Connect with:
		    psql -h $PGDIR/run -p $PGPORT -U postgres $DB
		or over TCP:
		    psql "postgresql://postgres@localhost:$PGPORT/$DB"
		Stop it with: make stop
	EOF
	;;
stop)
	stop_cluster "$PGDIR"
	echo "stopped"
	;;
psql)
	exec psql -h "$PGDIR/run" -p "$PGPORT" -U postgres "$DB"
	;;
*)
	die "usage: $0 start|stop|psql"
	;;
esac
