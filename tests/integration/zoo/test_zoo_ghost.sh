#!/bin/bash
# Workload zoo: a 2 MiB file deleted while held open, more than CRIU copies by
# default (1 MiB). inspect sees the deleted file and asks for a ghost_limit
# that fits it; dump takes it on its own; after the restore the file is still
# deleted, with its content and file offset.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

pid=$(zoo_start ghost 2048)
zoo_verify ghost "$pid" "before the dump"

zoo_inspect "$pid"
zoo_inspect_assert "the deleted file" \
	"[(f['deleted'], f['size'], f['nlink']) for f in fds($pid) if f['type'] == 'file' and 'ghost.dat' in f['path']] == [(True, 2097152, 0)]" \
	"len(opt('ghost_limit')) == 1" "opt('ghost_limit')[0]['value'] >= 2097152" \
	"'link_remap' not in opts()"

zoo_dump "$pid" "len(auto('ghost_limit')) == 1"
[ ! -e "$TMP/ghost.dat" ] || fail "the dump left $TMP/ghost.dat behind"
zoo_restore "$pid"
[ ! -e "$TMP/ghost.dat" ] || fail "the restore left $TMP/ghost.dat behind"
zoo_verify ghost "$pid" "after the restore"
