#!/bin/bash
# crpc shim install, status and uninstall under a prefix and with a
# configuration in this test's directory (never /usr/local or /etc/crpc):
# install links PREFIX/sbin/criu to crpc and records the real CRIU in the
# configuration (created when missing, a line added to one that names no
# binary, one that names a binary kept), installing twice changes nothing,
# a criu that is not crpc's is refused without --force and kept aside with
# it, and uninstall leaves the files exactly as they were before (same names,
# modes and contents), or leaves a configuration changed since and says so.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

P=$TMP/prefix
CFG=$TMP/etc/crpc.yaml
mkdir -p "$TMP/etc"

# snapshot: every path below $TMP (but out and err) with its type, mode, link target and digest
snapshot() {
	(cd "$TMP" && find . -path ./out -prune -o -path ./err -prune -o -path ./snap.\* -prune -o -print0 |
		sort -z | while IFS= read -r -d '' f; do
			if [ -L "$f" ]; then
				echo "$f link $(readlink "$f")"
			elif [ -f "$f" ]; then
				echo "$f file $(stat -c %a:%u "$f") $(sha256sum <"$f")"
			else
				echo "$f dir $(stat -c %a "$f")"
			fi
		done)
}
crpc_() {
	"$CRPC_BIN" --config "$CFG" "$@"
}

# --- a fresh install: configuration created ----------------------------------
snapshot >"$TMP/snap.before"
expect_exit 0 crpc_ --criu "$CRPC_CRIU" shim install --engine docker --prefix "$P"
assert_contains "$OUT" "installed $P/sbin/criu -> crpc" "install"
[ "$(readlink "$P/sbin/criu")" = "$(readlink -f "$CRPC_BIN")" ] || fail "$P/sbin/criu does not lead to crpc"
expect_exit 0 "$CRPC_BIN" config check "$CFG"
grep -q "binary: \"$CRPC_CRIU\"" "$CFG" || fail "the real CRIU is not recorded in $CFG: $(cat "$CFG")"
[ "$(stat -c %a "$CFG")" = 600 ] || fail "$CFG has mode $(stat -c %a "$CFG")"
# the shim installed finds the real CRIU through the configuration alone
expect_exit 0 env -u CRPC_CRIU CRPC_CONFIG="$CFG" "$P/sbin/criu" --version
assert_contains "$OUT" "Version:" "criu --version through the installed shim"
snapshot >"$TMP/snap.installed"

# --- idempotent ----------------------------------------------------------------
expect_exit 0 crpc_ --criu "$CRPC_CRIU" shim install --engine docker --prefix "$P"
assert_contains "$OUT" "already installed" "second install"
snapshot >"$TMP/snap.again"
diff "$TMP/snap.installed" "$TMP/snap.again" >&2 || fail "installing twice changed files"

# --- status ----------------------------------------------------------------------
expect_exit 0 env PATH="$P/sbin:/usr/sbin:/usr/bin:/sbin:/bin" "$CRPC_BIN" shim status --prefix "$P"
assert_contains "$OUT" "installed under $P" "status"
assert_contains "$OUT" "runc: this PATH leads to $P/sbin/criu: through crpc" "status"
expect_exit 0 "$CRPC_BIN" shim status --prefix "$P" --json
jcheck() { /usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/json_check.py" "$@"; }
echo "$OUT" >"$TMP/snap.status.json"
jcheck "$TMP/snap.status.json" 'd["ok"] is True' "d[\"installed\"][\"real_criu\"] == \"$CRPC_CRIU\"" \
	'[e["engine"] for e in d["engines"]][-2:] == ["podman", "runc"]'

# --- an engine whose PATH does not reach the link is named -------------------------
expect_exit 0 env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$CRPC_BIN" --config "$CFG" shim install --engine runc --prefix "$P"
assert_contains "$ERR" "runc: this PATH leads to" "install for an engine that does not reach the link"
assert_contains "$ERR" "not to $P/sbin/criu: put $P/sbin first on that PATH" "install for an engine that does not reach the link"

# --- uninstall: exactly as before ------------------------------------------------
expect_exit 0 crpc_ shim uninstall --prefix "$P"
snapshot >"$TMP/snap.after"
diff "$TMP/snap.before" "$TMP/snap.after" >&2 || fail "uninstall did not leave the files as they were"
expect_exit 0 crpc_ shim uninstall --prefix "$P"
assert_contains "$OUT" "nothing to undo" "second uninstall"

# --- a configuration with hooks and no criu: binary is edited, then put back ----
printf '# mine\nhooks:\n  pre-dump:\n    - shell: "true"\ncriu:\n    log_level: 4\n' | write_config "$CFG"
chmod 640 "$CFG"
snapshot >"$TMP/snap.before"
expect_exit 0 crpc_ --criu "$CRPC_CRIU" shim install --prefix "$P"
expect_exit 0 "$CRPC_BIN" config check "$CFG"
expect_exit 0 "$CRPC_BIN" config check "$CFG"
assert_contains "$OUT" "$CRPC_CRIU" "config check after the install"
assert_contains "$OUT" "pre-dump" "config check after the install"
[ "$(stat -c %a "$CFG")" = 640 ] || fail "the install changed the mode of $CFG to $(stat -c %a "$CFG")"
grep -q '^    binary: ' "$CFG" || fail "the binary line is not indented as the section: $(cat "$CFG")"
expect_exit 0 crpc_ shim uninstall --prefix "$P"
assert_contains "$OUT" "restored" "uninstall of an edited configuration"
snapshot >"$TMP/snap.after"
diff "$TMP/snap.before" "$TMP/snap.after" >&2 || fail "uninstall did not put the configuration back as it was"

# --- other shapes: no final newline, criu: last, flow style refused -------------
printf 'shim:\n  trace: false' | write_config "$CFG"
expect_exit 0 crpc_ --criu "$CRPC_CRIU" shim install --prefix "$P"
expect_exit 0 "$CRPC_BIN" config check "$CFG"
expect_exit 0 crpc_ shim uninstall --prefix "$P"
[ "$(cat "$CFG")" = $'shim:\n  trace: false' ] || fail "uninstall did not put back a file without a final newline"
printf 'shim:\n  trace: false\ncriu:\n' | write_config "$CFG"
expect_exit 0 crpc_ --criu "$CRPC_CRIU" shim install --prefix "$P"
expect_exit 0 "$CRPC_BIN" config check "$CFG"
assert_contains "$OUT" "$CRPC_CRIU" "config check after adding to a last, empty criu:"
expect_exit 0 crpc_ shim uninstall --prefix "$P"
printf 'criu: {log_level: 4}\n' | write_config "$CFG"
expect_exit 2 crpc_ --criu "$CRPC_CRIU" shim install --prefix "$P"
assert_contains "$ERR" "cannot add criu: binary to $CFG" "install with a flow-style criu:"
[ ! -e "$P" ] || fail "a refused install left $P"
[ "$(cat "$CFG")" = 'criu: {log_level: 4}' ] || fail "a refused install changed $CFG"

# --- a configuration that names a binary: kept; --criu that differs refused -----
printf 'criu:\n  binary: %s\n' "$CRPC_CRIU" | write_config "$CFG"
expect_exit 2 crpc_ --criu /bin/true shim install --prefix "$P"
assert_contains "$ERR" "already names $CRPC_CRIU" "install with another --criu"
[ ! -e "$P/sbin/criu" ] || fail "a refused install left $P/sbin/criu"
snapshot >"$TMP/snap.before"
expect_exit 0 crpc_ shim install --prefix "$P"
assert_contains "$OUT" "already named by $CFG" "install with a configured CRIU"
expect_exit 0 crpc_ shim uninstall --prefix "$P"
snapshot >"$TMP/snap.after"
diff "$TMP/snap.before" "$TMP/snap.after" >&2 || fail "uninstall changed a configuration it had kept"

# --- a criu that is not crpc's: refused, then kept aside with --force -----------
mkdir -p "$P/sbin"
printf '#!/bin/sh\necho other criu\n' >"$P/sbin/criu"
chmod 755 "$P/sbin/criu"
snapshot >"$TMP/snap.before"
expect_exit 2 crpc_ shim install --prefix "$P"
assert_contains "$ERR" "$P/sbin/criu exists and is not crpc" "install over a foreign criu"
assert_contains "$ERR" "--force" "install over a foreign criu"
snapshot >"$TMP/snap.refused"
diff "$TMP/snap.before" "$TMP/snap.refused" >&2 || fail "a refused install changed files"
expect_exit 0 crpc_ shim install --prefix "$P" --force
assert_contains "$OUT" "kept as $P/sbin/criu.crpc-saved" "install --force"
[ "$("$P/sbin/criu.crpc-saved")" = "other criu" ] || fail "the former criu was not kept"
expect_exit 0 crpc_ shim uninstall --prefix "$P"
snapshot >"$TMP/snap.after"
diff "$TMP/snap.before" "$TMP/snap.after" >&2 || fail "uninstall did not put the former criu back"
[ "$("$P/sbin/criu")" = "other criu" ] || fail "the former criu is not back"
rm -rf "$P"

# --- a configuration changed after the install is left, and said --------------
rm -f "$CFG"
expect_exit 0 crpc_ --criu "$CRPC_CRIU" shim install --prefix "$P"
echo "# changed by hand" >>"$CFG"
expect_exit 1 crpc_ shim uninstall --prefix "$P"
assert_contains "$ERR" "$CFG was changed since the install" "uninstall after a change"
[ -s "$CFG" ] || fail "uninstall removed a configuration changed since"
[ ! -e "$P/sbin/criu" ] || fail "uninstall left the link"
expect_exit 0 crpc_ shim uninstall --prefix "$P" --force
[ ! -e "$CFG" ] || fail "uninstall --force did not remove the configuration it created"
[ ! -e "$P" ] || fail "uninstall --force left $P: $(find "$P")"

# --- usage ---------------------------------------------------------------------
expect_exit 2 "$CRPC_BIN" shim install --engine lxc --prefix "$P"
expect_exit 2 "$CRPC_BIN" shim install --prefix relative/dir
expect_exit 2 "$CRPC_BIN" shim status --force
