#!/bin/sh
# make_seeds.sh — writes the fuzzer's seed corpus into tests/fuzz/seeds.
# Each seed is one byte that picks the split points, then what a client
# sends: well-formed requests, pipelines, bodies, and near-misses of the
# strictness rules. Run it again after editing; the files are committed.
set -eu
dir=$(dirname "$0")/seeds
rm -rf "$dir"
mkdir -p "$dir"
n=0
seed() {
	n=$((n + 1))
	printf '%b' "$1" >"$dir/seed-$(printf '%02d' $n)"
}
seed 'AGET / HTTP/1.1\r\nHost: a\r\n\r\n'
seed 'BGET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\n'
seed 'CGET / HTTP/1.0\r\n\r\n'
seed 'DGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n'
seed 'EPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n'
seed 'FPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n'
seed 'GPOST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok'
seed 'HGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'
seed 'IGET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'
seed 'JPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
seed 'KPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'
seed 'LGET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n'
seed 'MGET /?q=1#f HTTP/1.1\r\nhost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n'
seed 'NOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n'
seed 'O\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'
seed 'PGET / HTTP/2.0\r\nHost: a\r\n\r\n'
seed 'QPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n'
seed 'RGET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n'
