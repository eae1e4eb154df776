# Shell helpers shared by `make run`, `make test` and `make bench`.
# Sourced, not executed.  Callers set: PGDIR (cluster folder), PGPORT.

# PostgreSQL 15's tools, whatever other major versions are installed (a
# plain pg_config would be the newest server-dev package's).
PGBIN=/usr/lib/postgresql/15/bin
[[ -x "$PGBIN/pg_config" ]] || PGBIN=$(pg_config --bindir 2>/dev/null || echo "$PGBIN")
export PATH="$PGBIN:$PATH"
PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# PostgreSQL refuses to run as root: as root, the server and every tool that
# starts one run as the postgres user.
if [[ $(id -u) -eq 0 ]]; then
	RUNAS_USER=postgres
	as_pg() { runuser -u postgres -- "$@"; }
else
	RUNAS_USER=$(id -un)
	as_pg() { "$@"; }
fi

die() { echo "error: $*" >&2; exit 1; }

# A cluster folder the server's user can reach.  The project folder is
# preferred; as root, when postgres cannot traverse the path to it (a clone
# under /root, say), a folder under /tmp is used instead.  Call it after
# scripts/deps.sh: on a fresh machine the postgres user only exists then.
cluster_home() {
	local wanted=$1 name=$2 dir
	if [[ $(id -u) -ne 0 ]] || runuser -u postgres -- test -x "$(dirname "$wanted")"; then
		dir=$wanted
	else
		dir="/tmp/lexledger-$name-$(echo "$PROJECT" | md5sum | cut -c1-8)"
	fi
	check_cluster_dir "$dir"
	echo "$dir"
}

# The scripts remove and chown inside the cluster folder, as root or as
# postgres: refuse one that is a symbolic link or belongs to someone else
# (a predictable name under /tmp could have been planted).  The unix
# socket's path must also fit in the 107 bytes the kernel allows.
check_cluster_dir() {
	local dir=$1 owner
	[[ -L "$dir" ]] && die "$dir is a symbolic link: refusing to use it as a cluster folder"
	if [[ -e "$dir" ]]; then
		owner=$(stat -c %U "$dir")
		case $owner in
		root | postgres | "$(id -un)") ;;
		*) die "$dir belongs to $owner: refusing to use it as a cluster folder" ;;
		esac
	fi
	((${#dir} + ${#PGPORT} + 17 <= 107)) ||
		die "the cluster's socket path $dir/run/.s.PGSQL.$PGPORT is longer than the 107 bytes unix sockets allow: use a shorter project path"
}

# Builds and installs the extension into the server's directories.  A user
# who cannot write there needs sudo, or LEXLEDGER_SKIP_INSTALL=1 to use what
# root installed (make install) as is.
build_and_install() {
	make -s -C "$PROJECT" all >/dev/null || die "build failed"
	if [[ -n "${LEXLEDGER_SKIP_INSTALL:-}" ]]; then
		echo "note: LEXLEDGER_SKIP_INSTALL is set: using the lexledger installed in $(pg_config --pkglibdir)" >&2
	elif [[ $(id -u) -eq 0 || -w "$(pg_config --pkglibdir)" ]]; then
		make -s -C "$PROJECT" install >/dev/null
	elif command -v sudo >/dev/null 2>&1; then
		sudo make -s -C "$PROJECT" install >/dev/null
	else
		die "cannot install into $(pg_config --pkglibdir): run 'make install' as root (or install sudo), then run again with LEXLEDGER_SKIP_INSTALL=1"
	fi
}

# init_cluster DIR PORT DBNAME: creates DIR/data (once) with lexledger and
# pg_cron preloaded, the socket in DIR/run, listening on localhost:PORT.
init_cluster() {
	local dir=$1 port=$2 db=$3
	mkdir -p "$dir"
	[[ $(id -u) -eq 0 ]] && chown -h postgres: "$dir"
	as_pg mkdir -p "$dir/run"
	require_own_cluster "$dir"
	if ! as_pg test -f "$dir/data/PG_VERSION"; then
		as_pg initdb -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
		# The database the workers connect to exists before their first
		# start: otherwise lexledger's worker and pg_cron's launcher fail
		# to connect, and log it, until create_database has run.
		echo "CREATE DATABASE \"$db\"" | as_pg postgres --single -D "$dir/data" postgres \
			>>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "creating database $db failed"; }
	fi
	as_pg tee "$dir/data/lexledger.conf" >/dev/null <<-EOF
		# written by lexledger's scripts/lib.sh on every start
		listen_addresses = 'localhost'
		port = $port
		unix_socket_directories = '$dir/run'
		shared_preload_libraries = 'lexledger, pg_cron'
		lexledger.database_name = '$db'
		cron.database_name = '$db'
		cron.use_background_workers = on
		max_worker_processes = 32
		max_connections = 100
		logging_collector = off
		log_line_prefix = '%m [%p] %q%a '
	EOF
	grep -q "^include_if_exists = 'lexledger.conf'" "$dir/data/postgresql.conf" ||
		echo "include_if_exists = 'lexledger.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
}

# Whether the cluster in DIR is running.  pg_ctl believes postmaster.pid,
# but after a crash or a reboot its PID may belong to another process by
# now (even another cluster's postmaster, also run by postgres), which
# pg_ctl restart or stop would then signal.  A postmaster's working
# directory is its data directory: that tells ours apart.
cluster_running() {
	local data=$1/data pid
	pid=$(as_pg head -1 "$data/postmaster.pid" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ "$(as_pg readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(as_pg realpath "$data")" ]]
}

start_cluster() {
	local dir=$1
	if ! cluster_running "$dir" && as_pg test -f "$dir/data/postmaster.pid"; then
		echo "note: removing $dir/data/postmaster.pid, left by a server that is gone" >&2
		as_pg rm -f "$dir/data/postmaster.pid"
	fi
	if cluster_running "$dir"; then
		as_pg pg_ctl -D "$dir/data" restart -w -m fast -l "$dir/server.log" >/dev/null ||
			{ tail -30 "$dir/server.log" >&2; die "server did not restart"; }
	else
		as_pg pg_ctl -D "$dir/data" start -w -l "$dir/server.log" >/dev/null ||
			{ tail -30 "$dir/server.log" >&2; die "server did not start"; }
	fi
}

# A cluster made by root belongs to postgres, one made by a user to that
# user: neither can run the other's.  Says so instead of failing obscurely.
require_own_cluster() {
	local dir=$1
	if [[ -e "$dir/data" ]] && ! as_pg test -r "$dir/data" -a -w "$dir/data"; then
		die "$dir/data belongs to $(stat -c %U "$dir/data"), not $RUNAS_USER: run as the user who created it, or remove $dir"
	fi
	return 0
}

stop_cluster() {
	local dir=$1
	require_own_cluster "$dir"
	as_pg test -f "$dir/data/PG_VERSION" || return 0
	cluster_running "$dir" || return 0
	as_pg pg_ctl -D "$dir/data" stop -w -m fast >/dev/null
}

# create_database DIR PORT DB: the database with pg_cron and lexledger, and
# lexledger's housekeeping scheduled in pg_cron.
create_database() {
	local dir=$1 port=$2 db=$3
	local psql=(env PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$dir/run" -p "$port" -U postgres)
	if ! "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
		"${psql[@]}" -d postgres -c "CREATE DATABASE \"$db\""
	fi
	"${psql[@]}" -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
		-c "CREATE EXTENSION IF NOT EXISTS lexledger" \
		-c "ALTER EXTENSION lexledger UPDATE" \
		-c "SELECT lexledger.schedule_maintenance()
		     WHERE NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'lexledger-verify')" >/dev/null
	warn_if_schema_stale "$dir" "${psql[@]}" -d "$db"
}

# warn_if_schema_stale DIR PSQL...: an unreleased version's script changes
# from build to build while its version number stays, so ALTER EXTENSION
# UPDATE cannot bring an existing database along.  Says so, and how to
# start over; never drops anything itself.
warn_if_schema_stale() {
	local dir=$1
	shift
	local version script want have
	version=$("$@" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'lexledger'")
	script="$(pg_config --sharedir)/extension/lexledger--$version.sql"
	want=$(sed -n "s/.*AS \$\$SELECT '\([0-9a-f]*\)'::text\$\$;/\1/p" "$script" 2>/dev/null)
	have=$("$@" -tAc "SELECT lexledger.schema_fingerprint()" 2>/dev/null || true)
	if [[ -n "$want" && "$have" != "$want" ]]; then
		echo "warning: this database holds lexledger $version as an older build created it (the" >&2
		echo "         extension's SQL changed since, under the same version); its data is kept." >&2
		echo "         To start over with the current schema: make stop; rm -rf '$dir'; make run" >&2
	fi
}
