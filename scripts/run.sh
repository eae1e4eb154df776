#!/usr/bin/env bash
# `make run` / `make stop` / `make psql`: a local cluster under .pgdata/ with
# lexledger and pg_cron loaded.  Re-running reuses the cluster.
#   LEXLEDGER_PORT  localhost port (default 5488)
#   LEXLEDGER_DB    database name (default lexledger)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PGPORT=${LEXLEDGER_PORT:-5488}
DB=${LEXLEDGER_DB:-lexledger}

case "${1:-start}" in
start)
	"$PROJECT/scripts/deps.sh"
	PGDIR=$(cluster_home "$PROJECT/.pgdata" run)
	build_and_install
	init_cluster "$PGDIR" "$PGPORT" "$DB"
	start_cluster "$PGDIR"
	create_database "$PGDIR" "$PGPORT" "$DB"
	cat <<-EOF

		lexledger is running (PostgreSQL $(pg_config --version | awk '{print $2}'), data in $PGDIR/data, log in $PGDIR/server.log).
		Connect with:
		    psql -h $(printf '%q' "$PGDIR/run") -p $PGPORT -U postgres $(printf '%q' "$DB")
		or over TCP:
		    psql "postgresql://postgres@localhost:$PGPORT/$DB"
		Stop it with: make stop
	EOF
	;;
stop)
	PGDIR=$(cluster_home "$PROJECT/.pgdata" run)
	stop_cluster "$PGDIR"
	echo "stopped"
	;;
psql)
	PGDIR=$(cluster_home "$PROJECT/.pgdata" run)
	exec psql -h "$PGDIR/run" -p "$PGPORT" -U postgres "$DB"
	;;
*)
	die "usage: $0 start|stop|psql"
	;;
esac
