# shellcheck shell=bash
# Helpers for the container tests (tests/integration/containers/); source
# after lib.sh. The container is tests/helpers/make-busybox-bundle's counter:
# it writes the next number into $COUNT at a fixed interval.

# container_tools runc|podman: RUNC (and for podman PODMAN) set to the
# engines' CLIs, and the busybox the container runs present, or the test
# fails.
# shellcheck disable=SC2034 # the tests use RUNC and PODMAN
container_tools() {
	if [ "$1" = podman ]; then
		PODMAN=$(command -v podman) || fail "podman not found: run scripts/setup (it installs podman)"
	fi
	RUNC=$(command -v runc) || fail "runc not found: run scripts/setup (it installs runc)"
	[ -x /bin/busybox ] || fail "/bin/busybox not found: run scripts/setup (it installs busybox-static)"
}

# umount_tmp: unmount every mount below $TMP (podman's), the last made first.
umount_tmp() {
	local m
	while read -r _ m _; do
		case $m in "$TMP"/*) umount -l "$m" ;; esac
	done < <(tac /proc/self/mounts)
}

# marks_config FILE CALLBACK...: the shim's configuration into FILE: traces
# into $TMP/traces, and at each CALLBACK a hook appending its name to
# $TMP/marks.
marks_config() {
	local file=$1 cb
	shift
	{
		echo "shim:"
		echo "  trace_dir: $TMP/traces"
		echo "hooks:"
		for cb in "$@"; do
			echo "  $cb:"
			echo "    - shell: 'echo $cb >>$TMP/marks'"
		done
	} | write_config "$file"
}

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

# carries_on AT: the restored counter moves past AT (its value at the
# checkpoint) within 10 s, first to no more than AT + 30 (a counter that
# started over would be at 1, 2, ... again), and keeps counting. FIRST is
# the first value seen after AT.
carries_on() {
	wait_for "[ \"\$(count)\" -gt $1 ]" 10 || fail "the restored counter does not move (at $(count))"
	FIRST=$(count)
	[ "$FIRST" -le $(($1 + 30)) ] || fail "the counter started over or jumped: $1 -> $FIRST"
	keeps_counting 5 || fail "the restored counter stopped at $(count)"
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

# engine_hooks_config FILE: a configuration into FILE with a hook at every
# callback ($HOOK_CALLBACKS) appending to $TMP/marks its name and the
# container's engine, ID and name as crpc hands them to hooks.
engine_hooks_config() {
	local cb
	{
		echo "hooks:"
		for cb in $HOOK_CALLBACKS; do
			echo "  $cb:"
			echo "    - shell: 'echo $cb \$CRPC_CONTAINER_ENGINE \$CRPC_CONTAINER_ID \$CRPC_CONTAINER_NAME >>$TMP/marks'"
		done
	} | write_config "$1"
}

# manifest_assert FILE EXPR...: every Python expression over crpc.json (d) is true.
manifest_assert() {
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if not eval(e, {"d": d})]
if bad:
    sys.exit("%s: false: %s" % (sys.argv[1], "; ".join(bad)))' "$@" || fail "crpc.json is not as expected"
}

# make_netns PATH: a network namespace kept at PATH (a bind mount), its
# loopback up, for a container to join: one of the engine's own would be
# restored empty, its loopback down, where no connection can be restored.
make_netns() {
	touch "$1"
	unshare --net="$1" true || fail "cannot make a network namespace at $1"
	nsenter --net="$1" ip link set lo up || fail "cannot bring up the loopback of $1"
}

# The TCP counter (/tcp-counter) of a container writes every number it
# receives over its loopback connection into $TCP. tcp_last: the last one
# (0 before the first).
tcp_last() {
	local v
	v=$(tail -n 1 "$TCP" 2>/dev/null)
	echo "${v:-0}"
}

# tcp_carries_on AT: after a restore, the connection carries on past AT
# (the last number at the dump) within 10 s, with no gap and no restart.
tcp_carries_on() {
	local seq_ok
	wait_for "[ \"\$(tcp_last)\" -ge $(($1 + 5)) ]" 10 ||
		fail "the TCP connection did not survive: $1 at the dump, $(tcp_last) now"
	seq_ok=$(/usr/bin/python3 -c '
import sys
v = [int(x) for x in open(sys.argv[1]).read().split()]
print("yes" if v == list(range(v[0], v[0] + len(v))) else "no")' "$TCP")
	[ "$seq_ok" = yes ] || fail "the numbers received over TCP have a gap or restart: $(tr '\n' ' ' <"$TCP")"
	note "TCP: $1 received at the dump, $(tcp_last) now"
}
