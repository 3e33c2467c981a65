#!/usr/bin/env bash
# syscall_filter_check.sh UNIT TRACE — are the system calls in TRACE
# (written by `strace -f -o TRACE`) allowed by UNIT's SystemCallFilter=
# lines, as systemd applies them and `systemd-analyze syscall-filter`
# expands their @groups? And are the socket families in TRACE allowed by
# its RestrictAddressFamilies=? Prints what is not, one line each.
# Exit: 0 all allowed, 1 something is not, 2 usage or tool error.
#
# systemd's rules (systemd.exec(5)): the first SystemCallFilter= decides
# the mode. An allow-list (no "~") starts from @default; later lines
# without "~" add, lines with "~" remove, in order. A deny-list ("~"
# first) starts from everything; "~" lines deny, others allow again. An
# empty assignment resets the filter.
set -euo pipefail

unit=${1:?usage: $0 UNIT TRACE}
trace=${2:?usage: $0 UNIT TRACE}
[ -r "$unit" ] && [ -r "$trace" ] || { echo "$0: cannot read $unit or $trace" >&2; exit 2; }
command -v systemd-analyze >/dev/null || { echo "$0: systemd-analyze missing" >&2; exit 2; }

declare -A expanded=() # groups already expanded, so nesting ends

# The system calls a name stands for: itself, or a group's, recursively.
expand() {
	local name=$1 line
	if [ "${name#@}" = "$name" ]; then
		echo "$name"
		return
	fi
	[ -n "${expanded[$name]:-}" ] && return
	expanded[$name]=1
	local out
	out=$(systemd-analyze syscall-filter "$name") || {
		echo "$0: systemd-analyze syscall-filter $name failed" >&2
		exit 2
	}
	while read -r line; do
		case "$line" in
		"" | "#"* | "$name") ;;
		*) expand "$line" ;;
		esac
	done <<<"$out"
}

declare -A set=() # allow-list: the allowed calls; deny-list: the denied
mode=none
while IFS= read -r value; do
	if [ -z "$value" ]; then
		set=()
		mode=none
		continue
	fi
	invert=no
	if [ "${value#\~}" != "$value" ]; then
		invert=yes
		value=${value#\~}
	fi
	if [ $mode = none ]; then
		if [ $invert = no ]; then
			mode=allow
			for c in $(expand @default); do set[$c]=1; done
		else
			mode=deny
		fi
	fi
	for word in $value; do
		for c in $(expand "$word"); do
			if { [ $mode = allow ] && [ $invert = no ]; } ||
				{ [ $mode = deny ] && [ $invert = yes ]; }; then
				set[$c]=1
			else
				unset "set[$c]"
			fi
		done
	done
done < <(sed -n 's/^[[:space:]]*SystemCallFilter=[[:space:]]*//p' "$unit")

allowed() {
	case $mode in
	none) return 0 ;;
	allow) [ -n "${set[$1]:-}" ] ;;
	deny) [ -z "${set[$1]:-}" ] ;;
	esac
}

# "PID name(args" lines; "<... name resumed>" halves and signal or exit
# lines ("--- SIG", "+++ exited") name no new call.
bad=0
while read -r count call; do
	if ! allowed "$call"; then
		echo "not allowed by SystemCallFilter: $call ($count calls)"
		bad=1
	fi
done < <(sed -n 's/^[0-9]\+ \+\([a-z0-9_]\+\)(.*/\1/p' "$trace" | sort | uniq -c)

families=$(sed -n 's/^[[:space:]]*RestrictAddressFamilies=[[:space:]]*//p' "$unit" | tail -n 1)
if [ -n "$families" ] && [ "${families#\~}" = "$families" ]; then
	for fam in $(grep -o 'socket\(pair\)\?(AF_[A-Z0-9]*' "$trace" | sed 's/.*(//' | sort -u); do
		case " $families " in
		*" $fam "*) ;;
		*) echo "not allowed by RestrictAddressFamilies: $fam"; bad=1 ;;
		esac
	done
fi
exit $bad
