# bench/lib.sh — what every bench step shares: dependencies, the builds,
# starting and stopping hellod and nginx, and reading CPU 0's busy time.
#
# Sourced by bench/run. Every process started here is recorded in PIDS and
# stopped by bench_cleanup, which bench/run installs as the EXIT trap.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BODY='Hello, World!'
PIDS=()
declare -A SERVER_LOG # pid -> its stderr log

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- dependencies -----------------------------------------------------------

# Installs the Debian packages that are missing; apt-get update runs only
# when something has to be installed.
bench_deps() {
	local missing=() p
	for p in nginx-light h2o lighttpd wrk gnuplot-nox strace valgrind python3 procps util-linux; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	log "installing ${missing[*]}"
	$sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
}

# Builds the optimised server in its own folder, so the objects never mix
# with a debug or sanitizer build. Sets HELLOD.
bench_build() {
	local dir=build/bench
	log "building $dir/hellod (-O2, NDEBUG)"
	make -C "$ROOT" --no-print-directory -s BUILD="$dir" \
		CFLAGS="-O2 -g -DNDEBUG" "$dir/hellod" >&2 ||
		die "build failed"
	HELLOD=$ROOT/$dir/hellod
	FLOOR=$ROOT/$dir/floor
	cc -std=c11 -O2 -Wall -Wextra -Werror -o "$FLOOR" "$BENCH_DIR/floor.c" ||
		die "floor build failed"
}

# ---- processes --------------------------------------------------------------

# TERM, up to five seconds' grace, then KILL; reaps the child.
terminate() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

bench_cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		terminate "$pid"
	done
	PIDS=()
declare -A SERVER_LOG # pid -> its stderr log
	[ -n "${TMP:-}" ] && [ -d "$TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$TMP"
	return 0
}

# Stops one process this script started, and forgets it.
stop_pid() {
	local pid=$1 keep=() p
	terminate "$pid"
	for p in "${PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# A port nobody listens on now (the kernel picks it; racy, but only this
# script binds ports on 127.0.0.1 in the meantime).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	local port=$1
	for _ in $(seq 100); do
		python3 - "$port" <<'PY' 2>/dev/null && return 0
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
		sleep 0.1
	done
	return 1
}

# Runs a server command in the background, its stderr in a log, and waits
# for its "listening on 127.0.0.1:PORT" line. Sets STARTED_PID, STARTED_PORT.
start_logged() {
	local errlog=$TMP/server.$RANDOM.log
	"$@" 2>"$errlog" &
	STARTED_PID=$!
	PIDS+=("$STARTED_PID")
	SERVER_LOG[$STARTED_PID]=$errlog
	STARTED_PORT=
	for _ in $(seq 300); do
		STARTED_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$errlog")
		[ -n "$STARTED_PORT" ] && return 0
		kill -0 "$STARTED_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$errlog" >&2
	die "$1 did not start"
}

# hellod's settings in the speed step: its defaults, with the listener
# tuned for short connections as conf/hellod.conf documents
# (defer_accept; read_after_accept is on by default). Keep-alive runs
# connect once, so only close-50 can tell; nginx-deferred is nginx
# tuned the same way.
write_hellod_conf() {
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "defer_accept 1s" >"$1"
}

# Starts hellod with one worker on SERVER_CPU. Sets HELLOD_PID, HELLOD_PORT.
start_hellod() {
	start_logged taskset -c "$SERVER_CPU" "$HELLOD" -w 1 -l 127.0.0.1:0 "$@"
	HELLOD_PID=$STARTED_PID
	HELLOD_PORT=$STARTED_PORT
}

# Starts a second hellod binary, HELLOD_BASE_BIN (say, an older commit's
# build/bench/hellod), the same way, as the server "hellod-base", so one
# run can compare two versions beside nginx. Sets HELLOD_BASE_PID,
# HELLOD_BASE_PORT.
start_hellod_base() {
	[ -x "$HELLOD_BASE_BIN" ] || die "HELLOD_BASE_BIN=$HELLOD_BASE_BIN is not an executable"
	start_logged taskset -c "$SERVER_CPU" "$HELLOD_BASE_BIN" -w 1 -l 127.0.0.1:0 "$@"
	HELLOD_BASE_PID=$STARTED_PID
	HELLOD_BASE_PORT=$STARTED_PORT
}

# Starts bench/floor.c's yardstick on SERVER_CPU (FLOOR_ARGS=--eager for its
# variant). Sets FLOOR_PID, FLOOR_PORT.
start_floor() {
	start_logged taskset -c "$SERVER_CPU" "$FLOOR" ${FLOOR_ARGS:-}
	FLOOR_PID=$STARTED_PID
	FLOOR_PORT=$STARTED_PORT
}

# One worker, the same body and Content-Type as hellod, keep-alive without
# a request limit (nginx closes after 1,000 requests by default, which
# would make it reconnect in the keep-alive runs), no access log.
write_nginx_conf() {
	local dir=$1 port=$2 listen_opts=${3:-}
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
	worker_connections 16384;
	use epoll;
}

http {
	access_log off;
	default_type text/plain;
	keepalive_timeout 300s;
	keepalive_requests 1000000000;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;

	server {
		listen 127.0.0.1:$port backlog=4096$listen_opts;
		location / {
			return 200 "$BODY";
		}
	}
}
CONF
}

# Starts an nginx (master and one worker) on SERVER_CPU, in the
# foreground so its master is our child: DIR [LISTEN_OPTIONS]. Sets
# STARTED_NGINX_PID (master), STARTED_NGINX_WORKER, STARTED_NGINX_PORT.
start_nginx_in() {
	local dir=$1 port
	port=$(free_port)
	write_nginx_conf "$dir" "$port" "${2:-}"
	taskset -c "$SERVER_CPU" nginx -p "$dir" -c "$dir/nginx.conf" \
		2>>"$dir/stderr.log" &
	STARTED_NGINX_PID=$!
	PIDS+=("$STARTED_NGINX_PID")
	wait_port "$port" || { cat "$dir"/*.log >&2; die "nginx did not start"; }
	STARTED_NGINX_WORKER=
	for _ in $(seq 50); do
		STARTED_NGINX_WORKER=$(pgrep -P "$STARTED_NGINX_PID" | head -1)
		[ -n "$STARTED_NGINX_WORKER" ] && break
		sleep 0.1
	done
	[ -n "$STARTED_NGINX_WORKER" ] || die "no nginx worker"
	# Tracked too, so not even a killed master leaves it behind.
	PIDS+=("$STARTED_NGINX_WORKER")
	STARTED_NGINX_PORT=$port
}

# nginx as it ships, the reference of every ratio. Sets NGINX_PID,
# NGINX_WORKER, NGINX_PORT.
start_nginx() {
	start_nginx_in "$TMP/nginx"
	NGINX_PID=$STARTED_NGINX_PID
	NGINX_WORKER=$STARTED_NGINX_WORKER
	NGINX_PORT=$STARTED_NGINX_PORT
}

# The same nginx with `listen ... deferred`, its TCP_DEFER_ACCEPT: the
# tuning hellod's defer_accept matches, so the Connection: close runs
# also show both servers tuned alike. Sets NGINX_DEFERRED_PID,
# NGINX_DEFERRED_WORKER, NGINX_DEFERRED_PORT.
start_nginx_deferred() {
	start_nginx_in "$TMP/nginx-deferred" " deferred"
	NGINX_DEFERRED_PID=$STARTED_NGINX_PID
	NGINX_DEFERRED_WORKER=$STARTED_NGINX_WORKER
	NGINX_DEFERRED_PORT=$STARTED_NGINX_PORT
}

stop_nginx() {
	stop_pid "$NGINX_PID"
	stop_pid "$NGINX_WORKER"
}

# The 13-byte body as a file, for the peers that serve files rather
# than a configured string (h2o 2.2 and lighttpd have no `return`).
write_body_file() {
	mkdir -p "$1"
	printf '%s' "$BODY" >"$1/index.txt"
}

# h2o: one thread, no access log, the body file with no ETag or
# compression, keep-alive as long as the client wants.
write_h2o_conf() {
	local dir=$1 port=$2
	write_body_file "$dir/www"
	# As root, h2o would switch to "nobody", who cannot write here.
	cat >"$dir/h2o.conf" <<CONF
user: $(id -un)
num-threads: 1
listen:
  host: 127.0.0.1
  port: $port
pid-file: $dir/h2o.pid
error-log: $dir/error.log
max-connections: 20000
http1-request-timeout: 300
file.etag: OFF
file.send-compressed: OFF
file.mime.addtypes:
  text/plain: .txt
hosts:
  default:
    paths:
      /:
        file.file: $dir/www/index.txt
CONF
}

# Starts a peer on SERVER_CPU in the foreground: NAME WRITE_CONF CMD...,
# with {conf} in CMD standing for its config file ($TMP/NAME/NAME.conf,
# written by WRITE_CONF DIR PORT). Sets PEER_PID, PEER_PORT.
start_peer() {
	local name=$1 write_conf=$2 dir=$TMP/$1
	shift 2
	PEER_PORT=$(free_port)
	mkdir -p "$dir"
	"$write_conf" "$dir" "$PEER_PORT"
	local cmd=("${@//\{conf\}/$dir/$name.conf}")
	taskset -c "$SERVER_CPU" "${cmd[@]}" >>"$dir/stderr.log" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	wait_port "$PEER_PORT" || { cat "$dir"/*.log >&2; die "$name did not start"; }
}

# h2o as a lone worker process (-m worker: no master). Sets H2O_PID,
# H2O_PORT.
start_h2o() {
	start_peer h2o write_h2o_conf h2o -m worker -c {conf}
	H2O_PID=$PEER_PID
	H2O_PORT=$PEER_PORT
}

# lighttpd: one process (no max-worker), epoll, no access log, the body
# file, keep-alive without a request limit that a run would reach.
write_lighttpd_conf() {
	local dir=$1 port=$2
	write_body_file "$dir/www"
	cat >"$dir/lighttpd.conf" <<CONF
server.document-root = "$dir/www"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$dir/lighttpd.pid"
server.errorlog = "$dir/error.log"
server.event-handler = "linux-sysepoll"
server.max-fds = 20000
server.max-connections = 16384
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 300
server.tag = "lighttpd"
index-file.names = ( "index.txt" )
mimetype.assign = ( ".txt" => "text/plain" )
static-file.etags = "disable"
CONF
}

# lighttpd in the foreground (-D). Sets LIGHTTPD_PID, LIGHTTPD_PORT.
start_lighttpd() {
	start_peer lighttpd write_lighttpd_conf lighttpd -D -f {conf}
	LIGHTTPD_PID=$PEER_PID
	LIGHTTPD_PORT=$PEER_PORT
}

# Dies, saying how, if one of the given processes has exited: a load run
# against a dead server would only measure wrk's connect errors.
check_alive() {
	local pid status
	for pid in "$@"; do
		kill -0 "$pid" 2>/dev/null && continue
		wait "$pid" 2>/dev/null
		status=$?
		log "process $pid is gone (exit status $status;" \
			"above 128 is a signal: $((status - 128)))"
		[ -n "${SERVER_LOG[$pid]:-}" ] && tail -5 "${SERVER_LOG[$pid]}" >&2
		die "a server died during the benchmark"
	done
}

# ---- measuring --------------------------------------------------------------

# CPU n's jiffies from /proc/stat: busy, total, irq+softirq, user, system.
# Busy is every column but idle and iowait, so the softirq time the
# network stack spends on the server's packets counts: a process's own
# utime+stime misses most of it.
cpu_jiffies() {
	# Columns: user nice system idle iowait irq softirq steal, then guest
	# and guest_nice, which user and nice already include.
	awk -v cpu="cpu$1" '$1 == cpu {
		total = 0
		for (i = 2; i <= 9; i++) total += $i
		print total - $5 - $6, total, $7 + $8, $2 + $3, $4
	}' /proc/stat
}

# utime+stime of the given processes (all their threads), in jiffies.
proc_jiffies() {
	local pid sum=0
	for pid in "$@"; do
		[ -r "/proc/$pid/stat" ] || continue # gone: check_alive says so
		# Fields 14 and 15, counted after the ")" that ends the name.
		sum=$((sum + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
	done
	echo "$sum"
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

cpu_model() {
	awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo
}
