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

# The rungs of the ladder, in order: name and hellod flags. uring joins
# them when this build has it (teach_build).
# shellcheck disable=SC2034 # used by the scripts that source this file
MODE_NAMES=(blocking threads busy select poll epoll-LT epoll-ET)
# shellcheck disable=SC2034
declare -A MODE_FLAGS=(
	[blocking]="--poller blocking"
	[threads]="--poller threads -w 64"
	[busy]="--poller busy"
	[select]="--poller select"
	[poll]="--poller poll"
	[epoll-LT]="--poller epoll --trigger level"
	[epoll-ET]="--poller epoll --trigger edge"
	[uring]="--poller uring"
)
# Connections a mode can serve at once, when fewer than a benchmark asks
# for: blocking serves one client at a time (the others would wait in the
# backlog for the whole run and count as errors).
# shellcheck disable=SC2034
declare -A MODE_MAX_CONNS=([blocking]=1)
HZ=$(getconf CLK_TCK)

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
	for p in wrk gnuplot-nox python3 util-linux strace; do
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
	if "$HELLOD" --help 2>&1 | grep -q 'uring'; then
		MODE_NAMES+=(uring)
	fi
	if [ -n "${MODES:-}" ]; then # a subset, e.g. MODES="poll epoll-ET"
		read -ra MODE_NAMES <<<"$MODES"
	fi
}

# mode_conns MODE WANTED: the connections a run of MODE uses.
mode_conns() {
	local max=${MODE_MAX_CONNS[$1]:-}
	if [ -n "$max" ] && [ "$2" -gt "$max" ]; then echo "$max"; else echo "$2"; fi
}

# CPU n's busy jiffies from /proc/stat: every column but idle and iowait,
# so the softirq time the network stack spends on the server's packets
# counts (the process's own utime+stime misses most of it).
cpu_busy() {
	awk -v cpu="cpu$1" '$1 == cpu {
		busy = 0
		for (i = 2; i <= 9; i++) if (i != 5 && i != 6) busy += $i
		print busy }' /proc/stat
}

# stats_of: reads numbers, one per line; prints "median min max".
stats_of() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m, v[1], v[NR] }'
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
	[ "${WAIT_QUIET:-1}" = 0 ] && return 0 # a smoke run, numbers unused
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
# sets RPS, REQS (responses wrk counted) and US_PER_REQ (CPU SERVER_CPU's
# busy time over the run, in microseconds, per response).
run_wrk() {
	local out busy0 busy1
	busy0=$(cpu_busy "$SERVER_CPU")
	out=$(taskset -c "$CLIENT_CPU" timeout $(($2 + 30)) \
		wrk -t1 -c"$1" -d"$2"s "http://127.0.0.1:$HD_PORT/") ||
		die "wrk failed: $out"
	busy1=$(cpu_busy "$SERVER_CPU")
	RPS=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	REQS=$(awk '/requests in/ {print $1}' <<<"$out")
	[ -n "$RPS" ] && [ "${REQS:-0}" -gt 0 ] ||
		die "no requests in wrk output: $out"
	US_PER_REQ=$(awk -v b="$((busy1 - busy0))" -v hz="$HZ" -v n="$REQS" \
		'BEGIN { printf "%.3f", b * 1e6 / hz / n }')
}

# idle_cpu SECONDS: percent of CPU SERVER_CPU busy over that long, no load.
idle_cpu() {
	local b0 b1
	b0=$(cpu_busy "$SERVER_CPU")
	sleep "$1"
	b1=$(cpu_busy "$SERVER_CPU")
	awk -v b="$((b1 - b0))" -v hz="$HZ" -v s="$1" \
		'BEGIN { printf "%.1f", 100 * b / hz / s }'
}

# strace_wrk CONNS SECONDS: the same load with strace -c -f attached to
# every thread of the server (strace slows it: a run of its own); sets
# SYS_PER_REQ, the server's system calls per response wrk counted.
strace_wrk() {
	local out calls reqs spid
	strace -c -f -o "$TMP/strace.out" -p "$HD_PID" 2>/dev/null &
	spid=$!
	TEACH_PIDS+=("$spid")
	sleep 1 # attached to every thread
	out=$(taskset -c "$CLIENT_CPU" timeout $(($2 + 30)) \
		wrk -t1 -c"$1" -d"$2"s "http://127.0.0.1:$HD_PORT/") ||
		die "wrk failed: $out"
	kill -INT "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null || true
	untrack "$spid"
	calls=$(awk '$NF == "total" { print $4 }' "$TMP/strace.out")
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	[ -n "$calls" ] && [ "${reqs:-0}" -gt 0 ] ||
		die "no strace total or no requests: $out"
	SYS_PER_REQ=$(awk -v c="$calls" -v n="$reqs" 'BEGIN { printf "%.3f", c / n }')
}
