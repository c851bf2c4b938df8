#!/bin/bash
# Workload zoo: an eventfd, a signalfd, a timerfd and an inotify watch in one
# process. inspect reports each with its state; dump and restore need no
# option; after the restore the eventfd's counter, the signalfd's mask and
# pending signal, the timer (armed, same interval, expiring) and the watch
# (reports a new file) are all as they were.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

pid=$(zoo_start fds)
zoo_verify fds "$pid" "before the dump"

zoo_inspect "$pid"
# SIGUSR2 (12) and SIGRTMIN+1 (35)
mask=$(printf '%016x' $(((1 << 11) | (1 << 34))))
zoo_inspect_assert "the event fds" \
	"[f['count'] for f in fds($pid) if f['type'] == 'eventfd'] == [0x5eed1234]" \
	"[f['sigmask'] for f in fds($pid) if f['type'] == 'signalfd'] == ['$mask']" \
	"[f['clockid'] for f in fds($pid) if f['type'] == 'timerfd'] == [1]" \
	"[f['watches'] for f in fds($pid) if f['type'] == 'inotify'] == [1]" \
	'opts() == []' 'd["warnings"] == []'

# CRIU restores a periodic timerfd disarmed when an expiration is pending,
# unread, at the time of the dump (CRIU issue 3162). The workload reads each
# one as it comes, every 2 s: dump right after one (the check above ended
# with one), so that none is pending.
tick_age_ms() {
	local t
	t=$(stat -c %.3Y "$TMP/fds.ticks")
	t=${t/./}
	echo $((${EPOCHREALTIME//[.,]/} / 1000 - t))
}
if [ "$(tick_age_ms)" -gt 300 ]; then
	t=$(<"$TMP/fds.ticks")
	wait_for "[ \"\$(<'$TMP/fds.ticks')\" != '$t' ]" 5 || fail "the timer does not expire"
fi
zoo_dump "$pid" 'd["auto"] == []'
zoo_restore "$pid"
zoo_verify fds "$pid" "after the restore"
