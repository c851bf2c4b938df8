/* SPDX-License-Identifier: MIT */
/*
 * inspect_fd.c - read and classify the open file descriptors of a process
 * (readlink, fdinfo, stat relative to its /proc/PID dirfd), the deleted
 * files it maps, and the mounts its files are on.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "inspect_int.h"
#include "internal.h"

/*
 * gcc 12's -fanalyzer loses track of memory stored into arrays that hang off
 * other heap objects (result->procs[i].fds[j].path and the like) and reports
 * each such store as a leak. The unit and integration tests run these paths
 * under AddressSanitizer's leak checker instead.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

#define DELETED_SUFFIX " (deleted)"

struct ins_mntns {
	uint64_t ns;
	pid_t pid;
	bool loaded;
	crpc__mount *mounts;
	size_t n_mounts;
};

/* ---- pure parsers --------------------------------------------------------------- */

crpc_fd_type ins_classify_link(const char *t)
{
	static const struct {
		const char *name;
		crpc_fd_type type;
	} anon[] = {
		{ "anon_inode:[eventfd]", CRPC_FD_EVENTFD },
		{ "anon_inode:[signalfd]", CRPC_FD_SIGNALFD },
		{ "anon_inode:[timerfd]", CRPC_FD_TIMERFD },
		{ "anon_inode:inotify", CRPC_FD_INOTIFY },
		{ "anon_inode:[fanotify]", CRPC_FD_FANOTIFY },
		{ "anon_inode:[eventpoll]", CRPC_FD_EPOLL },
		{ "anon_inode:[io_uring]", CRPC_FD_IO_URING },
		{ "anon_inode:[pidfd]", CRPC_FD_PIDFD },
		{ "anon_inode:[userfaultfd]", CRPC_FD_USERFAULTFD },
	};

	if (strncmp(t, "socket:[", 8) == 0)
		return CRPC_FD_SOCKET;
	if (strncmp(t, "pipe:[", 6) == 0)
		return CRPC_FD_PIPE;
	if (strncmp(t, "anon_inode:", 11) == 0) {
		for (size_t i = 0; i < sizeof(anon) / sizeof(anon[0]); i++)
			if (strcmp(t, anon[i].name) == 0)
				return anon[i].type;
		return CRPC_FD_ANON;
	}
	if (strncmp(t, "pidfd:", 6) == 0) /* pidfs */
		return CRPC_FD_PIDFD;
	if (strncmp(t, "/memfd:", 7) == 0)
		return CRPC_FD_MEMFD;
	if (t[0] != '/') {
		/* "net:[4026531840]": a namespace file */
		const char *b = strchr(t, ':');

		if (b && b[1] == '[' && b > t) {
			for (const char *q = t; q < b; q++)
				if (!islower((unsigned char)*q) && *q != '_')
					return CRPC_FD_UNKNOWN;
			return CRPC_FD_NSFILE;
		}
	}
	return CRPC_FD_UNKNOWN;
}

crpc_fd_type ins_classify_proto(const char *proto, int *family)
{
	static const struct {
		const char *name;
		crpc_fd_type type;
		int family;
	} tab[] = {
		{ "TCP", CRPC_FD_TCP, AF_INET },
		{ "TCPv6", CRPC_FD_TCP, AF_INET6 },
		{ "UDP", CRPC_FD_UDP, AF_INET },
		{ "UDPv6", CRPC_FD_UDP, AF_INET6 },
		{ "UDP-Lite", CRPC_FD_UDP, AF_INET },
		{ "UDPLITEv6", CRPC_FD_UDP, AF_INET6 },
		{ "RAW", CRPC_FD_RAW, AF_INET },
		{ "RAWv6", CRPC_FD_RAW, AF_INET6 },
		{ "PING", CRPC_FD_RAW, AF_INET },
		{ "PINGv6", CRPC_FD_RAW, AF_INET6 },
		{ "NETLINK", CRPC_FD_NETLINK, AF_NETLINK },
		{ "PACKET", CRPC_FD_PACKET, AF_PACKET },
	};

	*family = 0;
	if (strncmp(proto, "UNIX", 4) == 0) { /* "UNIX", "UNIX-STREAM", "UNIX-DGRAM" */
		*family = AF_UNIX;
		return CRPC_FD_UNIX;
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(proto, tab[i].name) == 0) {
			*family = tab[i].family;
			return tab[i].type;
		}
	if (strncmp(proto, "MPTCP", 5) == 0)
		*family = strstr(proto, "v6") ? AF_INET6 : AF_INET;
	return CRPC_FD_SOCKET;
}

/* Value after "key:" at the start of a line, or NULL. */
static const char *line_value(const char *line, const char *key)
{
	size_t kl = strlen(key);

	if (strncmp(line, key, kl) != 0 || line[kl] != ':')
		return NULL;
	line += kl + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/*
 * One "lock:" line (v: the text after "lock:"), in the format of /proc/locks,
 * into x->locks. The kernel lists there the locks held through this open
 * file: OFD and flock locks it owns, POSIX locks of the files_struct.
 */
static int add_fdinfo_lock(ins_fdinfo_extra *x, const char *v)
{
	char one[256];
	crpc_lock_info l;
	bool blocked;

	snprintf(one, sizeof(one), "%.*s", (int)strcspn(v, "\n"), v);
	if (ins_parse_lock_line(one, &l, &blocked) < 0 || blocked)
		return 0;
	if (INS_GROW(x->locks, &x->cap_locks, x->n_locks) < 0)
		return -1;
	x->locks[x->n_locks++] = l;
	return 0;
}

int ins_parse_fdinfo(const char *buf, crpc_fd_info *fi, ins_fdinfo_extra *x)
{
	const char *line = buf;
	size_t tcap = 0;

	memset(x, 0, sizeof(*x));
	x->tty_index = -1;
	while (line && *line) {
		const char *v;

		if ((v = line_value(line, "pos")))
			fi->pos = strtoull(v, NULL, 10);
		else if ((v = line_value(line, "flags")))
			fi->flags = (unsigned)strtoul(v, NULL, 8);
		else if ((v = line_value(line, "mnt_id")))
			fi->mount_id = (int)strtol(v, NULL, 10);
		else if ((v = line_value(line, "eventfd-count")))
			fi->count = strtoull(v, NULL, 16);
		else if ((v = line_value(line, "sigmask")))
			snprintf(fi->sigmask, sizeof(fi->sigmask), "%.*s", (int)strcspn(v, "\n"), v);
		else if ((v = line_value(line, "clockid")))
			fi->clockid = (int)strtol(v, NULL, 10);
		else if ((v = line_value(line, "ticks")))
			fi->ticks = strtoull(v, NULL, 10);
		else if ((v = line_value(line, "it_value")) || (v = line_value(line, "it_interval"))) {
			unsigned long long sec, nsec;

			/* "(SECONDS, NANOSECONDS)" */
			if (sscanf(v, "(%llu, %llu)", &sec, &nsec) == 2) {
				if (line[3] == 'v')
					fi->value_ns = sec * 1000000000ULL + nsec;
				else
					fi->interval_ns = sec * 1000000000ULL + nsec;
			}
		} else if ((v = line_value(line, "tty-index")))
			x->tty_index = (int)strtol(v, NULL, 10);
		else if ((v = line_value(line, "lock"))) {
			if (add_fdinfo_lock(x, v) < 0)
				return -1;
		} else if ((v = line_value(line, "tfd"))) {
			fi->watches++;
			if (INS_GROW(fi->targets, &tcap, fi->n_targets) < 0)
				return -1;
			fi->targets[fi->n_targets++] = (int)strtol(v, NULL, 10);
		} else if (strncmp(line, "inotify wd:", 11) == 0)
			fi->watches++;
		else if (strncmp(line, "fanotify ", 9) == 0 && strncmp(line, "fanotify flags:", 15) != 0)
			fi->watches++;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	fi->have_fdinfo = true;
	return 0;
}

void ins_fdinfo_extra_free(ins_fdinfo_extra *x)
{
	free(x->locks);
	x->locks = NULL;
	x->n_locks = x->cap_locks = 0;
}

/* ---- one fd ------------------------------------------------------------------------- */

/*
 * Whether the pty slave open as fd name of a process (fddir: its /proc/PID/fd)
 * has lost its master: the kernel refuses to open a pty whose other side is
 * closed everywhere (EIO). Opened without becoming a controlling terminal and
 * closed at once; a slave with a live master is left as it was.
 */
static bool pty_master_closed(int fddir, const char *name)
{
	int fd = openat(fddir, name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EIO;
}

static void classify_dev(crpc_fd_info *fi, const struct stat *st, int tty_index)
{
	unsigned maj = major(st->st_rdev), min = minor(st->st_rdev);

	fi->rdev = st->st_rdev;
	fi->pty_index = -1;
	if (S_ISBLK(st->st_mode)) {
		fi->type = CRPC_FD_DEVICE;
		fi->block_device = true;
		return;
	}
	if (maj >= 136 && maj <= 143) {
		fi->type = CRPC_FD_PTY;
		fi->pty_index = (int)((maj - 136) * 256 + min);
	} else if (maj == 5 && min == 2) {
		fi->type = CRPC_FD_PTY;
		fi->pty_master = true;
		fi->pty_index = tty_index;
	} else if (maj >= 128 && maj <= 135) { /* a legacy UNIX98 master major */
		fi->type = CRPC_FD_PTY;
		fi->pty_master = true;
		fi->pty_index = tty_index;
	} else if (maj == 2 || maj == 3) { /* BSD ptys */
		fi->type = CRPC_FD_PTY;
		fi->pty_master = maj == 2;
		fi->pty_index = (int)min;
	} else if (maj == 4 || maj == 5 || maj == 188 || maj == 204) {
		fi->type = CRPC_FD_TTY;
	} else {
		fi->type = CRPC_FD_DEVICE;
	}
}

static uint64_t link_inode(const char *t)
{
	const char *b = strchr(t, '[');

	return b ? strtoull(b + 1, NULL, 10) : 0;
}

static int set_path(crpc_fd_info *fi, const char *target)
{
	size_t len = strlen(target), sl = strlen(DELETED_SUFFIX);

	if (len > sl && strcmp(target + len - sl, DELETED_SUFFIX) == 0) {
		fi->deleted = true;
		len -= sl;
	}
	fi->path = strndup(target, len);
	return fi->path ? 0 : -1;
}

static void fill_stat(crpc_fd_info *fi, const struct stat *st)
{
	fi->inode = st->st_ino;
	fi->size = st->st_size;
	fi->blocks_bytes = (uint64_t)st->st_blocks * 512;
	fi->nlink = st->st_nlink;
	fi->dev = st->st_dev;
}

uint64_t ins_fifo_key(uint64_t dev, uint64_t ino)
{
	return (dev << 40) ^ ino ^ (1ULL << 63);
}

int ins_index_fds(ins_ctx *c)
{
	for (size_t pi = 0; pi < c->r->n_procs; pi++) {
		const crpc_proc_info *p = &c->r->procs[pi];

		for (size_t f = 0; f < p->n_fds; f++) {
			const crpc_fd_info *fi = &p->fds[f];
			ins_map *m = NULL;
			uint64_t key = fi->inode, bits = 0;

			if (fi->family || fi->protocol || fi->type == CRPC_FD_SOCKET) {
				if (ins_map_put(&c->sock_owner, fi->inode,
						((uint64_t)pi << 32 | (uint64_t)f) + 1) < 0)
					return -1;
				continue;
			}
			if (fi->type == CRPC_FD_PIPE) {
				m = &c->pipe_ends;
			} else if (fi->type == CRPC_FD_FIFO) {
				m = &c->fifo_ends;
				key = ins_fifo_key(fi->dev, fi->inode);
			} else {
				continue;
			}
			ins_map_get(m, key, &bits);
			if ((fi->flags & O_ACCMODE) != O_WRONLY)
				bits |= 1;
			if ((fi->flags & O_ACCMODE) != O_RDONLY)
				bits |= 2;
			if (ins_map_put(m, key, bits) < 0)
				return -1;
		}
	}
	return 0;
}

/*
 * Classify one fd; what its fdinfo holds beyond fi goes to x (the caller
 * frees it). Returns 0, 1 when the fd vanished (skip it), -1 on ENOMEM.
 */
static int read_one_fd(ins_ctx *c, crpc_proc_info *p, size_t pi, int fddir, int infodir, const char *name,
		       crpc_fd_info *fi, ins_fdinfo_extra *x)
{
	char link[PATH_MAX];
	struct stat st;
	ssize_t n;

	fi->fd = (int)strtol(name, NULL, 10);
	fi->mount_id = -1;
	fi->pty_index = -1;
	fi->size = -1;
	n = readlinkat(fddir, name, link, sizeof(link) - 1);
	if (n < 0)
		return 1; /* closed meanwhile, or the process went away */
	link[n] = '\0';
	fi->target = strdup(link);
	if (!fi->target)
		return -1;
	fi->type = ins_classify_link(link);
	/* fdinfo: flags, position, mount and the type's own state; sockets have nothing there we use */
	if (fi->type != CRPC_FD_SOCKET && infodir >= 0 &&
	    ins_read_at(infodir, name, c->buf, c->bufsz) >= 0 && ins_parse_fdinfo(c->buf, fi, x) < 0)
		return -1;

	switch (fi->type) {
	case CRPC_FD_SOCKET: {
		char path[320], proto[64];
		ssize_t pl;

		fi->inode = link_inode(link);
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)p->pid, name);
		pl = getxattr(path, "system.sockprotoname", proto, sizeof(proto) - 1);
		if (pl > 0) {
			proto[pl] = '\0';
			fi->protocol = strdup(proto);
			if (!fi->protocol)
				return -1;
			fi->type = ins_classify_proto(proto, &fi->family);
		}
		fi->peer = CRPC_PEER_UNKNOWN;
		return 0;
	}
	case CRPC_FD_PIPE:
		fi->inode = link_inode(link);
		return 0;
	case CRPC_FD_MEMFD:
		if (fstatat(fddir, name, &st, 0) == 0)
			fill_stat(fi, &st);
		{
			const char *nm = link + 7;
			size_t len = strlen(nm), sl = strlen(DELETED_SUFFIX);

			if (len > sl && strcmp(nm + len - sl, DELETED_SUFFIX) == 0)
				len -= sl;
			fi->name = strndup(nm, len);
			if (!fi->name)
				return -1;
		}
		return 0;
	case CRPC_FD_NSFILE:
		fi->path = strdup(link);
		return fi->path ? 0 : -1;
	case CRPC_FD_UNKNOWN:
		break;
	default: /* anon inodes: nothing more to read */
		return 0;
	}

	/* a path: what is it? */
	if (fstatat(fddir, name, &st, 0) < 0)
		return errno == ENOENT ? 1 : 0;
	fill_stat(fi, &st);
	if (link[0] == '/' && set_path(fi, link) < 0)
		return -1;
	if (S_ISREG(st.st_mode)) {
		fi->type = CRPC_FD_FILE;
	} else if (S_ISDIR(st.st_mode)) {
		fi->type = CRPC_FD_DIR;
	} else if (S_ISFIFO(st.st_mode)) {
		fi->type = CRPC_FD_FIFO;
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		classify_dev(fi, &st, x->tty_index);
		fi->deleted = false; /* devpts paths are not files */
		if (fi->type == CRPC_FD_PTY && !fi->pty_master && major(st.st_rdev) >= 136 &&
		    major(st.st_rdev) <= 143)
			fi->pty_master_closed = pty_master_closed(fddir, name);
	} else if (S_ISSOCK(st.st_mode)) {
		fi->type = CRPC_FD_SOCKET; /* a socket with a path target: should not happen */
	}
	return 0;
}

/*
 * Keep the OFD locks held through fd fi of procs[pi] for the lock list: only
 * fdinfo tells who holds one (/proc/locks shows pid -1). POSIX, flock locks
 * and leases come from /proc/locks, with their pid, unless the inspection
 * takes every lock from fdinfo (CRPC_INSPECT_FDINFO_LOCKS).
 */
static int keep_fd_locks(ins_ctx *c, size_t pi, const crpc_fd_info *fi, const ins_fdinfo_extra *x)
{
	bool all = c->flags & CRPC_INSPECT_FDINFO_LOCKS;
	ins_fd_locks *o;

	if (!c->fd_locks || pi >= c->n_fd_locks)
		return 0;
	o = &c->fd_locks[pi];
	for (size_t i = 0; i < x->n_locks; i++) {
		crpc_lock_info l = x->locks[i];

		if (!all && strcmp(l.lock_class, "OFDLCK") != 0)
			continue;
		if (INS_GROW(o->v, &o->cap, o->n) < 0)
			return -1;
		l.pid = c->r->procs[pi].pid;
		l.fd = fi->fd;
		o->v[o->n++] = l;
	}
	return 0;
}

/* Deleted files mapped into memory, from /proc/PID/maps (one entry per file). */
static int read_mapped_deleted(ins_ctx *c, crpc_proc_info *p, int piddir)
{
	size_t cap = 0;
	char *line, *save = NULL;
	ssize_t n;

	n = ins_read_at(piddir, "maps", c->buf, c->bufsz);
	if (n <= 0 || !strstr(c->buf, DELETED_SUFFIX))
		return 0;
	for (line = strtok_r(c->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char range[64], perms[8], path[PATH_MAX];
		unsigned long long off, ino;
		unsigned maj, min;
		int consumed = 0;
		size_t len, sl = strlen(DELETED_SUFFIX);
		crpc_fd_info *fi;
		bool dup = false;
		struct stat st;
		char mf[96];

		len = strlen(line);
		if (len <= sl || strcmp(line + len - sl, DELETED_SUFFIX) != 0)
			continue;
		if (sscanf(line, "%63s %7s %llx %x:%x %llu %n", range, perms, &off, &maj, &min, &ino,
			   &consumed) != 6 ||
		    !consumed)
			continue;
		snprintf(path, sizeof(path), "%.*s", (int)(len - sl - (size_t)consumed), line + consumed);
		if (path[0] != '/' || strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "/SYSV", 5) == 0 ||
		    strcmp(path, "/dev/zero") == 0 || ino == 0)
			continue;
		for (size_t i = 0; i < p->n_mapped_deleted; i++)
			if (p->mapped_deleted[i].inode == ino && major(p->mapped_deleted[i].dev) == maj &&
			    minor(p->mapped_deleted[i].dev) == min)
				dup = true;
		if (dup)
			continue;
		if (INS_GROW(p->mapped_deleted, &cap, p->n_mapped_deleted) < 0)
			return -1;
		fi = &p->mapped_deleted[p->n_mapped_deleted];
		memset(fi, 0, sizeof(*fi));
		fi->fd = -1;
		fi->type = CRPC_FD_FILE;
		fi->deleted = true;
		fi->mount_id = -1;
		fi->pty_index = -1;
		fi->inode = ino;
		fi->dev = makedev(maj, min);
		fi->size = -1;
		fi->path = strdup(path);
		if (!fi->path)
			return -1;
		snprintf(mf, sizeof(mf), "map_files/%s", range);
		if (fstatat(piddir, mf, &st, 0) == 0)
			fill_stat(fi, &st);
		else
			fi->nlink = 0; /* unknown: treated as fully deleted */
		p->n_mapped_deleted++;
	}
	return 0;
}

int ins_read_fds(ins_ctx *c, size_t pi, int piddir, crpc_error **err)
{
	crpc_proc_info *p = &c->r->procs[pi];
	char dents[16384];
	bool last = false;
	int fddir, infodir;
	size_t cap = 0;

	fddir = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fddir < 0) {
		if (errno == ENOENT || errno == ESRCH) {
			p->gone = true;
			return 0;
		}
		p->fds_unreadable = true;
		p->fds_errno = errno;
		return 0;
	}
	infodir = openat(piddir, "fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (;;) {
		ssize_t n = getdents64(fddir, dents, sizeof(dents));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == ENOENT || errno == ESRCH)
				p->gone = true;
			break;
		}
		if (n == 0)
			break;
		last = (size_t)n + 512 < sizeof(dents); /* a short listing was the end */
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(dents + off);
			ins_fdinfo_extra x = { .tty_index = -1 };
			crpc_fd_info *fi;
			int rc;

			off += de->d_reclen;
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			if (INS_GROW(p->fds, &cap, p->n_fds) < 0)
				goto oom;
			fi = &p->fds[p->n_fds];
			memset(fi, 0, sizeof(*fi));
			rc = read_one_fd(c, p, pi, fddir, infodir, de->d_name, fi, &x);
			if (rc == 0 && keep_fd_locks(c, pi, fi, &x) < 0)
				rc = -1;
			ins_fdinfo_extra_free(&x);
			if (rc < 0) {
				ins_fd_release(fi);
				goto oom;
			}
			if (rc > 0) {
				ins_fd_release(fi);
				memset(fi, 0, sizeof(*fi));
				continue;
			}
			p->n_fds++;
		}
		if (last)
			break;
	}
	close(fddir);
	if (infodir >= 0)
		close(infodir);
	if (read_mapped_deleted(c, p, piddir) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
	return 0;
oom:
	close(fddir);
	if (infodir >= 0)
		close(infodir);
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
}

/* ---- mounts and deleted files --------------------------------------------------------- */

int ins_read_mounts(ins_ctx *c, const char *who, size_t max, crpc__mount **v, size_t *n)
{
	char name[48];
	char *data = NULL;
	const char *cur, *line;
	size_t len, cap = 0;

	*v = NULL;
	*n = 0;
	snprintf(name, sizeof(name), "%s/mountinfo", who);
	if (ins_read_all_at(c->proc_fd, name, max, &data, NULL) < 0)
		return -1;
	for (cur = data; crpc__line_next(&cur, &line, &len);) {
		crpc__mount mt;

		if (crpc__mountinfo_parse(line, len, &mt) < 0) {
			if (errno != ENOMEM)
				continue; /* not a line of the kernel's */
		} else if (INS_GROW(*v, &cap, *n) == 0) {
			(*v)[(*n)++] = mt;
			continue;
		} else {
			crpc__mount_free(&mt);
		}
		free(data);
		ins_mounts_free(*v, *n);
		*v = NULL;
		*n = 0;
		errno = ENOMEM;
		return -1;
	}
	free(data);
	return 0;
}

void ins_mounts_free(crpc__mount *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crpc__mount_free(&v[i]);
	free(v);
}

static ins_mntns *get_mntns(ins_ctx *c, const crpc_proc_info *p)
{
	ins_mntns *m;
	char who[24];

	for (size_t i = 0; i < c->n_mntns; i++)
		if (c->mntns[i].ns == p->ns[CRPC_NS_MNT])
			return &c->mntns[i];
	if (INS_GROW(c->mntns, &c->cap_mntns, c->n_mntns) < 0)
		return NULL;
	m = &c->mntns[c->n_mntns++];
	memset(m, 0, sizeof(*m));
	m->ns = p->ns[CRPC_NS_MNT];
	m->pid = p->pid;
	snprintf(who, sizeof(who), "%d", (int)p->pid);
	/* a process gone meanwhile leaves its fds without a mount */
	if (ins_read_mounts(c, who, 64u << 20, &m->mounts, &m->n_mounts) < 0)
		return errno == ENOMEM ? NULL : m;
	m->loaded = true;
	return m;
}

void ins_mnt_free(ins_ctx *c)
{
	for (size_t i = 0; i < c->n_mntns; i++) {
		ins_mounts_free(c->mntns[i].mounts, c->mntns[i].n_mounts);
	}
	free(c->mntns);
	c->mntns = NULL;
	c->n_mntns = c->cap_mntns = 0;
}

static bool has_path_fd(const crpc_fd_info *fi)
{
	return fi->mount_id >= 0 &&
	       (fi->type == CRPC_FD_FILE || fi->type == CRPC_FD_DIR || fi->type == CRPC_FD_FIFO ||
		fi->type == CRPC_FD_DEVICE || fi->type == CRPC_FD_TTY || fi->type == CRPC_FD_PTY ||
		fi->type == CRPC_FD_MEMFD);
}

/* A deleted file still linked elsewhere: is its old path free, or taken by another file? */
static void check_deleted_path(ins_ctx *c, const crpc_proc_info *p, crpc_fd_info *fi)
{
	char name[48];
	struct stat st;
	int root;

	if (!fi->path || fi->path[0] != '/')
		return;
	snprintf(name, sizeof(name), "%d/root", (int)p->pid);
	root = openat(c->proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return;
	if (fstatat(root, fi->path + 1, &st, 0) == 0 && (st.st_ino != fi->inode || st.st_dev != fi->dev))
		fi->path_reused = true;
	close(root);
}

int ins_resolve_files(ins_ctx *c, crpc_error **err)
{
	crpc_inspect_result *r = c->r;

	for (size_t i = 0; i < r->n_procs; i++) {
		crpc_proc_info *p = &r->procs[i];
		ins_mntns *m = NULL;

		for (size_t f = 0; f < p->n_fds; f++) {
			crpc_fd_info *fi = &p->fds[f];

			if (fi->type == CRPC_FD_FILE && fi->deleted && fi->nlink > 0)
				check_deleted_path(c, p, fi);
			if (!has_path_fd(fi))
				continue;
			if (!m) {
				m = get_mntns(c, p);
				if (!m)
					return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect",
							      "out of memory");
			}
			for (size_t k = 0; k < m->n_mounts; k++)
				if (m->mounts[k].id == fi->mount_id) {
					fi->mount = strdup(m->mounts[k].mountpoint);
					fi->fstype = strdup(m->mounts[k].fstype);
					if (!fi->mount || !fi->fstype)
						return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect",
								      "out of memory");
					break;
				}
		}
		for (size_t f = 0; f < p->n_mapped_deleted; f++) {
			crpc_fd_info *fi = &p->mapped_deleted[f];

			if (fi->nlink > 0)
				check_deleted_path(c, p, fi);
		}
	}
	return 0;
}
