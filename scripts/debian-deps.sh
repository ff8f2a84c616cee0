#!/usr/bin/env bash
# Debian packages some tests need (a PostgreSQL server, Prometheus + promtool, tmux). Installed only when
# missing and running as root with apt-get (CI: a fresh clone as root); otherwise the tests that need them
# skip with a message naming the package. Bounded in time; never fails the build.
set -u
need=()
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "debian-deps: not root or no apt-get; tests needing ${need[*]} will skip" >&2
  exit 0
fi
echo "debian-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq >/dev/null 2>&1 || true
timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "debian-deps: could not install ${need[*]}; tests needing them will skip" >&2
# the prometheus package starts a server on :9090 under systemd where there is one; tests use their own
exit 0
