/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the inspection: the /proc parsers, fd classification, the
 * verdict on hand-made results, applying it (the user's options win), and a
 * live inspection of this test process with fds of many kinds.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "inspect/inspect_int.h"
#include "internal.h"

/* ---- parsers ---- */

static void test_parse_stat(void **state)
{
	ins_stat st;

	(void)state;
	/* a comm with blanks and parentheses */
	assert_int_equal(ins_parse_stat("42 (a b) c)) S 1 42 40 34817 42 4194560 0 0", &st), 0);
	assert_string_equal(st.comm, "a b) c)");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.pgid, 42);
	assert_int_equal(st.sid, 40);
	assert_int_equal(st.tty_nr, 34817);
	assert_int_equal(st.flags, 4194560);
	assert_int_equal(ins_parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0", &st), 0);
	assert_true(st.flags & 0x00200000UL);
	assert_int_equal(ins_parse_stat("garbage", &st), -1);
	assert_int_equal(ins_parse_stat("1 (x) S", &st), -1);
}

static void test_parse_status(void **state)
{
	static const char buf[] =
		"Name:\tbash\nState:\tT (stopped)\nTgid:\t77\nNgid:\t0\nPid:\t77\nPPid:\t5\n"
		"TracerPid:\t12\nThreads:\t3\nNSpid:\t77\t1\nVmRSS:\t    2048 kB\n"
		"RssAnon:\t    1024 kB\nRssFile:\t     512 kB\nRssShmem:\t       4 kB\nKthread:\t0\n";
	ins_status s;

	(void)state;
	ins_parse_status(buf, &s);
	assert_int_equal(s.state, 'T');
	assert_int_equal(s.tgid, 77);
	assert_int_equal(s.ppid, 5);
	assert_int_equal(s.tracer_pid, 12);
	assert_int_equal(s.threads, 3);
	assert_int_equal(s.ns_pid, 1);
	assert_false(s.kthread);
	assert_int_equal(s.mem.rss, 2048 * 1024);
	assert_int_equal(s.mem.anon, 1024 * 1024);
	assert_int_equal(s.mem.file, 512 * 1024);
	assert_int_equal(s.mem.shmem, 4 * 1024);
}

static void test_parse_inet(void **state)
{
	ins_inet_sock s;

	(void)state;
	assert_int_equal(ins_parse_inet_line("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
					     "retrnsmt   uid  timeout inode",
					     2, &s),
			 -1);
	assert_int_equal(
		ins_parse_inet_line("   0: 0100007F:1388 0100007F:A1B2 01 00000010:00000020 00:00000000 "
				    "00000000     0        0 123456 1 0000000000000000 20 4 30 10 -1",
				    2 /* AF_INET */, &s),
		0);
	assert_string_equal(s.local.addr, "127.0.0.1");
	assert_int_equal(s.local.port, 5000);
	assert_string_equal(s.remote.addr, "127.0.0.1");
	assert_int_equal(s.remote.port, 0xA1B2);
	assert_int_equal(s.state, 1);
	assert_int_equal(s.tx_queue, 0x10);
	assert_int_equal(s.rx_queue, 0x20);
	assert_int_equal(s.inode, 123456);
	assert_int_equal(
		ins_parse_inet_line("   1: 00000000000000000000000001000000:0050 "
				    "0000000000000000FFFF00000100007F:D431 0A 00000000:00000003 00:00000000 "
				    "00000000     0        0 777 1 0000000000000000 100 0 0 10 0",
				    10 /* AF_INET6 */, &s),
		0);
	assert_string_equal(s.local.addr, "::1");
	assert_int_equal(s.local.port, 80);
	assert_string_equal(s.remote.addr, "::ffff:127.0.0.1");
	assert_int_equal(s.state, 10);
	assert_int_equal(s.rx_queue, 3);
	assert_int_equal(s.inode, 777);
}

static void test_parse_locks(void **state)
{
	crpc_lock_info l;
	bool blocked;

	(void)state;
	assert_int_equal(ins_parse_lock_line("1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF", &l, &blocked),
			 0);
	assert_false(blocked);
	assert_string_equal(l.lock_class, "POSIX");
	assert_string_equal(l.kind, "ADVISORY");
	assert_string_equal(l.mode, "WRITE");
	assert_int_equal(l.pid, 1234);
	assert_int_equal(l.dev_major, 8);
	assert_int_equal(l.dev_minor, 1);
	assert_int_equal(l.inode, 5678);
	assert_int_equal(l.start, 0);
	assert_int_equal(l.end, -1);
	assert_int_equal(ins_parse_lock_line("2: OFDLCK ADVISORY  READ  -1 fd:00:99 10 20", &l, &blocked), 0);
	assert_int_equal(l.pid, -1);
	assert_int_equal(l.dev_major, 0xfd);
	assert_int_equal(l.end, 20);
	assert_int_equal(ins_parse_lock_line("3: -> FLOCK  ADVISORY  WRITE 99 00:1a:3 0 EOF", &l, &blocked),
			 0);
	assert_true(blocked);
	assert_int_equal(ins_parse_lock_line("nonsense", &l, &blocked), -1);
}

static void test_parse_fdinfo(void **state)
{
	crpc_fd_info fi;
	ins_fdinfo_extra x;

	(void)state;
	memset(&fi, 0, sizeof(fi));
	assert_int_equal(ins_parse_fdinfo("pos:\t0\nflags:\t02004002\nmnt_id:\t15\nino:\t1057\n"
					  "eventfd-count:               2a\neventfd-id: 3\n",
					  &fi, &x),
			 0);
	assert_true(fi.have_fdinfo);
	assert_int_equal(fi.flags, 02004002);
	assert_int_equal(fi.mount_id, 15);
	assert_int_equal(fi.count, 0x2a);
	assert_int_equal(x.tty_index, -1);
	ins_fd_release(&fi);

	memset(&fi, 0, sizeof(fi));
	assert_int_equal(
		ins_parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t16\nino:\t1\n"
				 "tfd:        5 events:       19 data:                5  pos:0 ino:a sdev:f\n"
				 "tfd:        7 events:       19 data:                7  pos:0 ino:b sdev:f\n",
				 &fi, &x),
		0);
	assert_int_equal(fi.watches, 2);
	assert_int_equal(fi.n_targets, 2);
	assert_int_equal(fi.targets[0], 5);
	assert_int_equal(fi.targets[1], 7);
	ins_fd_release(&fi);

	memset(&fi, 0, sizeof(fi));
	assert_int_equal(ins_parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t16\nino:\t1\n"
					  "fanotify flags:10 event-flags:0\n"
					  "fanotify ino:5 sdev:800001 mflags:0 mask:1 ignored_mask:0\n"
					  "tty-index:\t3\nsigmask:\t0000000000004000\nclockid: 1\nticks: 9\n"
					  "settime flags: 01\nit_value: (0, 49406829)\nit_interval: (1, 5)\n",
					  &fi, &x),
			 0);
	assert_int_equal(fi.watches, 1);
	assert_int_equal(x.tty_index, 3);
	assert_string_equal(fi.sigmask, "0000000000004000");
	assert_int_equal(fi.clockid, 1);
	assert_int_equal(fi.ticks, 9);
	assert_int_equal(fi.value_ns, 49406829);
	assert_int_equal(fi.interval_ns, 1000000005);
	assert_int_equal(x.n_locks, 0);
	ins_fd_release(&fi);
	ins_fdinfo_extra_free(&x);
}

/* The "lock:" lines of fdinfo: the locks held through that open file. */
static void test_parse_fdinfo_locks(void **state)
{
	crpc_fd_info fi;
	ins_fdinfo_extra x;

	(void)state;
	memset(&fi, 0, sizeof(fi));
	assert_int_equal(ins_parse_fdinfo("pos:\t0\nflags:\t0100002\nmnt_id:\t22\nino:\t6\n"
					  "lock:\t1: OFDLCK ADVISORY WRITE -1 00:05:6 0 EOF\n"
					  "lock:\t2: OFDLCK ADVISORY READ -1 00:05:6 100 199\n"
					  "lock:\tnonsense\n"
					  "lock:\t3: POSIX  ADVISORY  WRITE 4321 fd:01:77 10 EOF\n"
					  "lock:\t4: FLOCK  ADVISORY  WRITE 4321 fd:01:77 0 EOF",
					  &fi, &x),
			 0);
	assert_int_equal(fi.mount_id, 22);
	assert_int_equal(x.n_locks, 4);
	assert_string_equal(x.locks[0].lock_class, "OFDLCK");
	assert_string_equal(x.locks[0].kind, "ADVISORY");
	assert_string_equal(x.locks[0].mode, "WRITE");
	assert_int_equal(x.locks[0].pid, -1);
	assert_int_equal(x.locks[0].fd, -1);
	assert_null(x.locks[0].path);
	assert_int_equal(x.locks[0].dev_major, 0);
	assert_int_equal(x.locks[0].dev_minor, 5);
	assert_int_equal(x.locks[0].inode, 6);
	assert_int_equal(x.locks[0].start, 0);
	assert_int_equal(x.locks[0].end, -1);
	assert_string_equal(x.locks[1].mode, "READ");
	assert_int_equal(x.locks[1].start, 100);
	assert_int_equal(x.locks[1].end, 199);
	assert_string_equal(x.locks[2].lock_class, "POSIX");
	assert_int_equal(x.locks[2].pid, 4321);
	assert_int_equal(x.locks[2].dev_major, 0xfd);
	assert_int_equal(x.locks[2].inode, 77);
	assert_string_equal(x.locks[3].lock_class, "FLOCK"); /* the last line, without a newline */
	ins_fd_release(&fi);
	ins_fdinfo_extra_free(&x);
	assert_null(x.locks);
	assert_int_equal(x.n_locks, 0);

	/* a second parse into the same x starts afresh; no lock line, no lock */
	memset(&fi, 0, sizeof(fi));
	assert_int_equal(ins_parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t22\nino:\t6\nlocks:\t1\n", &fi, &x),
			 0);
	assert_int_equal(x.n_locks, 0);
	assert_int_equal(x.tty_index, -1);
	ins_fd_release(&fi);
	ins_fdinfo_extra_free(&x);
}

static void test_parse_mountinfo(void **state)
{
	static const char *const bad[] = {
		"36 35 98:0",
		"36 35 98:0 / /mnt rw - ext4 /dev/sda1",   /* no super options */
		"36 35 98:0 / /mnt rw master:1 ext4 a b",  /* no "-" */
		"x 35 98:0 / /mnt rw - ext4 /dev/sda1 rw", /* not a number */
		"36 35 98 / /mnt rw - ext4 /dev/sda1 rw",  /* no minor */
		"36 35 98:0:1 / /mnt rw - ext4 /dev/sda1 rw",
		"",
	};
	const char *line = "36 35 98:0 /mnt1\\134x /mnt/with\\040blank rw,noatime master:1 shared:2 - "
			   "ext3 /dev/root rw,errors=continue\n";
	crpc__mount m;

	(void)state;
	assert_int_equal(crpc__mountinfo_parse(line, strlen(line), &m), 0);
	assert_int_equal(m.id, 36);
	assert_int_equal(m.parent, 35);
	assert_int_equal(m.major, 98);
	assert_int_equal(m.minor, 0);
	assert_string_equal(m.root, "/mnt1\\x");
	assert_string_equal(m.mountpoint, "/mnt/with blank");
	assert_string_equal(m.options, "rw,noatime");
	assert_string_equal(m.fstype, "ext3");
	assert_string_equal(m.source, "/dev/root");
	assert_string_equal(m.super, "rw,errors=continue");
	crpc__mount_free(&m);
	assert_null(m.buf);

	/* an empty source, and a line cut short of its text (len) */
	line = "40 1 0:50 / /m rw - tmpfs  rw,size=4k XYZ";
	assert_int_equal(crpc__mountinfo_parse(line, strlen(line) - 4, &m), 0);
	assert_string_equal(m.source, "");
	assert_string_equal(m.super, "rw,size=4k");
	crpc__mount_free(&m);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(crpc__mountinfo_parse(bad[i], strlen(bad[i]), &m), -1);
		assert_int_equal(errno, EINVAL);
		assert_null(m.buf);
	}
}

static void test_line_next(void **state)
{
	const char *text = "a\n\nbc\nd", *cur = text, *l;
	size_t n;

	(void)state;
	assert_true(crpc__line_next(&cur, &l, &n));
	assert_int_equal(n, 1);
	assert_memory_equal(l, "a", 1);
	assert_true(crpc__line_next(&cur, &l, &n));
	assert_int_equal(n, 0);
	assert_true(crpc__line_next(&cur, &l, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(l, "bc", 2);
	assert_true(crpc__line_next(&cur, &l, &n));
	assert_int_equal(n, 1);
	assert_memory_equal(l, "d", 1);
	assert_false(crpc__line_next(&cur, &l, &n));
	cur = "";
	assert_false(crpc__line_next(&cur, &l, &n));
}

static void test_classify(void **state)
{
	int fam;

	(void)state;
	assert_int_equal(ins_classify_link("socket:[12]"), CRPC_FD_SOCKET);
	assert_int_equal(ins_classify_link("pipe:[12]"), CRPC_FD_PIPE);
	assert_int_equal(ins_classify_link("anon_inode:[eventfd]"), CRPC_FD_EVENTFD);
	assert_int_equal(ins_classify_link("anon_inode:[signalfd]"), CRPC_FD_SIGNALFD);
	assert_int_equal(ins_classify_link("anon_inode:[timerfd]"), CRPC_FD_TIMERFD);
	assert_int_equal(ins_classify_link("anon_inode:inotify"), CRPC_FD_INOTIFY);
	assert_int_equal(ins_classify_link("anon_inode:[fanotify]"), CRPC_FD_FANOTIFY);
	assert_int_equal(ins_classify_link("anon_inode:[eventpoll]"), CRPC_FD_EPOLL);
	assert_int_equal(ins_classify_link("anon_inode:[io_uring]"), CRPC_FD_IO_URING);
	assert_int_equal(ins_classify_link("anon_inode:[userfaultfd]"), CRPC_FD_USERFAULTFD);
	assert_int_equal(ins_classify_link("anon_inode:[pidfd]"), CRPC_FD_PIDFD);
	assert_int_equal(ins_classify_link("anon_inode:[perf_event]"), CRPC_FD_ANON);
	assert_int_equal(ins_classify_link("/memfd:x (deleted)"), CRPC_FD_MEMFD);
	assert_int_equal(ins_classify_link("net:[4026531840]"), CRPC_FD_NSFILE);
	assert_int_equal(ins_classify_link("/etc/passwd"), CRPC_FD_UNKNOWN);
	assert_int_equal(ins_classify_proto("TCP", &fam), CRPC_FD_TCP);
	assert_int_equal(fam, AF_INET);
	assert_int_equal(ins_classify_proto("TCPv6", &fam), CRPC_FD_TCP);
	assert_int_equal(fam, AF_INET6);
	assert_int_equal(ins_classify_proto("UDPv6", &fam), CRPC_FD_UDP);
	assert_int_equal(ins_classify_proto("UNIX-STREAM", &fam), CRPC_FD_UNIX);
	assert_int_equal(ins_classify_proto("NETLINK", &fam), CRPC_FD_NETLINK);
	assert_int_equal(ins_classify_proto("MPTCP", &fam), CRPC_FD_SOCKET);
	assert_int_equal(ins_classify_proto("AF_VSOCK", &fam), CRPC_FD_SOCKET);
	assert_string_equal(crpc_fd_type_name(CRPC_FD_IO_URING), "io_uring");
	assert_string_equal(crpc_fd_type_name(CRPC_FD_PTY), "pty");
	assert_string_equal(crpc_peer_name(CRPC_PEER_OUTSIDE), "outside");
	assert_string_equal(crpc_tcp_state_name(1), "ESTABLISHED");
	assert_string_equal(crpc_tcp_state_name(10), "LISTEN");
	assert_string_equal(crpc_tcp_state_name(99), "?");
}

static void test_map(void **state)
{
	ins_map m = { 0 };
	uint64_t v;

	(void)state;
	for (uint64_t k = 1; k <= 5000; k++)
		assert_int_equal(ins_map_put(&m, k * 7919, k), 0);
	assert_int_equal(m.n, 5000);
	for (uint64_t k = 1; k <= 5000; k++) {
		assert_true(ins_map_get(&m, k * 7919, &v));
		assert_int_equal(v, k);
	}
	assert_false(ins_map_get(&m, 3, NULL));
	assert_int_equal(ins_map_put(&m, 7919, 42), 0);
	assert_true(ins_map_get(&m, 7919, &v));
	assert_int_equal(v, 42);
	assert_int_equal(m.n, 5000);
	ins_map_free(&m);
}

/* ---- the verdict on hand-made results ---- */

static crpc_inspect_result *fake_result(size_t nprocs)
{
	crpc_inspect_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->procs = calloc(nprocs, sizeof(*r->procs));
	assert_non_null(r->procs);
	r->n_procs = nprocs;
	for (size_t i = 0; i < nprocs; i++) {
		crpc_proc_info *p = &r->procs[i];

		p->pid = (pid_t)(1000 + i);
		p->ppid = i ? 1000 : 1;
		p->pgid = p->sid = 1000;
		p->state = 'S';
		snprintf(p->comm, sizeof(p->comm), "p%zu", i);
		p->parent = i ? 0 : (size_t)-1;
		for (int t = 0; t < CRPC_NS__COUNT; t++)
			p->ns[t] = 4026531800u + (unsigned)t;
		p->ns[CRPC_NS_TIME_FOR_CHILDREN] = p->ns[CRPC_NS_TIME];
		p->ns[CRPC_NS_PID_FOR_CHILDREN] = p->ns[CRPC_NS_PID];
	}
	memcpy(r->self_ns, r->procs[0].ns, sizeof(r->self_ns));
	r->root = 1000;
	return r;
}

static crpc_fd_info *add_fd(crpc_proc_info *p, crpc_fd_type type, int fd)
{
	crpc_fd_info *fi;

	p->fds = realloc(p->fds, (p->n_fds + 1) * sizeof(*p->fds));
	assert_non_null(p->fds);
	fi = &p->fds[p->n_fds++];
	memset(fi, 0, sizeof(*fi));
	fi->fd = fd;
	fi->type = type;
	fi->mount_id = -1;
	fi->pty_index = -1;
	return fi;
}

static const crpc_verdict_item *find_item(const crpc_verdict_item *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static void test_verdict_zombie_kthread(void **state)
{
	crpc_inspect_result *r = fake_result(1);
	crpc_verdict v;

	(void)state;
	r->procs[0].zombie = true;
	r->procs[0].state = 'Z';
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_non_null(find_item(v.blockers, v.n_blockers, "zombie-root"));
	crpc_verdict_release(&v);
	r->procs[0].zombie = false;
	r->procs[0].kernel_thread = true;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_int_equal(v.n_blockers, 1);
	assert_non_null(
		strstr(find_item(v.blockers, v.n_blockers, "kernel-thread")->reason, "kernel thread"));
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
}

static void test_verdict_options(void **state)
{
	crpc_inspect_result *r = fake_result(2);
	crpc_verdict v;
	crpc_fd_info *fi;
	const crpc_verdict_item *it;

	(void)state;
	r->procs[0].sid = 900; /* session led from outside */
	r->procs[1].sid = 900;
	fi = add_fd(&r->procs[0], CRPC_FD_TCP, 3);
	fi->family = AF_INET;
	fi->state = 1;
	snprintf(fi->local.addr, sizeof(fi->local.addr), "127.0.0.1");
	fi->local.port = 5000;
	snprintf(fi->remote.addr, sizeof(fi->remote.addr), "127.0.0.1");
	fi->remote.port = 41234;
	fi = add_fd(&r->procs[1], CRPC_FD_TCP, 4); /* the other end */
	fi->state = 1;
	fi = add_fd(&r->procs[0], CRPC_FD_TCP, 5);
	fi->state = 10;
	fi->rx_queue = 2;
	fi = add_fd(&r->procs[1], CRPC_FD_UNIX, 6);
	fi->sock_type = SOCK_STREAM;
	fi->inode = 4242;
	fi->peer = CRPC_PEER_OUTSIDE;
	fi = add_fd(&r->procs[1], CRPC_FD_UNIX, 7);
	fi->sock_type = SOCK_DGRAM;
	fi->inode = 4343;
	fi->peer = CRPC_PEER_OUTSIDE;
	fi->peer_name = strdup("/dev/log");
	fi = add_fd(&r->procs[1], CRPC_FD_FILE, 8);
	fi->deleted = true;
	fi->nlink = 0;
	fi->blocks_bytes = 3u << 20;
	fi->path = strdup("/tmp/big");
	fi = add_fd(&r->procs[1], CRPC_FD_FILE, 9);
	fi->deleted = true;
	fi->nlink = 2;
	fi->path = strdup("/tmp/linked");
	fi = add_fd(&r->procs[0], CRPC_FD_PTY, 0);
	fi->pty_index = 3;
	fi->path = strdup("/dev/pts/3");
	fi = add_fd(&r->procs[0], CRPC_FD_PIPE, 1);
	fi->peer = CRPC_PEER_OUTSIDE;
	r->locks = calloc(1, sizeof(*r->locks));
	r->n_locks = 1;
	r->locks[0].pid = 1001;
	snprintf(r->locks[0].lock_class, sizeof(r->locks[0].lock_class), "POSIX");
	snprintf(r->locks[0].mode, sizeof(r->locks[0].mode), "WRITE");

	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	for (size_t i = 0; i < v.n_blockers; i++)
		print_message("unexpected blocker %s: %s\n", v.blockers[i].name, v.blockers[i].reason);
	assert_int_equal(v.n_blockers, 0);
	it = find_item(v.options, v.n_options, "tcp_established");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "127.0.0.1:5000 -> 127.0.0.1:41234"));
	assert_non_null(strstr(it->reason, "(and 1 more)"));
	assert_int_equal(it->pid, 1000);
	assert_int_equal(it->fd, 3);
	assert_non_null(find_item(v.options, v.n_options, "tcp_skip_in_flight"));
	it = find_item(v.options, v.n_options, "external");
	assert_non_null(it);
	assert_int_equal(it->kind, CRPC_VALUE_STRING);
	assert_string_equal(it->s, "unix[4242]");
	assert_non_null(find_item(v.options, v.n_options, "ext_unix_sk"));
	it = find_item(v.options, v.n_options, "ghost_limit");
	assert_non_null(it);
	assert_int_equal(it->u, 3u << 20);
	assert_non_null(find_item(v.options, v.n_options, "link_remap"));
	assert_non_null(find_item(v.options, v.n_options, "shell_job"));
	assert_non_null(find_item(v.options, v.n_options, "file_locks"));
	assert_non_null(find_item(v.warnings, v.n_warnings, "pipe-outside"));
	assert_non_null(find_item(v.warnings, v.n_warnings, "unix-external"));
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
}

static void test_verdict_blockers(void **state)
{
	crpc_inspect_result *r = fake_result(2);
	crpc_verdict v;
	crpc_fd_info *fi;

	(void)state;
	r->procs[1].threads = calloc(1, sizeof(*r->procs[1].threads));
	r->procs[1].n_threads = 1;
	r->procs[1].threads[0].tid = 1001;
	r->procs[1].threads[0].tracer_pid = 1; /* traced */
	add_fd(&r->procs[0], CRPC_FD_IO_URING, 3);
	fi = add_fd(&r->procs[0], CRPC_FD_FILE, 4);
	fi->deleted = true;
	fi->blocks_bytes = 5ull << 30;
	fi = add_fd(&r->procs[0], CRPC_FD_SOCKET, 5);
	fi->protocol = strdup("MPTCP");
	fi = add_fd(&r->procs[0], CRPC_FD_PTY, 6);
	fi->pty_index = 1;
	fi = add_fd(&r->procs[1], CRPC_FD_PTY, 7);
	fi->pty_index = 2;
	r->procs[1].ns[CRPC_NS_UTS] = 1; /* nested */
	r->missing_features = calloc(1, sizeof(char *));
	r->missing_features[0] = strdup("TCP repair mode");
	r->n_missing_features = 1;

	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_non_null(find_item(v.blockers, v.n_blockers, "traced"));
	assert_non_null(find_item(v.blockers, v.n_blockers, "io_uring"));
	assert_non_null(find_item(v.blockers, v.n_blockers, "ghost-too-large"));
	assert_non_null(find_item(v.blockers, v.n_blockers, "unsupported-fd"));
	assert_non_null(find_item(v.blockers, v.n_blockers, "external-ttys"));
	assert_non_null(find_item(v.blockers, v.n_blockers, "nested-namespace"));
	assert_non_null(find_item(v.blockers, v.n_blockers, "kernel-feature"));
	crpc_verdict_release(&v);

	/* a pty pair inside the tree needs nothing */
	r->procs[1].fds[0].pty_master = true;
	r->procs[1].fds[0].pty_index = 1;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_null(find_item(v.blockers, v.n_blockers, "external-ttys"));
	assert_null(find_item(v.options, v.n_options, "shell_job"));
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
}

/* session 0: no leader to be seen (an init without setsid, a parent PID namespace); no option helps */
static void test_verdict_session_outside(void **state)
{
	crpc_inspect_result *r = fake_result(3);
	const crpc_verdict_item *b;
	crpc_verdict v;

	(void)state;
	r->procs[1].sid = 0;
	r->procs[2].sid = 0;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_int_equal(v.n_blockers, 1);
	b = find_item(v.blockers, v.n_blockers, "session-zero");
	assert_non_null(b);
	assert_int_equal(b->pid, 1001);
	assert_non_null(strstr(b->reason, "PID 1001 (p1)"));
	assert_non_null(strstr(b->reason, "and 1 more"));
	assert_non_null(strstr(b->reason, "setsid"));
	crpc_verdict_release(&v);

	/* the root alone: blocked, and shell_job is not offered as a remedy */
	r->procs[1].sid = r->procs[2].sid = 1000;
	r->procs[0].sid = 0;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_non_null(find_item(v.blockers, v.n_blockers, "session-zero"));
	assert_null(find_item(v.options, v.n_options, "shell_job"));
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
}

/* A tree in namespaces of its own: what the verdict makes of r->nst. */
static void test_verdict_own_namespaces(void **state)
{
	crpc_inspect_result *r = fake_result(2);
	crpc_ns_tree *t = &r->nst;
	const crpc_verdict_item *it;
	crpc_verdict v;

	(void)state;
	/* the root is in a PID namespace without being its init: only that blocker, naming the init */
	r->self_ns[CRPC_NS_PID] = 1;
	t->own = 1u << CRPC_NS_PID;
	r->procs[0].ns_pid = 7;
	t->pid_ns_init = 900;
	snprintf(t->pid_ns_init_comm, sizeof(t->pid_ns_init_comm), "sandbox");
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	it = find_item(v.blockers, v.n_blockers, "pid-namespace");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "crpc dump 900 DIR"));
	assert_non_null(strstr(it->reason, "PID 7"));
	crpc_verdict_release(&v);

	/* its init: mounts, files from outside, veths, sharers */
	t->pid_init = true;
	t->pid_ns_init = 0;
	r->procs[0].ns_pid = 1;
	r->self_ns[CRPC_NS_MNT] = r->self_ns[CRPC_NS_NET] = 1;
	t->own |= 1u << CRPC_NS_MNT | 1u << CRPC_NS_NET;
	t->mounts = calloc(3, sizeof(*t->mounts));
	assert_non_null(t->mounts);
	t->n_mounts = 3;
	t->mounts[0] = (crpc_ns_mount){ .id = 1,
					.mountpoint = strdup("/"),
					.fstype = strdup("ext4"),
					.how = CRPC_NS_MOUNT_EXTERNAL,
					.source = strdup("/") };
	t->mounts[1] = (crpc_ns_mount){ .id = 2,
					.mountpoint = strdup("/dev"),
					.fstype = strdup("devtmpfs"),
					.how = CRPC_NS_MOUNT_EXTERNAL,
					.source = strdup("/dev") };
	t->mounts[2] = (crpc_ns_mount){ .id = 3,
					.mountpoint = strdup("/mnt/img"),
					.fstype = strdup("squashfs"),
					.how = CRPC_NS_MOUNT_UNSUPPORTED };
	t->files = calloc(1, sizeof(*t->files));
	assert_non_null(t->files);
	t->n_files = 1;
	t->files[0] = (crpc_ns_file){ .pid = 1000,
				      .fd = 0,
				      .mount_id = 24,
				      .inode = 3,
				      .path = strdup("/dev/null") };
	snprintf(t->files[0].key, sizeof(t->files[0].key), "file[18:3]");
	t->netdevs = calloc(2, sizeof(*t->netdevs));
	assert_non_null(t->netdevs);
	t->n_netdevs = 2;
	t->netdevs[0] = (crpc_ns_netdev){
		.name = "v0",
		.kind = "veth",
		.peer_outside = true,
		.peer_here = true,
		.peer_name = "v0h",
		.peer_addrs = "10.1.0.1/30"
	};
	t->netdevs[1] = (crpc_ns_netdev){ .name = "v1", .kind = "veth", .peer_outside = true };
	t->sharers = calloc(2, sizeof(*t->sharers));
	assert_non_null(t->sharers);
	t->n_sharers = 2;
	t->sharers[0] = (crpc_ns_sharer){ .type = CRPC_NS_MNT, .pid = 899, .comm = "unshare", .ancestor = true };
	t->sharers[1] = (crpc_ns_sharer){ .type = CRPC_NS_NET, .pid = 2000, .comm = "other" };
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_null(find_item(v.blockers, v.n_blockers, "pid-namespace"));
	assert_non_null(find_item(v.options, v.n_options, "auto_ext_mnt"));
	assert_non_null(find_item(v.options, v.n_options, "ext_sharing"));
	assert_non_null(find_item(v.options, v.n_options, "ext_masters"));
	it = find_item(v.options, v.n_options, "external");
	assert_non_null(it);
	assert_string_equal(it->s, "file[18:3]");
	assert_non_null(
		strstr(find_item(v.options, v.n_options, "auto_ext_mnt")->reason, "1 of its 3 mounts"));
	it = find_item(v.blockers, v.n_blockers, "mount");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "/mnt/img"));
	it = find_item(v.warnings, v.n_warnings, "veth-peer");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "v0h"));
	assert_non_null(strstr(it->reason, "10.1.0.1/30"));
	it = find_item(v.blockers, v.n_blockers, "veth-peer");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "v1"));
	/* the process that made the namespaces is no blocker; another one sharing it is */
	it = find_item(v.blockers, v.n_blockers, "namespace-shared");
	assert_non_null(it);
	assert_int_equal(it->pid, 2000);
	assert_non_null(strstr(it->reason, "net namespace"));
	assert_null(strstr(it->reason, "899"));
	assert_null(find_item(v.blockers, v.n_blockers, "session-outside"));
	crpc_verdict_release(&v);

	/* a session led from outside the PID namespace */
	t->n_session_outside = 2;
	t->session_outside_pid = 1001;
	t->session_outside_sid = 880;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	it = find_item(v.blockers, v.n_blockers, "session-outside");
	assert_non_null(it);
	assert_int_equal(it->pid, 1001);
	assert_non_null(strstr(it->reason, "session 880"));
	assert_non_null(strstr(it->reason, "and 1 more"));
	crpc_verdict_release(&v);

	/* a user namespace of its own, root mapped: no blocker of its own, a warning */
	r->self_ns[CRPC_NS_USER] = 1;
	t->own |= 1u << CRPC_NS_USER;
	t->userns_uid0 = 20000;
	t->userns_gid0 = 400000;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	assert_null(find_item(v.blockers, v.n_blockers, "user-namespace"));
	assert_null(find_item(v.blockers, v.n_blockers, "user-namespace-mounts"));
	it = find_item(v.warnings, v.n_warnings, "user-namespace");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "gid 0 is 400000"));
	assert_non_null(strstr(it->reason, "lets that gid read"));
	crpc_verdict_release(&v);

	/* an external mount whose source has mounts beneath it: CRIU cannot bind it there */
	t->mounts[1].beneath = strdup("/dev/pts");
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	it = find_item(v.blockers, v.n_blockers, "user-namespace-mounts");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "mount /dev of the tree"));
	assert_non_null(strstr(it->reason, "(/dev/pts)"));
	crpc_verdict_release(&v);

	/* the root only */
	free(t->mounts[1].beneath);
	t->mounts[1].beneath = NULL;
	t->root_beneath = strdup("/proc");
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	it = find_item(v.blockers, v.n_blockers, "user-namespace-mounts");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "root / has mounts beneath it"));
	assert_non_null(strstr(it->reason, "(/proc)"));
	crpc_verdict_release(&v);

	/* uid 0 not mapped: CRIU's restore cannot become it */
	free(t->root_beneath);
	t->root_beneath = NULL;
	t->userns_uid0 = -1;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);
	it = find_item(v.blockers, v.n_blockers, "user-namespace");
	assert_non_null(it);
	assert_non_null(strstr(it->reason, "uid 0 is not mapped"));
	assert_null(find_item(v.blockers, v.n_blockers, "user-namespace-mounts"));
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
}

static const crpc_opt_reason *find_reason(const crpc_opt_reasons *l, const char *opt)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].option, opt) == 0)
			return &l->v[i];
	return NULL;
}

static void test_apply_user_wins(void **state)
{
	crpc_inspect_result *r = fake_result(1);
	crpc_verdict v;
	crpc_fd_info *fi;
	crpc_opts user, config, eff;
	crpc_opt_reasons reasons = { 0 };
	const crpc_opt_reason *e;

	(void)state;
	r->procs[0].sid = 1;
	fi = add_fd(&r->procs[0], CRPC_FD_TCP, 3);
	fi->state = 1;
	fi = add_fd(&r->procs[0], CRPC_FD_FILE, 4);
	fi->deleted = true;
	fi->blocks_bytes = 5u << 20;
	fi = add_fd(&r->procs[0], CRPC_FD_UNIX, 5);
	fi->sock_type = SOCK_STREAM;
	fi->inode = 77;
	fi->peer = CRPC_PEER_OUTSIDE;
	assert_int_equal(crpc_inspect_verdict(r, &v, NULL), 0);

	crpc_opts_init(&user);
	crpc_opts_init(&config);
	crpc_opts_init(&eff);
	user.tcp_close = true;       /* instead of tcp_established */
	user.ghost_limit_set = true; /* smaller than needed: kept */
	user.ghost_limit = 1u << 20;
	config.file_locks = true;
	assert_int_equal(crpc_opts_add_external(&user, "unix[77]", NULL), 0);
	eff.tcp_close = true;
	eff.ghost_limit_set = true;
	eff.ghost_limit = 1u << 20;
	eff.file_locks = true;
	assert_int_equal(crpc_opts_add_external(&eff, "unix[77]", NULL), 0);

	assert_int_equal(crpc_inspect_apply(&v, &user, &config, &eff, &reasons, NULL), 0);
	assert_false(eff.tcp_established);
	assert_int_equal(eff.ghost_limit, 1u << 20);
	assert_true(eff.shell_job);          /* added */
	assert_int_equal(eff.n_external, 1); /* not added twice */
	e = find_reason(&reasons, "shell_job");
	assert_non_null(e);
	assert_int_equal(e->source, CRPC_OPT_SOURCE_AUTO);
	e = find_reason(&reasons, "ghost_limit");
	assert_non_null(e);
	assert_int_equal(e->source, CRPC_OPT_SOURCE_USER);
	assert_true(e->overrides);
	assert_string_equal(e->value, "1048576");
	e = find_reason(&reasons, "tcp_established");
	assert_non_null(e);
	assert_string_equal(e->value, "false");
	e = find_reason(&reasons, "file_locks");
	assert_non_null(e);
	assert_int_equal(e->source, CRPC_OPT_SOURCE_CONFIG);
	e = find_reason(&reasons, "external");
	assert_non_null(e);
	assert_int_equal(e->source, CRPC_OPT_SOURCE_USER);
	assert_string_equal(crpc_opt_source_name(CRPC_OPT_SOURCE_AUTO), "auto");
	crpc_opt_reasons_release(&reasons);
	crpc_opts_release(&eff);
	crpc_opts_release(&user);

	/* nothing given: everything automatic */
	crpc_opts_init(&eff);
	assert_int_equal(crpc_inspect_apply(&v, NULL, NULL, &eff, &reasons, NULL), 0);
	assert_true(eff.tcp_established);
	assert_true(eff.ghost_limit_set);
	assert_int_equal(eff.ghost_limit, 5u << 20);
	assert_int_equal(eff.n_external, 1);
	assert_string_equal(eff.external[0], "unix[77]");
	for (size_t i = 0; i < reasons.n; i++)
		assert_int_equal(reasons.v[i].source, CRPC_OPT_SOURCE_AUTO);
	crpc_opt_reasons_release(&reasons);
	crpc_opts_release(&eff);
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
}

/* ---- a live inspection ---- */

static const crpc_fd_info *fd_of(const crpc_proc_info *p, int fd)
{
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].fd == fd)
			return &p->fds[i];
	return NULL;
}

static void test_live_self(void **state)
{
	char path[] = "/tmp/crpc-test-inspect.XXXXXX";
	int pfd[2], sp[2], efd, tfd, epfd, mfd, del, lk;
	crpc_inspect_result *r = NULL;
	crpc_error *err = NULL;
	const crpc_proc_info *p;
	const crpc_fd_info *fi;
	char buf[4096];
	struct epoll_event ev = { .events = EPOLLIN };

	(void)state;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	efd = eventfd(5, EFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_int_equal(epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev), 0);
	mfd = memfd_create("crpc-test", MFD_CLOEXEC);
	assert_true(efd >= 0 && tfd >= 0 && epfd >= 0 && mfd >= 0);
	assert_int_equal(write(mfd, "hello", 5), 5);
	del = mkstemp(path);
	assert_true(del >= 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(write(del, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(unlink(path), 0);
	lk = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(lk >= 0);
	assert_int_equal(flock(del, LOCK_EX), 0);

	assert_int_equal(crpc_inspect_tree(getpid(), CRPC_INSPECT_NO_KERNEL_CHECKS, &r, &err), 0);
	assert_null(err);
	assert_true(r->n_procs >= 1);
	p = &r->procs[0];
	assert_int_equal(p->pid, getpid());
	assert_int_equal(p->state, 'R');
	assert_true(p->n_threads >= 1);
	assert_true(p->mem.rss > 0);

	fi = fd_of(p, pfd[0]);
	assert_non_null(fi);
	assert_int_equal(fi->type, CRPC_FD_PIPE);
	assert_int_equal(fi->peer, CRPC_PEER_INSIDE); /* both ends here */
	fi = fd_of(p, sp[0]);
	assert_non_null(fi);
	assert_int_equal(fi->type, CRPC_FD_UNIX);
	assert_int_equal(fi->sock_type, SOCK_STREAM);
	assert_int_equal(fi->peer, CRPC_PEER_INSIDE);
	assert_int_equal(fi->peer_inode, fd_of(p, sp[1])->inode);
	fi = fd_of(p, efd);
	assert_int_equal(fi->type, CRPC_FD_EVENTFD);
	assert_int_equal(fi->count, 5);
	assert_int_equal(fd_of(p, tfd)->type, CRPC_FD_TIMERFD);
	fi = fd_of(p, epfd);
	assert_int_equal(fi->type, CRPC_FD_EPOLL);
	assert_int_equal(fi->n_targets, 1);
	assert_int_equal(fi->targets[0], efd);
	fi = fd_of(p, mfd);
	assert_int_equal(fi->type, CRPC_FD_MEMFD);
	assert_string_equal(fi->name, "crpc-test");
	assert_int_equal(fi->size, 5);
	fi = fd_of(p, del);
	assert_int_equal(fi->type, CRPC_FD_FILE);
	assert_true(fi->deleted);
	assert_int_equal(fi->nlink, 0);
	assert_string_equal(fi->path, path);
	assert_int_equal(fi->size, (int64_t)sizeof(buf));
	assert_non_null(fi->mount);
	fi = fd_of(p, lk);
	assert_int_equal(fi->type, CRPC_FD_FILE);
	assert_false(fi->deleted);
	/* the flock shows up as a lock of this process on that fd */
	assert_true(r->n_locks >= 1);
	{
		bool found = false;

		for (size_t i = 0; i < r->n_locks; i++)
			if (r->locks[i].pid == getpid() && r->locks[i].fd == del)
				found = strcmp(r->locks[i].lock_class, "FLOCK") == 0;
		assert_true(found);
	}
	crpc_inspect_free(r);
	close(pfd[0]);
	close(pfd[1]);
	close(sp[0]);
	close(sp[1]);
	close(efd);
	close(tfd);
	close(epfd);
	close(mfd);
	close(del);
	close(lk);
}

/* The locks of this process on fd, of class cls (FLOCK, POSIX, ...), in r. */
static size_t locks_on(const crpc_inspect_result *r, int fd, const char *cls)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_locks; i++)
		n += r->locks[i].pid == getpid() && r->locks[i].fd == fd &&
		     strcmp(r->locks[i].lock_class, cls) == 0;
	return n;
}

/*
 * CRPC_INSPECT_FDINFO_LOCKS: the locks held through descriptors come from
 * fdinfo, each once (a dup shows them too); a flock kept only by a mapping
 * is listed from /proc/locks without the flag (no fd), not with it.
 */
static void test_fdinfo_locks(void **state)
{
	char fpath[] = "/tmp/crpc-test-flock.XXXXXX", ppath[] = "/tmp/crpc-test-posix.XXXXXX",
	     mpath[] = "/tmp/crpc-test-mapped.XXXXXX";
	struct flock pl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	crpc_inspect_result *r = NULL;
	crpc_error *err = NULL;
	int ffd, dupfd, pfd, mfd;
	void *map;

	(void)state;
	ffd = mkstemp(fpath);
	pfd = mkstemp(ppath);
	mfd = mkstemp(mpath);
	assert_true(ffd >= 0 && pfd >= 0 && mfd >= 0);
	assert_int_equal(flock(ffd, LOCK_EX), 0);
	dupfd = dup(ffd);
	assert_true(dupfd >= 0);
	assert_int_equal(fcntl(pfd, F_SETLK, &pl), 0);
	assert_int_equal(ftruncate(mfd, 4096), 0);
	assert_int_equal(flock(mfd, LOCK_SH), 0);
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd, 0);
	assert_true(map != MAP_FAILED);
	close(mfd); /* the flock stays, held by the mapping's file */

	assert_int_equal(crpc_inspect_tree(getpid(), CRPC_INSPECT_NO_KERNEL_CHECKS | CRPC_INSPECT_FDINFO_LOCKS,
					   &r, &err),
			 0);
	assert_null(err);
	assert_int_equal(locks_on(r, ffd, "FLOCK") + locks_on(r, dupfd, "FLOCK"), 1);
	assert_int_equal(locks_on(r, pfd, "POSIX"), 1);
	assert_int_equal(locks_on(r, -1, "FLOCK"), 0);
	for (size_t i = 0; i < r->n_locks; i++)
		if (r->locks[i].fd == pfd)
			assert_string_equal(r->locks[i].path, ppath);
	crpc_inspect_free(r);

	r = NULL;
	assert_int_equal(crpc_inspect_tree(getpid(), CRPC_INSPECT_NO_KERNEL_CHECKS, &r, &err), 0);
	assert_int_equal(locks_on(r, pfd, "POSIX"), 1);
	assert_int_equal(locks_on(r, -1, "FLOCK"), 1); /* the mapped one, from /proc/locks */
	crpc_inspect_free(r);

	munmap(map, 4096);
	unlink(fpath);
	unlink(ppath);
	unlink(mpath);
	close(ffd);
	close(dupfd);
	close(pfd);
}

static void test_live_child_and_errors(void **state)
{
	crpc_inspect_result *r = NULL;
	crpc_error *err = NULL;
	int pfd[2];
	pid_t c;

	(void)state;
	/* a child holding the read end: the pipe is shared inside the tree */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		/* never outlive the test, even when an assertion ends it early */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		close(pfd[1]);
		close(1);
		close(2);
		pause();
		_exit(0);
	}
	close(pfd[0]);
	for (int i = 0; i < 200; i++) { /* until the child closed its write end */
		char p[64], l[64];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)c, pfd[1]);
		n = readlink(p, l, sizeof(l));
		if (n < 0)
			break;
		usleep(5000);
	}
	assert_int_equal(crpc_inspect_tree(getpid(), CRPC_INSPECT_NO_KERNEL_CHECKS, &r, &err), 0);
	assert_true(r->n_procs >= 2);
	assert_int_equal(r->procs[1].pid, c);
	assert_int_equal(r->procs[1].ppid, getpid());
	assert_int_equal(r->procs[1].parent, 0);
	assert_int_equal(fd_of(&r->procs[0], pfd[1])->peer, CRPC_PEER_INSIDE);
	crpc_inspect_free(r);
	r = NULL;

	/* the child alone: its pipe's other end is outside */
	assert_int_equal(crpc_inspect_tree(c, CRPC_INSPECT_NO_KERNEL_CHECKS | CRPC_INSPECT_PEER_PIDS, &r,
					   &err),
			 0);
	assert_int_equal(r->n_procs, 1);
	{
		const crpc_fd_info *fi = fd_of(&r->procs[0], pfd[0]);

		assert_non_null(fi);
		assert_int_equal(fi->peer, CRPC_PEER_OUTSIDE);
		assert_int_equal(fi->n_peer_pids, 1);
		assert_int_equal(fi->peer_pids[0], getpid());
	}
	crpc_inspect_free(r);
	r = NULL;
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	close(pfd[1]);

	/* gone */
	assert_int_equal(crpc_inspect_tree(c, 0, &r, &err), -1);
	assert_null(r);
	assert_non_null(err);
	assert_int_equal(err->sys_errno, ESRCH);
	assert_int_equal(err->cause, CRPC_CAUSE_NO_PROCESS);
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(crpc_inspect_tree(0, 0, &r, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	crpc_error_free(err);
}

/* crpc_task_status_read(): crpc itself, a stopped child, a zombie, nobody */
static void test_task_status(void **state)
{
	crpc_task_status st;
	pid_t kid;
	int status;

	(void)state;
	assert_int_equal(crpc_task_status_read(getpid(), &st), 0);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.tgid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.sid, getsid(0));
	assert_int_equal(st.pgid, getpgrp());
	assert_int_equal(st.state, 'R');
	assert_false(st.kernel_thread);
	assert_string_equal(st.comm, "test_inspect");

	kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(kill(kid, SIGSTOP), 0);
	assert_int_equal(waitpid(kid, &status, WUNTRACED), kid);
	assert_int_equal(crpc_task_status_read(kid, &st), 0);
	assert_int_equal(st.state, 'T');
	assert_int_equal(st.ppid, getpid());
	assert_int_equal(kill(kid, SIGKILL), 0);
	/* dead but not reaped: a zombie until waited for */
	while (crpc_task_status_read(kid, &st) == 0 && st.state != 'Z')
		usleep(1000);
	assert_int_equal(st.state, 'Z');
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_int_equal(crpc_task_status_read(kid, &st), -1);
	assert_true(errno == ENOENT || errno == ESRCH);
	assert_int_equal(crpc_task_status_read(0, &st), -1);
	assert_int_equal(errno, ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_parse_inet),
		cmocka_unit_test(test_parse_locks),
		cmocka_unit_test(test_parse_fdinfo),
		cmocka_unit_test(test_parse_fdinfo_locks),
		cmocka_unit_test(test_parse_mountinfo),
		cmocka_unit_test(test_line_next),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_verdict_zombie_kthread),
		cmocka_unit_test(test_verdict_options),
		cmocka_unit_test(test_verdict_blockers),
		cmocka_unit_test(test_verdict_session_outside),
		cmocka_unit_test(test_verdict_own_namespaces),
		cmocka_unit_test(test_apply_user_wins),
		cmocka_unit_test(test_live_self),
		cmocka_unit_test(test_fdinfo_locks),
		cmocka_unit_test(test_live_child_and_errors),
		cmocka_unit_test(test_task_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
