#!/bin/bash
# The shim pointed at itself refuses at once with exit code 3 and says
# why, instead of running itself forever: through $CRPC_CRIU, the
# configuration's criu: binary, a PATH with no other criu, and indirectly
# (a wrapper script that runs crpc again). A PATH that has the shim first
# and the real CRIU later finds the real one. A client of a refusing shim
# gets the reason too.
# shellcheck disable=SC2016 # quoted code for wait_for
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/shim_lib.sh"

REAL=$CRPC_CRIU

# refused CMD...: expect_exit 3 CMD..., quickly and with nothing on stdout
refused() {
	local start
	start=$(usec)
	expect_exit 3 "$@"
	(($(usec) - start < 10000000)) || fail "'$*' took too long to refuse"
	[ -z "$OUT" ] || fail "'$*' wrote to stdout: $OUT"
}

# --- $CRPC_CRIU names the shim (the symlink, and crpc itself) -------------------------------
CRPC_CRIU=$SHIM refused "$SHIM" --version
assert_contains "$ERR" "the CRIU binary $SHIM (from \$CRPC_CRIU) is crpc itself" "refusal"
CRPC_CRIU=$CRPC_BIN refused "$SHIM" check
assert_contains "$ERR" "is crpc itself" "refusal"

# a client (crpc) of a shim that refuses sees why
CRPC_CRIU=$SHIM refused "$CRPC_BIN" version --no-config --criu "$SHIM"
assert_contains "$ERR" "is crpc itself" "the client's error"

# --- the configuration's criu: binary names the shim ----------------------------------------
shim_config "criu:" "  binary: $SHIM"
(
	unset CRPC_CRIU
	refused "$SHIM" --version
	assert_contains "$ERR" "(from the configuration's criu: binary) is crpc itself" "refusal"
)
# $CRPC_CRIU wins over the configuration
CRPC_CRIU=$REAL expect_exit 0 "$SHIM" --version
shim_config

# --- PATH: the shim is skipped, only a real criu is taken ---------------------------------
mkdir "$TMP/real-bin"
ln -s "$REAL" "$TMP/real-bin/criu"
(
	unset CRPC_CRIU
	PATH=$SHIM_BIN_DIR refused "$SHIM" --version
	assert_contains "$ERR" "every criu on \$PATH is crpc itself" "refusal"
	PATH=$SHIM_BIN_DIR:$TMP/real-bin expect_exit 0 "$SHIM" --version
	assert_contains "$OUT" "Version: " "criu --version with the shim first on PATH"
	PATH=$SHIM_BIN_DIR:$TMP/real-bin:/usr/bin:/bin expect_exit 0 "$CRPC_BIN" version --no-config --criu "$SHIM"
	assert_contains "$OUT" "CRIU " "crpc version through the shim found on PATH"
)

# --- indirectly: the "real" CRIU is a script that runs the shim again -------------------------
printf '#!/bin/sh\nexec "%s" shim "$@"\n' "$CRPC_BIN" >"$TMP/wrap"
chmod 755 "$TMP/wrap"
CRPC_CRIU=$TMP/wrap refused "$SHIM" --version
assert_contains "$ERR" "CRPC_SHIM_DEPTH=1" "refusal of a loop"
assert_contains "$ERR" "leads back to crpc" "refusal of a loop"
CRPC_CRIU=$TMP/wrap refused "$CRPC_BIN" version --no-config --criu "$SHIM"
assert_contains "$ERR" "leads back to crpc" "the client's error"
# a shim started from outside any shim with the variable set refuses as well
CRPC_SHIM_DEPTH=1 refused "$SHIM" --version

no_strays
