#!/bin/sh
# `make run`: the whole Fairshare system on this machine.
#
#   1. the hypervisor ISO booted by GRUB in QEMU (TCG, real time), with the
#      guests of config/demo.conf and COM2 (the management link) as the
#      UNIX socket var/link.sock;
#   2. billingd with config/billingd.conf: metering into var/billingd.db,
#      the REST API on 127.0.0.1:8080;
#   3. an admin API key, printed once with three ready-to-paste examples;
#   4. every 10 s, the domains as the API reports them.
#
# Ctrl-C stops everything cleanly: billingd commits and acknowledges what
# it holds and stops; then the hypervisor is told to shut down over the
# link, sends its final METER and prints its own usage table. Logs stay in
# var/ (hypervisor.log: COM1; billingd.log).
set -eu
cd "$(dirname "$0")/.."

CONF=config/billingd.conf
SOCK=var/link.sock
API=http://127.0.0.1:8080
BIN=build/bin
mkdir -p var
rm -f "$SOCK"

# Each child in its own session, so Ctrl-C reaches only this script, which
# then stops them in the right order.
setsid "$BIN/hvboot" --config config/demo.conf --iso --realtime \
	--run-ms 604800000 --timeout 604800 --link "$SOCK" \
	--log var/hypervisor.log >var/hvboot.out 2>&1 &
HV=$!
i=0
while [ ! -S "$SOCK" ]; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 $HV 2>/dev/null; then
		echo "run: the hypervisor did not start; var/hvboot.out says:" >&2
		cat var/hvboot.out >&2
		exit 1
	fi
	sleep 0.1
done
setsid "$BIN/billingd" --config "$CONF" 2>>var/billingd.log &
BD=$!

stop() {
	trap - INT TERM
	echo
	echo "== stopping: billingd first (commit, acknowledge), then the hypervisor =="
	kill -TERM $BD 2>/dev/null || true
	wait $BD 2>/dev/null || true
	"$BIN/hvctl" --link "$SOCK" shutdown >/dev/null 2>&1 ||
		kill -TERM $HV 2>/dev/null || true
	wait $HV 2>/dev/null || true
	echo "== the hypervisor's own account of the run (var/hvboot.out) =="
	cat var/hvboot.out
	exit 0
}
trap stop INT TERM

i=0
until curl -sf "$API/v1/health" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $BD 2>/dev/null; then
		echo "run: billingd's API did not come up; var/billingd.log says:" >&2
		tail -20 var/billingd.log >&2
		stop
	fi
	sleep 0.1
done

KEY=$("$BIN/billingd" --config "$CONF" --create-key --role admin |
	grep -o '[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*' | tail -1)
cat <<MSG

== Fairshare is running ==
hypervisor: QEMU, guests of config/demo.conf (log: var/hypervisor.log)
billingd:   database var/billingd.db, REST API $API (log: var/billingd.log)
admin key (shown once, stored hashed): $KEY

Try, in another terminal:
  curl -s -H 'Authorization: Bearer $KEY' $API/v1/domains
  curl -s -X PATCH -H 'Authorization: Bearer $KEY' -H 'Content-Type: application/json' \\
       -d '{"cpu_weight": 1024}' $API/v1/domains/web1/shares
  curl -s -H 'Authorization: Bearer $KEY' '$API/v1/invoices?month=$(date -u +%Y-%m)'
(docs/api.md has the rest; build/bin/hvctl --api $API --key KEY list shows a table.)
Ctrl-C stops everything.

MSG
# The first METER comes a second after the link is up; then every 10 s.
sleep 2 &
wait $! || true
while :; do
	date -u '+-- %H:%M:%S UTC, from the API (hvctl --api ... list) --'
	"$BIN/hvctl" --api "$API" --key "$KEY" list 2>&1 || true
	echo
	sleep 10 &
	wait $! || true
done
