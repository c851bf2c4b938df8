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
