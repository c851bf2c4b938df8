# shellcheck shell=bash
# Helpers for the test_hooks_* integration tests; source after lib.sh.

# shellcheck disable=SC2034 # used by the tests that source this
HOOK_CALLBACKS="pre-stream pre-dump post-dump pre-restore post-restore network-lock
network-unlock setup-namespaces post-setup-namespaces pre-resume post-resume
orphan-pts-master status-ready query-ext-files"

# install_exec SRC DEST: copy a helper script where crpc accepts it as a run:
# program when root (owned by root, mode 0755).
install_exec() {
	install -m 0755 -o root -g root "$1" "$2"
}

# write_config FILE: standard input becomes FILE, root-owned, mode 0600.
write_config() {
	cat >"$1"
	chown root:root "$1"
	chmod 600 "$1"
}

# restored_pid: the PID in "Restored PID N" of the last $OUT.
restored_pid() {
	[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
	echo "${BASH_REMATCH[1]}"
}

# counting NAME SECONDS: the counter NAME moves within SECONDS.
counting() {
	local v
	v=$(counter "$1")
	wait_for "[ \"\$(counter $1)\" -gt $v ]" "${2:-3}"
}

# img_sums DIR: sha256 of the images in DIR.
img_sums() {
	(cd "$1" && sha256sum -- *.img)
}
