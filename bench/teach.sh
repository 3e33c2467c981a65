# shellcheck shell=bash
# bench/teach.sh — what bench/modes and bench/c10k share: a quiet machine,
# one pinned hellod with --stats, and reading its counters on exit.
#
# Sourced, not run. Every process started here is recorded in TEACH_PIDS
# and killed by teach_cleanup, which each script installs as its EXIT trap.
# Loopback only; every load is bounded in time.

TEACH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$TEACH_DIR/.." && pwd)
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TEACH_PIDS=()
TMP=$(mktemp -d /tmp/hellod-teach.XXXXXX)

say() { printf '[%s %s] %s\n' "${0##*/}" "$(date +%T)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The modes the guide compares: name and hellod flags.
# shellcheck disable=SC2034 # used by the scripts that source this file
MODE_NAMES=(select poll epoll-LT epoll-ET)
# shellcheck disable=SC2034
declare -A MODE_FLAGS=(
	[select]="--poller select"
	[poll]="--poller poll"
	[epoll-LT]="--poller epoll --trigger level"
	[epoll-ET]="--poller epoll --trigger edge"
)

# untrack PID: it has been reaped, so cleanup must not signal it.
untrack() {
	local keep=() pid
	for pid in "${TEACH_PIDS[@]}"; do
		[ "$pid" = "$1" ] || keep+=("$pid")
	done
	TEACH_PIDS=("${keep[@]}")
}

teach_cleanup() {
	local pid
	for pid in "${TEACH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.2
	for pid in "${TEACH_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}

teach_deps() {
	local missing=() p sudo=
	for p in wrk gnuplot-nox python3 util-linux; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || sudo=sudo
	say "installing ${missing[*]}"
	if ! { $sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			"${missing[@]}" >/dev/null; }; then
		die "cannot install ${missing[*]}"
	fi
}

teach_build() {
	make -C "$ROOT" --no-print-directory -s build/hellod >&2 ||
		die "build failed"
	HELLOD=$ROOT/build/hellod
}

# Percent of CPU time the whole machine spent idle over the next 2 s.
idle_percent() {
	local a b
	a=$(awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		t = y[2] - x[2]; printf "%d", t ? 100 * (y[1] - x[1]) / t : 0 }'
}

# Two benchmarks on two cores measure each other: wait (up to 20 minutes,
# checking every 10 s) until no other wrk or nginx runs and the machine is
# at least 90% idle (other test suites and profilers count too).
wait_quiet() {
	local waited=0
	while pgrep -x wrk >/dev/null || pgrep -x nginx >/dev/null ||
		[ "$(idle_percent)" -lt 90 ]; do
		[ "$waited" -ge 1200 ] && die "machine still busy after 20 min"
		[ "$waited" -eq 0 ] && say "machine busy (another benchmark or tests); waiting"
		sleep 10
		waited=$((waited + 12))
	done
}

# hellod_start FLAGS...: one worker pinned to SERVER_CPU on a free loopback
# port, with --stats. Sets HD_PID, HD_PORT, HD_LOG.
hellod_start() {
	HD_LOG=$TMP/hellod.$RANDOM.log
	taskset -c "$SERVER_CPU" "$HELLOD" -w 1 -l 127.0.0.1:0 --stats "$@" \
		2>"$HD_LOG" &
	HD_PID=$!
	TEACH_PIDS+=("$HD_PID")
	HD_PORT=
	for _ in $(seq 50); do
		HD_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$HD_LOG")
		[ -n "$HD_PORT" ] && return 0
		sleep 0.1
	done
	die "hellod did not start: $(cat "$HD_LOG")"
}

# hellod_stop: SIGTERM, wait; sets the counters of the --stats total row:
# WAITS EVENTS CTL ACCEPTS READS EAGAIN WRITES BYTES_IN BYTES_OUT REQUESTS.
hellod_stop() {
	kill -TERM "$HD_PID"
	local rc=0
	wait "$HD_PID" || rc=$?
	untrack "$HD_PID"
	[ "$rc" = 0 ] || die "hellod exited with $rc: $(tail -3 "$HD_LOG")"
	# shellcheck disable=SC2034 # read by the sourcing scripts
	read -r _ WAITS EVENTS CTL ACCEPTS READS EAGAIN WRITES BYTES_IN \
		BYTES_OUT REQUESTS < <(grep '^total ' "$HD_LOG")
	[ -n "$REQUESTS" ] || die "no --stats table in $HD_LOG"
}

# run_wrk CONNS SECONDS: wrk pinned to CLIENT_CPU, bounded by timeout;
# sets RPS.
run_wrk() {
	local out
	out=$(taskset -c "$CLIENT_CPU" timeout $(($2 + 30)) \
		wrk -t1 -c"$1" -d"$2"s "http://127.0.0.1:$HD_PORT/") ||
		die "wrk failed: $out"
	RPS=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	[ -n "$RPS" ] || die "no Requests/sec in wrk output: $out"
}
