# lexledger: PGXS build of the extension plus the two commands (run, test)
# and the benchmark.  See README.md.

EXTENSION  = lexledger
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" lexledger.control)

MODULE_big = lexledger
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PGFILEDESC = "lexledger - ledger, escrow and documents inside PostgreSQL"

# The extension script is assembled from one file per part, in dependency
# order (each part may use what an earlier one created).
SQL_PARTS  = src/sql/schema.sql \
             src/sql/amount.sql \
             src/sql/ledger.sql \
             src/sql/escrow.sql \
             src/sql/maintenance.sql \
             src/sql/guard.sql
DATA_built = lexledger--$(EXTVERSION).sql
DATA       = $(wildcard src/sql/upgrades/lexledger--*--*.sql)

# PostgreSQL 15's pg_config when it is installed: a plain pg_config is the
# newest server-dev package's, should another major version be installed.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PG_CPPFLAGS = -Isrc
PG_CFLAGS   = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
              -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK  =

EXTRA_CLEAN = results output_iso tmp_check regression.diffs regression.out

# On a fresh machine pg_config is not there yet: the run, test and bench
# targets install it first (scripts/deps.sh) and then call make again.
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
all install:
	@echo "pg_config not found: run 'make deps' first (make run and make test do it)" >&2; exit 1
endif

FINGERPRINT = cat $(SQL_PARTS) | md5sum | cut -c1-32

# The script ends with its own fingerprint (md5 of the parts), which
# lexledger.schema_fingerprint() returns: make run compares the two to tell
# a database created from an older build of the same version.
$(DATA_built): $(SQL_PARTS) lexledger.control Makefile
	( printf '%s\n' "-- lexledger $(EXTVERSION): generated from src/sql/*.sql by make; do not edit" \
	    '\echo Use "CREATE EXTENSION lexledger" to load this file. \quit'; \
	  for f in $(SQL_PARTS); do printf '\n-- ---- %s ----\n' "$$f"; cat $$f; done; \
	  fp=$$($(FINGERPRINT)); \
	  printf '\n-- ---- fingerprint ----\n'; \
	  printf '%s\n' "CREATE FUNCTION lexledger.schema_fingerprint() RETURNS text" \
	    "LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS \$$\$$SELECT '$$fp'::text\$$\$$;" \
	    "COMMENT ON FUNCTION lexledger.schema_fingerprint() IS" \
	    "  'md5 of the SQL this schema was created from: tells builds of the same version apart.';" ) > $@

# All the objects depend on the shared headers.
$(OBJS): $(wildcard src/*.h)

.PHONY: deps run stop test bench psql fingerprint

# prints the fingerprint the extension script built from these sources has
fingerprint:
	@$(FINGERPRINT)

deps:
	@scripts/deps.sh

run:
	@scripts/run.sh start

stop:
	@scripts/run.sh stop

psql:
	@scripts/run.sh psql

test:
	@test/run

bench:
	@test/bench/run
