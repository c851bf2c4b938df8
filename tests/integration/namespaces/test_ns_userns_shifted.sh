#!/bin/bash
# A sandbox whose user namespace maps its ids 0-65535 to 200000-265535
# outside, as rootless engines do. CRIU's restored tasks open their images
# as that namespace's gid 0 (200000 outside), so crpc lets that gid read the
# images for the time of the restore, and takes it back after. A restore
# killed while the grant is in place (here by a pre-restore hook that kills
# crpc) leaves a record of it; the next restore of the checkpoint takes the
# access back first, says so, and restores. After it the images are root's
# alone again.
# shellcheck disable=SC2015 # A && B || fail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/ns_lib.sh"
command -v unshare >/dev/null || fail "unshare (util-linux) is missing"

BASE=200000
COUNTER='i=0; while :; do i=$((i+1)); echo $i >"$0.new" && mv "$0.new" "$0"; sleep 0.1; done'
# the sandbox's uid 0 (BASE outside) must reach its root below $TMP
chmod 0711 "$TMP"
R=$TMP/root
mkdir -p "$R/usr" "$R/proc" "$R/old"
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$R/$d"; done
chown "$BASE:$BASE" "$R"
/usr/bin/python3 "$HELPERS/userns_shifted.py" "$BASE" \
	unshare --mount --propagation private --fork --pid setsid sh -c \
	"mount --bind '$R' '$R' && mount --bind /usr '$R/usr' && mount -t proc proc '$R/proc' &&
	 cd '$R' && pivot_root . old && umount -l /old && exec sh -c '$COUNTER' /root.count" \
	</dev/null >/dev/null 2>&1 &
track $!
shifter=$(sandbox_init $!) || fail "the user namespace's first process did not start"
track "$shifter"
init=$(sandbox_init "$shifter") || fail "the sandbox's init did not start"
track "$init"
wait_for "[ -s $R/root.count ]" 10 || fail "the sandbox's counter did not start"
value() { cat "$R/root.count" 2>/dev/null || echo -1; }
V=$(value)
wait_for "[ \$(value) -gt $V ]" 10 || fail "the sandbox's counter does not count"
[ "$(awk '{ print $2 }' "/proc/$init/gid_map")" = "$BASE" ] || fail "the sandbox's gid 0 is not $BASE outside"

dump_sandbox "$init" "$TMP/ckpt"
doc_true "$TMP/ckpt/crpc.json" "'user' in d['namespaces']['own']" \
	"d['namespaces']['userns_uid0'] == $BASE and d['namespaces']['userns_gid0'] == $BASE"
V=$(value)

# --- crpc killed while the images are readable by the namespace's gid 0 ----------
expect_exit 137 "$CRPC_BIN" restore --hook 'pre-restore=kill -KILL $PPID' "$TMP/ckpt"
[ "$(stat -c %g "$TMP/ckpt")" = "$BASE" ] || fail "the killed restore had not given gid $BASE the images"
[ -f "$TMP/ckpt/.crpc-uns-grant" ] || fail "no record of the grant after the killed restore"
[ "$(stat -c %a "$TMP/ckpt/.crpc-uns-grant")" = 600 ] || fail "the grant's record is not private"
sleep 0.3
[ "$(value)" = "$V" ] || fail "the killed restore left a tree running"

# --- the next restore takes it back, then restores --------------------------------
expect_exit 0 "$CRPC_BIN" restore "$TMP/ckpt"
note "restore: $ERR"
restored_init
assert_contains "$ERR" "was killed while gid $BASE could read its images: that access is taken back" \
	"the notice of the killed restore's grant"
assert_contains "$ERR" "gid $BASE (its gid 0) may read the images until the restore is done" "the grant"
wait_for "[ \$(value) -gt $V ]" 10 || fail "the restored sandbox's counter does not go on past $V"
[ "$(value)" -lt $((V + 1000)) ] || fail "the counter started anew"
[ "$(awk '{ print $2 }' "/proc/$rinit/gid_map")" = "$BASE" ] || fail "the restored namespace has other maps"

# --- the images are root's alone again -------------------------------------------
[ ! -e "$TMP/ckpt/.crpc-uns-grant" ] || fail "the grant's record is still there"
[ "$(stat -c '%a %g' "$TMP/ckpt")" = "700 0" ] ||
	fail "the images directory is $(stat -c '%a %g' "$TMP/ckpt") after the restore"
bad=$(find "$TMP/ckpt" -name '*.img' \( -not -gid 0 -o -perm /070 \) | head -3)
[ -z "$bad" ] || fail "images still open to the group after the restore: $bad"
