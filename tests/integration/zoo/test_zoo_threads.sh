#!/bin/bash
# Workload zoo: a process with 4 threads, each counting and blocking its own
# signal. inspect lists the 5 threads; dump and restore need no option; after
# the restore the same thread IDs are there, with their signal masks, and all
# counters advance.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

pid=$(zoo_start threads)
zoo_verify threads "$pid" "before the dump"
# task_ids PID: the thread IDs of PID, sorted, on one line
task_ids() {
	local t
	local -a ids=()
	for t in /proc/"$1"/task/*; do ids+=("${t##*/}"); done
	printf '%s\n' "${ids[@]}" | sort -n | tr '\n' ' '
}
tids=$(task_ids "$pid")

zoo_inspect "$pid"
zoo_inspect_assert "the threads" \
	"len(procs()) == 1" \
	"sorted(t['tid'] for t in proc($pid)['threads']) == sorted(int(t) for t in '$tids'.split())" \
	"len(proc($pid)['threads']) == 5" 'opts() == []'

zoo_dump "$pid" 'd["auto"] == []'
zoo_restore "$pid"
[ "$(task_ids "$pid")" = "$tids" ] || fail "restored threads: $(task_ids "$pid"), expected $tids"
zoo_verify threads "$pid" "after the restore"
