#!/usr/bin/env bash
# Installs the Debian packages lexledger needs, and only those missing.
# Works as root, or as a user who may sudo.
set -euo pipefail

packages=(
	# the server, its build kit and the scheduler
	postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-15-cron
	build-essential pkg-config
	# libraries the parts link against (installed once, here, for every part)
	libcurl4-openssl-dev libjansson-dev libpoppler-glib-dev libxml2-dev
	libzip-dev libssl-dev libargon2-dev
	# test kit: TAP tests (IPC::Run; pgrep from procps), the docs check
	# (python3), the benchmark (sysctl from procps, column from
	# bsdextrautils), pdftotext for the document parts
	libipc-run-perl procps python3 bsdextrautils poppler-utils
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
	sudo=()
elif command -v sudo >/dev/null 2>&1; then
	sudo=(sudo)
else
	echo "deps: missing packages (${missing[*]}) and neither root nor sudo is available;" >&2
	echo "deps: install them as root: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
