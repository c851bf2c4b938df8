#!/bin/bash
# Workload zoo: an flock() lock and a POSIX byte-range lock. inspect lists
# both and asks for file_locks; dump takes it on its own; after the restore
# both locks are held by the restored process (a second process fails to
# take them, F_GETLK names the owner), here and for flock(1) run from the
# test.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

pid=$(zoo_start lock)
zoo_verify lock "$pid" "before the dump"

zoo_inspect "$pid"
zoo_inspect_assert "the locks" \
	"sorted((l['class'], l['mode'], l['pid']) for l in d['locks'] if l['pid'] == $pid) == [('FLOCK', 'WRITE', $pid), ('POSIX', 'WRITE', $pid)]" \
	"[(l['start'], l['end']) for l in d['locks'] if l['class'] == 'POSIX'] == [(100, 199)]" \
	"sorted(l['path'] for l in d['locks']) == ['$TMP/flock.lck', '$TMP/posix.lck']" \
	"len(opt('file_locks')) >= 1"

zoo_dump "$pid" "len(auto('file_locks')) == 1"
# nobody holds them while the process is checkpointed
flock -n "$TMP/flock.lck" true || fail "the flock lock is still held after the dump"
zoo_restore "$pid"
zoo_verify lock "$pid" "after the restore"
if flock -n "$TMP/flock.lck" true; then fail "the restored process does not hold its flock lock"; fi
