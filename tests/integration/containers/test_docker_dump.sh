#!/bin/bash
# crpc dump docker:NAME and crpc restore against a private dockerd 20.10
# (helpers/dockerd_lib.sh) whose runc finds crpc as `criu` on its PATH
# (`crpc shim install --engine docker` with a prefix in this test's
# directory), with the call directories under $TMP/run for both sides:
# - crpc inspect docker:NAME and crpc ps --json see the container;
# - a counter container dumped (the container stops, DIR is a crpc
#   checkpoint with crpc.json naming the engine and container, the
#   session's trace readable with crpc trace show, hooks fired at every
#   callback CRIU makes, in its order, with the container's engine, ID and
#   name in their environment) and restored into the same container, whose
#   counter carries on (the restore's trace through --trace);
# - --leave-running: the container keeps counting;
# - the container removed, then restored as --name NEW from the recorded
#   image and configuration, and as its own name;
# - an established TCP connection on the container's loopback: the
#   inspection asks for tcp-established, the shim adds it to Docker's DUMP
#   request, and the connection carries data after the restore;
# - Docker's own checkpoint directory is left empty;
# - crpc speaks to dockerd's API socket itself, starting the docker CLI only
#   for the checkpoint; with a docker context chosen instead of $DOCKER_HOST,
#   or where libcurl cannot be loaded, it goes through the CLI for everything;
# - after crpc shim uninstall (dockerd's runc then finds the real CRIU
#   further on its PATH) a dump and a restore still work and say what they
#   went without; a dump that needed an option the engine could not be given
#   fails with a hint that names it.
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"
. "$(dirname "$0")/../helpers/dockerd_lib.sh"

mkdir -m 700 "$TMP/run"
engine_hooks_config "$TMP/crpc.yaml"
PREFIX=$TMP/prefix
expect_exit 0 "$CRPC_BIN" --config "$TMP/crpc.yaml" --criu "$CRPC_CRIU" shim install --engine docker --prefix "$PREFIX"
# The daemon's PATH: the shim first, then the real CRIU (what runc finds
# after an uninstall). The configuration the install recorded the real CRIU
# in: /etc/crpc/config.yaml on a machine, passed in the environment here.
mkdir "$TMP/realbin"
ln -s "$CRPC_CRIU" "$TMP/realbin/criu"
# shellcheck disable=SC2034 # dockerd_start reads it
DOCKERD_ENV=("PATH=$PREFIX/sbin:$TMP/realbin:/usr/sbin:/usr/bin:/sbin:/bin" "CRPC_RUNTIME_DIR=$TMP/run" "CRPC_CONFIG=$TMP/crpc.yaml")
export CRPC_RUNTIME_DIR=$TMP/run CRPC_DOCKER=$DOCKER_CLI CRPC_CONFIG=$TMP/crpc.yaml
dockerd_start

# checkpoints_left ID: what Docker's checkpoint directory of container ID holds
checkpoints_left() {
	ls -A "$DOCKER_DATA/containers/$1/checkpoints" 2>/dev/null || true
}

# --- inspect and ps ------------------------------------------------------------
docker_counter ctr
id=$(docker_ inspect -f '{{.Id}}' ctr)
pid=$(docker_ inspect -f '{{.State.Pid}}' ctr)
expect_exit 0 "$CRPC_BIN" inspect docker:ctr
assert_contains "$OUT" "$pid" "inspect docker:ctr"
expect_exit 0 "$CRPC_BIN" ps --json
echo "$OUT" >"$TMP/ps.json"
jcheck() { /usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/json_check.py" "$@"; }
jcheck "$TMP/ps.json" "any(c[\"engine\"] == \"docker\" and c[\"id\"] == \"$id\" and c[\"name\"] == \"ctr\" and c[\"pid\"] == $pid for c in d[\"containers\"])"

# --- dump and restore into the same container --------------------------------
# the docker CLI as crpc runs it, each command line into $TMP/docker.calls:
# crpc asks dockerd's API socket itself and starts the CLI only for the
# checkpoint (whose process outlives a killed crpc)
printf '#!/bin/sh\necho "$*" >>%q\nexec %q "$@"\n' "$TMP/docker.calls" "$DOCKER_CLI" >"$TMP/docker-logged"
chmod 0755 "$TMP/docker-logged"
: >"$TMP/docker.calls"
expect_exit 0 env CRPC_DOCKER="$TMP/docker-logged" "$CRPC_BIN" dump docker:ctr "$TMP/ck1"
ckname=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["container"]["recreate"]["checkpointed_as"])' "$TMP/ck1/crpc.json")
[ "$(cat "$TMP/docker.calls")" = "checkpoint create $id $ckname" ] ||
	fail "the dump ran the docker CLI as: [$(cat "$TMP/docker.calls")], expected [checkpoint create $id $ckname]"
assert_contains "$OUT" "Checkpointed docker:ctr ($id" "dump"
[ "$(docker_state ctr)" = exited ] || fail "the container is '$(docker_state ctr)' after the dump"
at_dump=$(count)
sleep 0.3
[ "$(count)" = "$at_dump" ] || fail "the counter moved after the dump ($at_dump -> $(count))"
[ -s "$TMP/ck1/inventory.img" ] || fail "no CRIU images in the checkpoint"
grep -q "Dumping finished successfully" "$TMP/ck1/dump.log" || fail "no CRIU dump.log kept in the checkpoint"
[ -z "$(checkpoints_left "$id")" ] || fail "Docker's checkpoint directory is left with: $(checkpoints_left "$id")"
jcheck "$TMP/ck1/crpc.json" 'd["container"]["engine"] == "docker"' "d[\"container\"][\"id\"] == \"$id\"" \
	'd["container"]["name"] == "ctr"' "d[\"container\"][\"image\"] == \"$DOCKER_IMAGE\"" \
	'd["container"]["recreate"]["NetworkMode"] == "none"' \
	"d[\"container\"][\"recreate\"][\"data_root\"] == \"$DOCKER_DATA\""
expect_exit 0 "$CRPC_BIN" trace show "$TMP/ck1/dump.trace"
assert_contains "$OUT" "-> DUMP" "the dump's trace"
assert_contains "$OUT" "<- DUMP     success" "the dump's trace"
# every callback CRIU makes during Docker's dump, in CRIU's order, each with the container
want=""
for cb in pre-dump network-lock query-ext-files post-dump; do want+="$cb docker $id ctr"$'\n'; done
[ "$(<"$TMP/marks")" = "${want%$'\n'}" ] || fail "dump hooks: [$(<"$TMP/marks")], expected [${want%$'\n'}]"
: >"$TMP/marks"

: >"$TMP/docker.calls"
expect_exit 0 env CRPC_DOCKER="$TMP/docker-logged" "$CRPC_BIN" restore --trace "$TMP/restore.trace" "$TMP/ck1"
# the same container, stopped in the data root the dump recorded: started through the API
[ ! -s "$TMP/docker.calls" ] || fail "the restore ran the docker CLI: $(cat "$TMP/docker.calls")"
grep -q "Restore finished successfully" "$TMP/ck1/restore.log" || fail "no CRIU restore.log kept in the checkpoint"
[ "$(docker_state ctr)" = running ] || fail "the container is '$(docker_state ctr)' after the restore"
expect_exit 0 "$CRPC_BIN" trace show "$TMP/restore.trace"
assert_contains "$OUT" "<- RESTORE  success" "the restore's trace"
[ "$(docker_ inspect -f '{{.Id}}' ctr)" = "$id" ] || fail "the restore made another container"
carries_on "$at_dump"
note "counter: $at_dump at the dump, $FIRST first after the restore"
want=""
for cb in pre-restore setup-namespaces post-setup-namespaces post-restore network-unlock pre-resume post-resume; do
	want+="$cb docker $id ctr"$'\n'
done
[ "$(<"$TMP/marks")" = "${want%$'\n'}" ] || fail "restore hooks: [$(<"$TMP/marks")], expected [${want%$'\n'}]"
[ -z "$(checkpoints_left "$id")" ] || fail "the restore left in Docker's checkpoint directory: $(checkpoints_left "$id")"

# --- --leave-running -----------------------------------------------------------
expect_exit 0 "$CRPC_BIN" dump --leave-running docker:ctr "$TMP/ck2"
[ "$(docker_state ctr)" = running ] || fail "--leave-running: the container is '$(docker_state ctr)'"
keeps_counting 5 || fail "--leave-running: the counter stopped at $(count)"
at_dump2=$(count)
# a restore into the container while it runs is refused, and how to go on said
expect_exit 1 "$CRPC_BIN" restore "$TMP/ck2"
assert_contains "$ERR" "docker:ctr (${id:0:12}) is running" "restore into a running container"
assert_contains "$ERR" "--name NEW" "restore into a running container"
# as the name of another container: Docker's refusal, nothing left behind
expect_exit 1 "$CRPC_BIN" restore --name ctr "$TMP/ck2"
assert_contains "$ERR" "already in use" "restore as a name that is taken"
[ "$(docker_ ps -aq | wc -l)" = 1 ] || fail "refused restores left containers: $(docker_ ps -a)"
keeps_counting 5 || fail "the refused restores stopped the counter at $(count)"

# --- removed, then restored as --name NEW and as itself ------------------------
docker_ rm -f ctr >/dev/null
: >"$TMP/marks"
expect_exit 0 "$CRPC_BIN" restore --name ctr2 "$TMP/ck2"
[ "$(docker_state ctr2)" = running ] || fail "--name ctr2: the container is '$(docker_state ctr2)'"
id2=$(docker_ inspect -f '{{.Id}}' ctr2)
[ "$id2" != "$id" ] || fail "ctr2 has the removed container's ID"
grep -q "^post-restore docker $id2 ctr2\$" "$TMP/marks" ||
	fail "restore as ctr2: the hooks did not see the new container: [$(<"$TMP/marks")]"
grep -v -q " $id2 ctr2\$" "$TMP/marks" && fail "restore as ctr2: a hook saw another container: [$(<"$TMP/marks")]"
[ "$(docker_ inspect -f '{{.Config.Image}}' ctr2)" = "$DOCKER_IMAGE" ] || fail "ctr2 is not of $DOCKER_IMAGE"
keeps_counting 5 || fail "the counter restored as ctr2 does not move (at $(count))"
note "counter: about $at_dump2 at the --leave-running dump, $(count) in ctr2"
docker_ rm -f ctr2 >/dev/null
expect_exit 0 "$CRPC_BIN" restore "$TMP/ck2"
[ "$(docker_state ctr)" = running ] || fail "recreated ctr is '$(docker_state ctr)'"
keeps_counting 5 || fail "the counter restored into a recreated ctr does not move (at $(count))"
docker_ rm -f ctr >/dev/null

# --- an established loopback TCP connection inside the container ---------------
# The server sends a counter over its accepted connection (nc -e); the client
# writes what it receives to /state/recv.
mkdir -p "$TMP/tcp.state"
printf '#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo $i; sleep 0.05; done\n' >"$TMP/tcp.state/send"
chmod 755 "$TMP/tcp.state/send"
docker_ run -d --name tcp --network none -v "$TMP/tcp.state:/state" "$DOCKER_IMAGE" /bin/sh -c \
	'nc -l -p 5000 -e /state/send & sleep 0.3; exec nc 127.0.0.1 5000 >/state/recv' \
	>/dev/null || fail "docker run tcp failed"
recv() { tail -n 1 "$TMP/tcp.state/recv" 2>/dev/null || echo 0; }
wait_for '[ "$(recv)" -ge 3 ] 2>/dev/null' 10 || fail "the TCP pair does not talk ($(recv))"
expect_exit 0 "$CRPC_BIN" dump docker:tcp "$TMP/ck3"
assert_contains "$ERR" "tcp_established" "the dump of a container with a TCP connection"
jcheck "$TMP/ck3/crpc.json" 'any(o["option"] == "tcp_established" and o["source"] == "auto" for o in d["options"])'
expect_exit 0 "$CRPC_BIN" trace show "$TMP/ck3/dump.trace"
at_dump3=$(recv)
expect_exit 0 "$CRPC_BIN" restore "$TMP/ck3"
wait_for "[ \"\$(recv)\" -gt $at_dump3 ] 2>/dev/null" 10 || fail "nothing came over the restored connection (at $(recv))"
note "TCP: $at_dump3 received at the dump, $(recv) now"
docker_ rm -f tcp >/dev/null

# --- through the CLI: a docker context chooses the daemon ------------------------
# Without $DOCKER_HOST, a context ($DOCKER_CONTEXT, or the configuration's
# currentContext) is the CLI's to resolve: crpc then runs the CLI for all.
mkdir -m 700 "$TMP/dockercfg"
DOCKER_CONFIG=$TMP/dockercfg "$DOCKER_CLI" context create crpc-ctx --docker "host=$DOCKER_HOST" >/dev/null ||
	fail "docker context create failed"
docker_counter viactx
: >"$TMP/docker.calls"
expect_exit 0 env -u DOCKER_HOST DOCKER_CONFIG="$TMP/dockercfg" DOCKER_CONTEXT=crpc-ctx \
	CRPC_DOCKER="$TMP/docker-logged" "$CRPC_BIN" dump docker:viactx "$TMP/ck6"
assert_contains "$(cat "$TMP/docker.calls")" "inspect --type container viactx" "the docker calls of a dump in a context"
assert_contains "$(cat "$TMP/docker.calls")" "checkpoint create" "the docker calls of a dump in a context"
at_dump6=$(count)
DOCKER_CONFIG=$TMP/dockercfg "$DOCKER_CLI" context use crpc-ctx >/dev/null || fail "docker context use failed"
: >"$TMP/docker.calls"
expect_exit 0 env -u DOCKER_HOST DOCKER_CONFIG="$TMP/dockercfg" CRPC_DOCKER="$TMP/docker-logged" \
	"$CRPC_BIN" restore "$TMP/ck6"
assert_contains "$(cat "$TMP/docker.calls")" "start --checkpoint" "the docker calls of a restore in a context"
carries_on "$at_dump6"
docker_ rm -f viactx >/dev/null

# --- without libcurl: the CLI for everything ------------------------------------
# crpc opens libcurl on first use; where it cannot (here a mount namespace of
# the test's own, /dev/null over the library), it asks the docker CLI what it
# would have asked dockerd's API socket.
libcurl=$(/sbin/ldconfig -p | awk '$1 == "libcurl.so.4" && /x86-64/ { print $NF; exit }')
if [ -n "$libcurl" ]; then
	no_curl() { unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' no_curl "$libcurl" "$@"; }
	docker_counter nocurl
	: >"$TMP/docker.calls"
	expect_exit 0 no_curl env CRPC_DOCKER="$TMP/docker-logged" "$CRPC_BIN" dump docker:nocurl "$TMP/ck7"
	assert_contains "$(cat "$TMP/docker.calls")" "inspect --type container nocurl" "the docker calls of a dump without libcurl"
	assert_contains "$(cat "$TMP/docker.calls")" "checkpoint create" "the docker calls of a dump without libcurl"
	at_dump7=$(count)
	: >"$TMP/docker.calls"
	expect_exit 0 no_curl env CRPC_DOCKER="$TMP/docker-logged" "$CRPC_BIN" restore "$TMP/ck7"
	assert_contains "$(cat "$TMP/docker.calls")" "start --checkpoint" "the docker calls of a restore without libcurl"
	carries_on "$at_dump7"
	docker_ rm -f nocurl >/dev/null
else
	note "no libcurl.so.4 on this machine: every section above went through the CLI"
fi

# --- without the shim: plain engine checkpoints, and what they went without -----
expect_exit 0 "$CRPC_BIN" --config "$TMP/crpc.yaml" shim uninstall --prefix "$PREFIX"
: >"$TMP/marks"
docker_counter plain
expect_exit 0 "$CRPC_BIN" dump docker:plain "$TMP/ck4"
assert_contains "$ERR" "did not run crpc as its CRIU (crpc shim install --engine docker" "a dump without the shim"
[ ! -e "$TMP/ck4/dump.trace" ] || fail "a dump without the shim has a session trace"
at_dump4=$(count)
expect_exit 0 "$CRPC_BIN" restore "$TMP/ck4"
assert_contains "$ERR" "did not run crpc as its CRIU" "a restore without the shim"
wait_for "[ \"\$(count)\" -gt $at_dump4 ]" 10 || fail "the counter restored without the shim does not move"
[ ! -s "$TMP/marks" ] || fail "hooks ran without the shim: $(<"$TMP/marks")"
docker_ rm -f plain >/dev/null
# the TCP container again: CRIU refuses the connection the engine could not be told about
rm "$TMP/tcp.state/recv"
docker_ run -d --name tcp2 --network none -v "$TMP/tcp.state:/state" "$DOCKER_IMAGE" /bin/sh -c \
	'nc -l -p 5000 -e /state/send & sleep 0.3; exec nc 127.0.0.1 5000 >/state/recv' >/dev/null ||
	fail "docker run tcp2 failed"
wait_for '[ "$(recv)" -ge 3 ] 2>/dev/null' 10 || fail "the second TCP pair does not talk ($(recv))"
expect_exit 1 "$CRPC_BIN" dump docker:tcp2 "$TMP/ck5"
assert_contains "$ERR" "options it could not add: tcp_established=true" "a failed dump without the shim"
# CRIU's own words, from the log Docker names
assert_contains "$ERR" "Connected TCP socket" "a failed dump without the shim"
[ "$(docker_state tcp2)" = running ] || fail "the failed dump left tcp2 '$(docker_state tcp2)'"
[ ! -e "$TMP/ck5" ] || fail "the failed dump left $TMP/ck5"
