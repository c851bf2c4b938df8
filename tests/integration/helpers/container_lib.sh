# shellcheck shell=bash
# Helpers for the container tests (test_runc_shim, test_podman_shim); source
# after lib.sh. The container is tests/helpers/make-busybox-bundle's counter:
# it writes the next number into $COUNT at a fixed interval.

# cgroup_end CG: end every process in the cgroup CG (a path below each
# hierarchy's root) and remove it, in every hierarchy that has it.
cgroup_end() {
	local d p
	for d in /sys/fs/cgroup/*/"${1#/}"; do
		[ -d "$d" ] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null |
			while read -r p; do kill -KILL "$p" 2>/dev/null; done
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
			{ sleep 0.5; find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; }
		[ -d "$d" ] && echo "warning: cgroup $d left behind" >&2
	done
	return 0
}

# count: the counter value the container last wrote (-1 before the first)
count() {
	local v
	{ read -r v <"$COUNT"; } 2>/dev/null || v=-1
	echo "${v:--1}"
}

# keeps_counting SECONDS: the counter moves by at least 3 within SECONDS.
keeps_counting() {
	local v
	v=$(count)
	wait_for "[ \"\$(count)\" -ge $((v + 3)) ]" "$1"
}

# hooks_ran_as WHAT GOT WANT: fail unless the hooks of WHAT ran as WANT
# (callback names, one a line, as the marking hook wrote them).
hooks_ran_as() {
	[ "$2" = "$3" ] || fail "$1: hooks ran as [${2//$'\n'/ }], expected [${3//$'\n'/ }]"
}

# session_traces DIR: `crpc trace show` every trace in DIR (each must read
# completely); DUMP_TRACE and DUMP_SHOW get the file and the output of the
# one with the DUMP request, RESTORE_TRACE and RESTORE_SHOW those of the one
# with the RESTORE request. Fails when either is missing.
session_traces() {
	local t
	DUMP_TRACE='' DUMP_SHOW='' RESTORE_TRACE='' RESTORE_SHOW=''
	for t in "$1"/*; do
		[ -f "$t" ] || continue
		expect_exit 0 "$CRPC_BIN" trace show "$t"
		case $OUT in
		*"-> DUMP"*) DUMP_TRACE=$t DUMP_SHOW=$OUT ;;
		*"-> RESTORE"*) RESTORE_TRACE=$t RESTORE_SHOW=$OUT ;;
		esac
	done
	[ -n "$DUMP_TRACE" ] || fail "no trace in $1 has the DUMP request: $(ls "$1")"
	[ -n "$RESTORE_TRACE" ] || fail "no trace in $1 has the RESTORE request: $(ls "$1")"
}
