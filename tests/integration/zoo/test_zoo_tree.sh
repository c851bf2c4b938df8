#!/bin/bash
# Workload zoo: a tree of 10 processes talking over pipes. inspect sees all
# 10 in tree order; dump and restore need no option; after the restore
# every process checks its parent and children and the root collects 10 oks.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

pid=$(zoo_start tree)
zoo_verify tree "$pid" "before the dump"
mapfile -t tree < <(zoo_tree_pids "$pid")
[ "${#tree[@]}" -eq 10 ] || fail "the tree has ${#tree[@]} processes, expected 10: ${tree[*]}"

zoo_inspect "$pid"
zoo_inspect_assert "the tree of 10" \
	"sorted(p['pid'] for p in procs()) == sorted([$(IFS=,; echo "${tree[*]}")])" \
	"procs()[0]['pid'] == $pid" \
	"all(proc(p['ppid']) is not None for p in procs()[1:])" \
	"all(f['type'] != 'pipe' or f['peer'] == 'inside' for p in procs() for f in p['fds'])" \
	"sum(1 for p in procs() for f in p['fds'] if f['type'] == 'pipe') == 36" \
	'opts() == []'

zoo_dump "$pid" 'd["auto"] == []'
zoo_restore "$pid"
for p in "${tree[@]}"; do
	[ -e "/proc/$p" ] || fail "PID $p of the tree is not restored"
done
zoo_verify tree "$pid" "after the restore"
assert_contains "$ZOO_RESULT" "processes 10" "the root's report"
