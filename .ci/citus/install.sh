#!/usr/bin/env bash
# Installs the Citus 13.2.2 extension (built for Debian 12's PostgreSQL 15) into the local
# PostgreSQL, for sea-tenancy's Citus tests. Idempotent; needs write access to PostgreSQL's
# library and extension directories (root on Debian).
#
# The archive holds Citus 13.2.2 as built from the upstream tag v13.2.2
# (https://github.com/citusdata/citus, AGPL-3.0) with pg15-compat.patch applied; see README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pg_config="${PG_CONFIG:-$(command -v pg_config || echo /usr/lib/postgresql/15/bin/pg_config)}"
[ -x "$pg_config" ] || { echo "citus: pg_config not found; install PostgreSQL 15's server packages" >&2; exit 1; }
major="$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
[ "$major" = 15 ] || { echo "citus: this build is for PostgreSQL 15, found $major" >&2; exit 1; }
libdir="$("$pg_config" --pkglibdir)"
extdir="$("$pg_config" --sharedir)/extension"
if [ -f "$libdir/citus.so" ] && [ -f "$extdir/citus.control" ]; then
    echo "citus: already installed in $libdir"
    exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$here/citus-13.2.2-pg15-bookworm.tar.gz" -C "$tmp"
install -m 755 "$tmp"/lib/*.so "$libdir/"
mkdir -p "$libdir/citus_decoders"
install -m 755 "$tmp"/lib/citus_decoders/*.so "$libdir/citus_decoders/"
install -m 644 "$tmp"/extension/* "$extdir/"
echo "citus: installed in $libdir"
