#!/bin/bash
# Workload zoo: a shell loop with a long-lived child. inspect sees both and
# asks for no option (the loop's short-lived third process may exit while it
# is read: a "gone" warning is the only one expected); dump (automatic options) and restore need none; the
# restored loop goes on, with its child.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

pid=$(zoo_start shell_loop)
zoo_verify shell_loop "$pid" "before the dump"
[[ $ZOO_RESULT =~ child\ ([0-9]+) ]] || fail "no child in '$ZOO_RESULT'"
child=${BASH_REMATCH[1]}

zoo_inspect "$pid"
zoo_inspect_assert "the loop and its child" \
	"proc($pid)['comm'] == 'shell_loop.sh'" "proc($child)['comm'] == 'sleep'" \
	"proc($child)['ppid'] == $pid" "proc($pid)['sid'] == $pid" "proc($pid)['tty'] is None" \
	"procs()[0]['pid'] == $pid" "len(procs()) in (2, 3)" \
	'opts() == []' 'all(w["warning"] == "gone" for w in d["warnings"])'

zoo_dump "$pid" 'd["auto"] == []'
zoo_restore "$pid"
[ -e "/proc/$child" ] || fail "the loop's child $child is not restored"
zoo_verify shell_loop "$pid" "after the restore"
