# shellcheck shell=bash
# shellcheck disable=SC2016 # quoted code for wait_for's eval and the container's shell
# A private Docker daemon for the Docker tests; source after lib.sh (and
# container_lib.sh for count and keeps_counting).
#
# dockerd_start starts Debian's dockerd 20.10 with everything under $TMP/docker:
# data-root, exec-root, API socket, pidfile, daemon.json (experimental on, no
# iptables, no bridge, no IP forwarding) and its own containerd, and a cgroup
# parent of its own. The daemon's environment is only what the test puts in
# DOCKERD_ENV (PATH first, so the `criu` its runc runs is the test's choice).
# It waits until the daemon answers and imports $DOCKER_IMAGE, a busybox-static
# rootfs, with `docker import` (no registry). At exit, before lib.sh's
# cleanup, every container is removed, the daemon is stopped by its PID
# (SIGTERM, then SIGKILL), its containerd and any process left in the cgroup
# parent are ended by PID, mounts below $TMP/docker are undone and the cgroups
# removed, also when the test failed.
#
# docker_ ARGS runs the docker CLI of the same release as dockerd
# (/usr/bin/docker, not a newer one earlier on PATH) against that daemon.

DOCKER_CLI=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
if ! [ -x "$DOCKERD" ] || ! [ -x "$DOCKER_CLI" ]; then
	fail "Debian's docker.io is not installed ($DOCKERD, $DOCKER_CLI): run scripts/setup"
fi
[ -x /bin/busybox ] || fail "/bin/busybox not found: run scripts/setup (it installs busybox-static)"

DOCKER_DIR=$TMP/docker
DOCKER_SOCK=$DOCKER_DIR/docker.sock
DOCKER_HOST=unix://$DOCKER_SOCK
DOCKER_DATA=$DOCKER_DIR/data
DOCKER_EXEC=$DOCKER_DIR/exec
DOCKER_PIDFILE=$DOCKER_DIR/dockerd.pid
DOCKER_LOG=$DOCKER_DIR/dockerd.log
DOCKER_CGROUP=/crpc-it-docker-${TMP##*.}
DOCKER_IMAGE=crpc-it-busybox:latest
DOCKERD_PID=
export DOCKER_HOST
# The daemon's environment (dockerd_start): PATH decides which criu runc runs.
# shellcheck disable=SC2034 # read by dockerd_start, set by the tests
DOCKERD_ENV=("PATH=/usr/sbin:/usr/bin:/sbin:/bin")

docker_() {
	"$DOCKER_CLI" -H "$DOCKER_HOST" "$@"
}

# dockerd_pids: dockerd, the containerd it started and their shims: every
# process whose command line names our exec-root or data-root.
dockerd_pids() {
	local p
	local -a a
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		a=()
		{ mapfile -d '' a <"/proc/$p/cmdline"; } 2>/dev/null || true
		[[ "${a[*]}" == *"$DOCKER_DIR/"* ]] && echo "$p"
	done
	return 0
}

dockerd_stop() {
	local rc=$? p m
	set +e
	if [ -n "$DOCKERD_PID" ] && [ -e "/proc/$DOCKERD_PID" ]; then
		for c in $(docker_ ps -aq 2>/dev/null); do
			timeout 30 "$DOCKER_CLI" -H "$DOCKER_HOST" rm -f "$c" >/dev/null 2>&1
		done
		kill -TERM "$DOCKERD_PID" 2>/dev/null
		wait_gone "$DOCKERD_PID" 20 || {
			echo "warning: dockerd $DOCKERD_PID did not stop on SIGTERM, killing it" >&2
			kill -KILL "$DOCKERD_PID" 2>/dev/null
			wait_gone "$DOCKERD_PID" 5
		}
	fi
	for p in $(dockerd_pids); do kill -KILL "$p" 2>/dev/null; done
	cgroup_end "$DOCKER_CGROUP"
	# deepest first: overlay and nsfs mounts of containers the daemon did not undo
	if [ -d "$DOCKER_DIR" ]; then
		awk -v d="$DOCKER_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null; done
	fi
	return "$rc"
}

# dockerd_start: start the daemon (see above), wait for it, import the image.
dockerd_start() {
	[ -z "$DOCKERD_PID" ] || fail "dockerd_start: a dockerd ($DOCKERD_PID) is already running"
	mkdir -p "$DOCKER_DATA" "$DOCKER_EXEC"
	chmod 700 "$DOCKER_DIR"
	cat >"$DOCKER_DIR/daemon.json" <<-EOF
		{
		  "experimental": ${DOCKERD_EXPERIMENTAL:-true},
		  "iptables": false,
		  "ip-forward": false,
		  "ip-masq": false,
		  "bridge": "none",
		  "cgroup-parent": "$DOCKER_CGROUP"
		}
	EOF
	# setsid: the daemon leads a session of its own, away from the test's
	# terminal signals; lib.sh's cleanup also finds it by $TMP.
	# the sanitizers' settings of a sanitizer build reach the shim runc runs
	local -a san=()
	[ -z "${ASAN_OPTIONS:-}" ] || san+=("ASAN_OPTIONS=$ASAN_OPTIONS")
	[ -z "${UBSAN_OPTIONS:-}" ] || san+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")
	env -i "${DOCKERD_ENV[@]}" "${san[@]}" "CRPC_TEST_TMP=$TMP" setsid "$DOCKERD" \
		--config-file "$DOCKER_DIR/daemon.json" --data-root "$DOCKER_DATA" \
		--exec-root "$DOCKER_EXEC" --pidfile "$DOCKER_PIDFILE" -H "$DOCKER_HOST" \
		</dev/null >"$DOCKER_LOG" 2>&1 &
	DOCKERD_PID=$!
	track "$DOCKERD_PID"
	wait_for 'docker_ version >/dev/null 2>&1' 60 ||
		fail "dockerd did not answer on $DOCKER_SOCK within 60 s: $(tail -n 5 "$DOCKER_LOG")"
	docker_image_import "$DOCKER_IMAGE"
	note "dockerd $DOCKERD_PID: $(docker_ version -f '{{.Server.Version}}') in $DOCKER_DIR"
}

# docker_image_import NAME: a busybox-static rootfs as the image NAME.
docker_image_import() {
	local r=$DOCKER_DIR/rootfs a
	mkdir -p "$r/bin" "$r/state" "$r/tmp" "$r/etc"
	cp /bin/busybox "$r/bin/busybox"
	for a in sh sleep cat echo nc mv true; do ln -sf busybox "$r/bin/$a"; done
	echo 'root:x:0:0:root:/:/bin/sh' >"$r/etc/passwd"
	tar -C "$r" -cf "$DOCKER_DIR/rootfs.tar" . || fail "cannot pack the busybox rootfs"
	docker_ import "$DOCKER_DIR/rootfs.tar" "$1" >/dev/null || fail "docker import failed"
}

# docker_counter NAME [DOCKER-RUN-OPTIONS...]: a detached container NAME
# whose shell writes the next number into /state/count every 50 ms; /state
# is $TMP/NAME.state on the host, and COUNT the file there (container_lib's
# count reads it). No network, stdio /dev/null (CRIU restores no host
# file there).
docker_counter() {
	local name=$1
	shift
	mkdir -p "$TMP/$name.state"
	# shellcheck disable=SC2034 # container_lib.sh's count reads it
	COUNT=$TMP/$name.state/count
	docker_ run -d --name "$name" --network none -v "$TMP/$name.state:/state" "$@" "$DOCKER_IMAGE" \
		/bin/sh -c 'i=0; printf "%10d\n" 0 >/state/count.tmp0; printf "%10d\n" 0 >/state/count.tmp1; while :; do i=$((i+1)); t=/state/count.tmp$((i % 2)); printf "%10d\n" $i 1<>$t; ln -f $t /state/count.new; mv /state/count.new /state/count; sleep 0.05; done' \
		>/dev/null || fail "docker run $name failed"
	wait_for '[ "$(count)" -ge 3 ]' 10 || fail "container $name does not count ($(count))"
}

# docker_state NAME: running, exited, ... (empty when there is no such container)
docker_state() {
	docker_ inspect -f '{{.State.Status}}' "$1" 2>/dev/null || true
}


# docker_start_checkpoint CHECKPOINT CONTAINER: docker start --checkpoint,
# tried again (10 times at most) while Docker 20.10 answers "failed to upload
# checkpoint to containerd: ... already exists": containerd still holds the
# checkpoint's content from its creation until its garbage collection runs,
# which happens now and then right after a checkpoint (crpc does the same).
# Its output in $TMP/start.out.
docker_start_checkpoint() {
	local tries=0
	while [ "$tries" -lt 10 ]; do
		tries=$((tries + 1))
		docker_ start --checkpoint "$1" "$2" >"$TMP/start.out" 2>&1 && return 0
		grep -q "already exists" "$TMP/start.out" || return 1
		sleep 0.2
	done
	return 1
}

trap 'dockerd_stop; cleanup' EXIT
