/* SPDX-License-Identifier: MIT */
/*
 * inspect_ns.c - a tree in namespaces of its own: which of them it owns,
 * whether its root is the init of its PID namespace (and which process is,
 * when it is not), how CRIU handles each mount of its mount namespace
 * (recreated, or bound again from crpc's own at restore), the files it holds
 * open on mounts of another mount namespace, the network devices of its
 * network namespace with the outside ends of its veth pairs, and the
 * processes outside the tree that share its namespaces. Then the verdict's
 * part of it: options, blockers and warnings.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inspect_int.h"
#include "internal.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

static const char *const how_names[] = {
	[CRPC_NS_MOUNT_RECREATED] = "recreated",
	[CRPC_NS_MOUNT_EXTERNAL] = "external",
	[CRPC_NS_MOUNT_UNSUPPORTED] = "unsupported",
};

CRPC_API const char *crpc_ns_mount_how_name(crpc_ns_mount_how h)
{
	return ENUM_NAME(how_names, h, "?");
}

/* The namespaces a tree can own, in the order they are reported. */
static const crpc_ns_type own_types[] = { CRPC_NS_PID, CRPC_NS_MNT,  CRPC_NS_NET,    CRPC_NS_IPC,
					  CRPC_NS_UTS, CRPC_NS_USER, CRPC_NS_CGROUP, CRPC_NS_TIME };

#define NOWN (sizeof(own_types) / sizeof(own_types[0]))

static uint64_t ns_inode(int proc_fd, pid_t pid, const char *type)
{
	char path[64], link[64];
	ssize_t n;
	unsigned long long v;

	snprintf(path, sizeof(path), "%d/ns/%s", (int)pid, type);
	n = readlinkat(proc_fd, path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	{
		const char *b = strchr(link, '[');

		if (!b || sscanf(b + 1, "%llu", &v) != 1)
			return 0;
	}
	return (uint64_t)v;
}

/* ---- the PID namespace's init --------------------------------------------------------- */

static void find_pid_init(ins_ctx *c, crpc_ns_tree *t)
{
	const crpc_proc_info *root = &c->r->procs[0];
	pid_t p = root->ppid;

	/* the init is the root's nearest ancestor in the same PID namespace with PID 1 there */
	for (int depth = 0; p > 1 && depth < 4096; depth++) {
		char name[32];
		ins_status ss;

		snprintf(name, sizeof(name), "%d/status", (int)p);
		if (ins_read_at(c->proc_fd, name, c->buf, c->bufsz) < 0)
			return;
		ins_parse_status(c->buf, &ss);
		if (ns_inode(c->proc_fd, p, "pid") != root->ns[CRPC_NS_PID])
			return;
		if (ss.ns_pid == 1) {
			t->pid_ns_init = p;
			crpc__proc_comm(p, t->pid_ns_init_comm, sizeof(t->pid_ns_init_comm));
			return;
		}
		p = ss.ppid;
	}
}

/* ---- mounts --------------------------------------------------------------------------- */

typedef struct mtab {
	crpc__mount *v;
	size_t n;
} mtab;

static void mtab_free(mtab *m)
{
	ins_mounts_free(m->v, m->n);
	memset(m, 0, sizeof(*m));
}

/* Read WHO's mountinfo (bounded: 16 MiB). -1 with errno. */
static int mtab_read(ins_ctx *c, const char *who, mtab *m)
{
	return ins_read_mounts(c, who, 16u << 20, &m->v, &m->n);
}

/* File systems CRIU mounts anew at restore (their contents, for tmpfs, are in the images). */
static bool recreatable(const char *fs)
{
	static const char *const v[] = {
		"proc",    "sysfs",    "tmpfs",       "devpts",     "mqueue",   "cgroup",
		"cgroup2", "devtmpfs", "binfmt_misc", "securityfs", "debugfs",  "tracefs",
		"pstore",  "fusectl",  "bpf",         "hugetlbfs",  "configfs", "autofs"
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(fs, v[i]) == 0)
			return true;
	return false;
}

/* The mount ids of crpc's own mount namespace. */
typedef struct idset {
	int *v;
	size_t n;
} idset;

static bool idset_has(const idset *s, int id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return true;
	return false;
}

static bool deleted_bind(const mtab *tree, size_t i)
{
	static const char tag[] = "//deleted";
	const char *r = tree->v[i].root;
	size_t l = strlen(r), tl = sizeof(tag) - 1;

	if (l <= tl || strcmp(r + l - tl, tag) != 0)
		return false;
	l -= tl;
	for (size_t k = 0; k < tree->n; k++) {
		const char *o = tree->v[k].root;
		size_t ol = strcmp(o, "/") ? strlen(o) : 0;

		if (k == i || tree->v[k].major != tree->v[i].major || tree->v[k].minor != tree->v[i].minor ||
		    strcmp(tree->v[k].fstype, tree->v[i].fstype) != 0)
			continue;
		if (ol <= l && strncmp(r, o, ol) == 0 && (r[ol] == '/' || ol == l))
			return true;
	}
	return false;
}

static int read_mounts(ins_ctx *c, crpc_ns_tree *t, idset *self_ids)
{
	mtab tree = { 0 }, self = { 0 };
	char who[24];
	size_t cap = 0;
	int rc = -1;

	snprintf(who, sizeof(who), "%d", (int)c->r->procs[0].pid);
	if (mtab_read(c, who, &tree) < 0 || mtab_read(c, "self", &self) < 0) {
		if (errno == ENOMEM)
			goto out;
		ins_strv_addf(&c->r->notes, &c->r->n_notes, "cannot read the mounts of the tree (%s)",
			      strerror(errno));
		rc = 0;
		goto out;
	}
	self_ids->v = calloc(self.n ? self.n : 1, sizeof(*self_ids->v));
	if (!self_ids->v)
		goto out;
	for (size_t k = 0; k < self.n; k++)
		self_ids->v[self_ids->n++] = self.v[k].id;
	for (size_t i = 0; i < tree.n; i++) {
		const crpc__mount *m = &tree.v[i];
		const char *mroot = m->root;
		crpc_ns_mount *nm;
		const crpc__mount *host = NULL;
		const char *hroot = NULL;
		size_t best = 0;

		if (INS_GROW(t->mounts, &cap, t->n_mounts) < 0)
			goto out;
		nm = &t->mounts[t->n_mounts++];
		nm->id = m->id;
		nm->major = m->major;
		nm->minor = m->minor;
		nm->mountpoint = strdup(m->mountpoint);
		nm->fstype = strdup(m->fstype);
		nm->root = strdup(mroot);
		if (!nm->mountpoint || !nm->fstype || !nm->root)
			goto out;
		/*
		 * A bind of a directory since removed (its root ends in "//deleted")
		 * inside another mount of the tree: CRIU binds it from that mount,
		 * making the directory again for the time of the restore, and crpc's
		 * namespace has nothing to give back for it.
		 */
		if (deleted_bind(&tree, i)) {
			nm->how = CRPC_NS_MOUNT_RECREATED;
			continue;
		}
		/*
		 * The same directory in crpc's namespace: a mount of the same file
		 * system whose root holds this one's, the closest first. A proc of
		 * the tree's own PID namespace is a new instance whatever it looks like.
		 */
		if (strcmp(m->fstype, "proc") != 0)
			for (size_t k = 0; k < self.n; k++) {
				const char *r = self.v[k].root;
				size_t l = strlen(r);

				if (self.v[k].major != m->major || self.v[k].minor != m->minor ||
				    strcmp(self.v[k].fstype, m->fstype) != 0)
					continue;
				if (strcmp(r, "/") == 0)
					l = 0;
				else if (strncmp(mroot, r, l) != 0 || (mroot[l] != '/' && mroot[l] != '\0'))
					continue;
				if (!host || l > best) {
					host = &self.v[k];
					hroot = r;
					best = l;
				}
			}
		if (host) {
			const char *rest = mroot + best;

			(void)hroot;
			nm->how = CRPC_NS_MOUNT_EXTERNAL;
			if (!*rest || strcmp(rest, "/") == 0)
				nm->source = strdup(host->mountpoint);
			else if (asprintf(&nm->source, "%s%s",
					  strcmp(host->mountpoint, "/") ? host->mountpoint : "", rest) < 0)
				nm->source = NULL;
			if (!nm->source)
				goto out;
			for (size_t k = 0; k < self.n && !nm->beneath; k++) {
				const char *mp = self.v[k].mountpoint;
				size_t l = strcmp(nm->source, "/") ? strlen(nm->source) : 0;

				if (strncmp(mp, nm->source, l) == 0 && mp[l] == '/' && mp[l + 1] &&
				    !(nm->beneath = strdup(mp)))
					goto out;
			}
			if (strcmp(m->mountpoint, "/") == 0) {
				/* the tree's root, as crpc's namespace shows it: what a restore gives CRIU */
				free(t->root);
				t->root = strdup(nm->source);
				if (!t->root)
					goto out;
			}
		} else if (recreatable(m->fstype) || strcmp(m->mountpoint, "/") == 0) {
			nm->how = CRPC_NS_MOUNT_RECREATED;
		} else {
			nm->how = CRPC_NS_MOUNT_UNSUPPORTED;
		}
	}
	for (size_t k = 0; k < self.n && !t->root_beneath; k++) {
		const char *mp = self.v[k].mountpoint, *rt = t->root ? t->root : "/";
		size_t l = strcmp(rt, "/") ? strlen(rt) : 0;

		if (strncmp(mp, rt, l) == 0 && mp[l] == '/' && mp[l + 1] && !(t->root_beneath = strdup(mp)))
			goto out;
	}
	rc = 0;
out:
	mtab_free(&tree);
	mtab_free(&self);
	return rc;
}

static bool tree_has_mount(const crpc_ns_tree *t, int id)
{
	for (size_t k = 0; k < t->n_mounts; k++)
		if (t->mounts[k].id == id)
			return true;
	return false;
}

static crpc_ns_file *add_file(crpc_ns_tree *t, size_t *cap, pid_t pid, int fd, int mnt, uint64_t ino,
			      uint64_t dev, unsigned flags, const char *path)
{
	crpc_ns_file *nf;

	if (INS_GROW(t->files, cap, t->n_files) < 0)
		return NULL;
	nf = &t->files[t->n_files];
	nf->pid = pid;
	nf->fd = fd;
	nf->mount_id = mnt;
	nf->inode = ino;
	nf->dev = dev;
	nf->flags = flags;
	nf->path = strdup(path);
	if (!nf->path)
		return NULL;
	snprintf(nf->key, sizeof(nf->key), "file[%x:%" PRIx64 "]", (unsigned)mnt, ino);
	t->n_files++;
	return nf;
}

/*
 * Files mapped into memory from mounts the tree's mount namespace does not
 * have: the executable of a sandbox's init that pivoted its root away from
 * where its program lives (bubblewrap's own init). fd -1.
 */
static int find_foreign_maps(ins_ctx *c, crpc_ns_tree *t, const idset *self_ids, const crpc_proc_info *p,
			     size_t *cap)
{
	char dir[48];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%d/map_files", (int)p->pid);
	d = io_opendir_at(c->proc_fd, dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct statx sx;
		char link[4096];
		ssize_t n;
		bool seen = false;

		if (de->d_name[0] == '.')
			continue;
		if (statx(dirfd(d), de->d_name, 0, STATX_INO | STATX_MNT_ID, &sx) < 0 ||
		    !(sx.stx_mask & STATX_MNT_ID) || tree_has_mount(t, (int)sx.stx_mnt_id) ||
		    !idset_has(self_ids, (int)sx.stx_mnt_id))
			continue;
		for (size_t k = 0; k < t->n_files && !seen; k++)
			seen = t->files[k].pid == p->pid && t->files[k].fd < 0 &&
			       t->files[k].inode == sx.stx_ino && t->files[k].mount_id == (int)sx.stx_mnt_id;
		if (seen)
			continue;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		/* shared anonymous memory, SysV segments, memfds: CRIU dumps their contents */
		if (link[0] != '/' || (n > 10 && strcmp(link + n - 10, " (deleted)") == 0) || !sx.stx_mnt_id)
			continue;
		if (!add_file(t, cap, p->pid, -1, (int)sx.stx_mnt_id, sx.stx_ino,
			      makedev(sx.stx_dev_major, sx.stx_dev_minor), O_RDONLY, link)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/*
 * Files the tree holds open on mounts of crpc's namespace that its own does
 * not have. A mount in neither (unmounted while a file on it stays open) is
 * CRIU's to handle.
 */
static int find_foreign_files(ins_ctx *c, crpc_ns_tree *t, const idset *self_ids)
{
	const crpc_inspect_result *r = c->r;
	size_t cap = 0;

	if (!t->n_mounts)
		return 0;
	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		if (p->gone || p->zombie || p->ns[CRPC_NS_MNT] != r->procs[0].ns[CRPC_NS_MNT])
			continue;
		for (size_t f = 0; f < p->n_fds; f++) {
			const crpc_fd_info *fi = &p->fds[f];

			if (fi->type != CRPC_FD_FILE && fi->type != CRPC_FD_DIR &&
			    fi->type != CRPC_FD_DEVICE && fi->type != CRPC_FD_FIFO)
				continue;
			if (!fi->have_fdinfo || fi->mount_id < 0 || tree_has_mount(t, fi->mount_id) ||
			    !idset_has(self_ids, fi->mount_id))
				continue;
			if (!add_file(t, &cap, p->pid, fi->fd, fi->mount_id, fi->inode, fi->dev, fi->flags,
				      fi->path ? fi->path : (fi->target ? fi->target : "?")))
				return -1;
		}
		if (find_foreign_maps(c, t, self_ids, p, &cap) < 0)
			return -1;
	}
	return 0;
}

/* ---- processes outside the tree in its namespaces --------------------------------------- */

static bool in_tree(const crpc_inspect_result *r, pid_t pid)
{
	for (size_t i = 0; i < r->n_procs; i++)
		if (r->procs[i].pid == pid)
			return true;
	return false;
}

/* A process started by the tree after it was read: the root is among its ancestors. */
static bool descends_from(pid_t pid, pid_t root)
{
	for (int depth = 0; pid > 1 && depth < 256; depth++) {
		crpc_task_status st;

		if (pid == root)
			return true;
		if (crpc_task_status_read(pid, &st) < 0)
			return false;
		pid = st.ppid;
	}
	return false;
}

static int find_sharers(ins_ctx *c, crpc_ns_tree *t)
{
	const crpc_inspect_result *r = c->r;
	const crpc_proc_info *root = &r->procs[0];
	static const crpc_ns_type shared_types[] = { CRPC_NS_MNT, CRPC_NS_NET, CRPC_NS_IPC, CRPC_NS_UTS };
	pid_t anc[64];
	size_t n_anc = 0, cap = 0;
	DIR *d;
	struct dirent *de;
	unsigned want = 0;

	for (size_t k = 0; k < sizeof(shared_types) / sizeof(shared_types[0]); k++)
		if (t->own & (1u << shared_types[k]))
			want |= 1u << shared_types[k];
	if (!want)
		return 0;
	/* the root's ancestors: the programs that made the namespaces and wait for it */
	for (pid_t p = root->ppid; p > 1 && n_anc < sizeof(anc) / sizeof(anc[0]);) {
		crpc_task_status st;

		anc[n_anc++] = p;
		if (crpc_task_status_read(p, &st) < 0)
			break;
		p = st.ppid;
	}
	d = io_opendir_at(c->proc_fd, ".");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		pid_t pid = (pid_t)v;

		if (*end || v <= 0 || pid == getpid() || in_tree(r, pid))
			continue;
		for (size_t k = 0; k < sizeof(shared_types) / sizeof(shared_types[0]); k++) {
			crpc_ns_type ty = shared_types[k];
			crpc_ns_sharer *s;

			if (!(want & (1u << ty)) ||
			    ns_inode(c->proc_fd, pid, crpc_ns_type_name(ty)) != root->ns[ty])
				continue;
			if (descends_from(pid, root->pid))
				break;
			if (INS_GROW(t->sharers, &cap, t->n_sharers) < 0) {
				closedir(d);
				return -1;
			}
			s = &t->sharers[t->n_sharers++];
			s->type = ty;
			s->pid = pid;
			crpc__proc_comm(pid, s->comm, sizeof(s->comm));
			for (size_t a = 0; a < n_anc; a++)
				if (anc[a] == pid)
					s->ancestor = true;
		}
	}
	closedir(d);
	return 0;
}

/* ---- network devices -------------------------------------------------------------------- */

typedef struct link_ent {
	int index, link, master;
	bool has_netnsid;
	char name[16], kind[16];
} link_ent;

typedef struct link_tab {
	link_ent *v;
	size_t n, cap;
} link_tab;

/* An rtnetlink socket in the network namespace of pid (0: crpc's). -1 with errno. */
static int rt_socket(ins_ctx *c, pid_t pid)
{
	char path[48];
	int self_ns, target_ns, sk, e;

	if (!pid)
		return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	snprintf(path, sizeof(path), "%d/ns/net", (int)pid);
	target_ns = openat(c->proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (target_ns < 0)
		return -1;
	self_ns = openat(c->proc_fd, "thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0) {
		e = errno;
		close(target_ns);
		errno = e;
		return -1;
	}
	if (setns(target_ns, CLONE_NEWNET) < 0) {
		e = errno;
		close(target_ns);
		close(self_ns);
		errno = e;
		return -1;
	}
	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	e = errno;
	if (setns(self_ns, CLONE_NEWNET) < 0)
		abort(); /* cannot go back to our own network namespace: nothing sane is left to do */
	close(target_ns);
	close(self_ns);
	errno = e;
	return sk;
}

/* One dump request (RTM_GETLINK or RTM_GETADDR) and every answer to cb. 0 or an errno. */
static int rt_dump(int sk, int type, char *buf, size_t bufsz, ins_netlink_cb cb, void *arg)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i; /* as large as ifaddrmsg, family first in both */
	} req;

	memset(&req, 0, sizeof(req));
	req.i.ifi_family = type == RTM_GETADDR ? AF_INET : AF_UNSPEC;
	return ins_netlink_dump(sk, type, &req, sizeof(req), buf, bufsz, cb, arg);
}

static void attr_str(const struct rtattr *a, char *out, size_t outsz)
{
	size_t l = RTA_PAYLOAD(a);

	if (l >= outsz)
		l = outsz - 1;
	memcpy(out, RTA_DATA(a), l);
	out[l] = '\0';
}

static int link_cb(const struct nlmsghdr *h, void *arg)
{
	link_tab *t = arg;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int alen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
	const struct rtattr *a;
	link_ent e;

	if (h->nlmsg_type != RTM_NEWLINK || alen < 0)
		return 0;
	memset(&e, 0, sizeof(e));
	e.index = ifi->ifi_index;
	for (a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		if (a->rta_type == IFLA_IFNAME)
			attr_str(a, e.name, sizeof(e.name));
		else if (a->rta_type == IFLA_LINK && RTA_PAYLOAD(a) >= 4)
			memcpy(&e.link, RTA_DATA(a), 4);
		else if (a->rta_type == IFLA_MASTER && RTA_PAYLOAD(a) >= 4)
			memcpy(&e.master, RTA_DATA(a), 4);
		else if (a->rta_type == IFLA_LINK_NETNSID)
			e.has_netnsid = true;
		else if (a->rta_type == IFLA_LINKINFO) {
			const struct rtattr *li;
			int llen = (int)RTA_PAYLOAD(a);

			for (li = RTA_DATA(a); RTA_OK(li, llen); li = RTA_NEXT(li, llen))
				if (li->rta_type == IFLA_INFO_KIND)
					attr_str(li, e.kind, sizeof(e.kind));
		}
	}
	if (INS_GROW(t->v, &t->cap, t->n) < 0)
		return -1;
	t->v[t->n++] = e;
	return 0;
}

typedef struct addr_q {
	int index;
	char *out;
	size_t outsz;
} addr_q;

static int addr_cb(const struct nlmsghdr *h, void *arg)
{
	addr_q *q = arg;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int alen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifa));
	const struct rtattr *a;

	if (h->nlmsg_type != RTM_NEWADDR || alen < 0 || (int)ifa->ifa_index != q->index ||
	    ifa->ifa_family != AF_INET)
		return 0;
	for (a = IFA_RTA(ifa); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == IFA_LOCAL && RTA_PAYLOAD(a) >= 4) {
			char ip[INET_ADDRSTRLEN];
			size_t used = strlen(q->out);

			if (!inet_ntop(AF_INET, RTA_DATA(a), ip, sizeof(ip)))
				continue;
			snprintf(q->out + used, q->outsz - used, "%s%s/%u", used ? " " : "", ip,
				 (unsigned)ifa->ifa_prefixlen);
		}
	return 0;
}

static int rt_links(ins_ctx *c, pid_t pid, link_tab *t)
{
	int sk = rt_socket(c, pid), e;

	if (sk < 0)
		return errno;
	e = rt_dump(sk, RTM_GETLINK, c->buf, c->bufsz, link_cb, t);
	close(sk);
	return e;
}

static int read_netdevs(ins_ctx *c, crpc_ns_tree *t)
{
	link_tab in = { 0 }, out = { 0 };
	size_t cap = 0;
	int e, rc = -1;

	e = rt_links(c, c->r->procs[0].pid, &in);
	if (e == ENOMEM)
		goto done;
	if (e) {
		t->netdev_errno = e;
		rc = 0;
		goto done;
	}
	for (size_t i = 0; i < in.n; i++) {
		crpc_ns_netdev *d;
		const link_ent *l = &in.v[i];

		if (INS_GROW(t->netdevs, &cap, t->n_netdevs) < 0)
			goto done;
		d = &t->netdevs[t->n_netdevs++];
		snprintf(d->name, sizeof(d->name), "%s", l->name);
		snprintf(d->kind, sizeof(d->kind), "%s", l->kind);
		d->ifindex = l->index;
		if (strcmp(l->kind, "veth") != 0 || !l->has_netnsid)
			continue;
		d->peer_outside = true;
		if (!out.n && (e = rt_links(c, 0, &out)) != 0) {
			if (e == ENOMEM)
				goto done;
			continue;
		}
		/* the other end in crpc's namespace: linked to this device's index, and this one to it */
		for (size_t k = 0; k < out.n; k++) {
			const link_ent *o = &out.v[k];

			if (o->index != l->link || o->link != l->index || !o->has_netnsid ||
			    strcmp(o->kind, "veth") != 0)
				continue;
			d->peer_here = true;
			snprintf(d->peer_name, sizeof(d->peer_name), "%s", o->name);
			for (size_t m = 0; o->master && m < out.n; m++)
				if (out.v[m].index == o->master)
					snprintf(d->peer_master, sizeof(d->peer_master), "%s", out.v[m].name);
			{
				addr_q q = { o->index, d->peer_addrs, sizeof(d->peer_addrs) };
				int sk = rt_socket(c, 0);

				if (sk >= 0) {
					(void)rt_dump(sk, RTM_GETADDR, c->buf, c->bufsz, addr_cb, &q);
					close(sk);
				}
			}
			break;
		}
	}
	rc = 0;
done:
	free(in.v);
	free(out.v);
	return rc;
}

/* ---- the inspection's part ------------------------------------------------------------------ */

/*
 * The id outside a user namespace of id 0 inside it, from /proc/PID/uid_map
 * or gid_map (lines "INSIDE OUTSIDE COUNT"); -1 when 0 is not mapped or the
 * map cannot be read.
 */
static int64_t map_of_zero(int proc_fd, pid_t pid, const char *which)
{
	char name[40], buf[4096];
	unsigned long long in, out, count;
	const char *l;
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "%d/%s", (int)pid, which);
	fd = openat(proc_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (l = buf; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		if (sscanf(l, "%llu %llu %llu", &in, &out, &count) == 3 && in == 0 && count > 0)
			return (int64_t)out;
	return -1;
}

int ins_ns_inspect(ins_ctx *c, crpc_error **err)
{
	crpc_inspect_result *r = c->r;
	const crpc_proc_info *root = &r->procs[0];
	crpc_ns_tree *t = &r->nst;
	char name[32], link[4096];
	ssize_t n;

	for (size_t k = 0; k < NOWN; k++) {
		crpc_ns_type ty = own_types[k];

		if (root->ns[ty] && r->self_ns[ty] && root->ns[ty] != r->self_ns[ty])
			t->own |= 1u << ty;
	}
	if (t->own & (1u << CRPC_NS_PID)) {
		t->pid_init = root->ns_pid == 1;
		if (!t->pid_init)
			find_pid_init(c, t);
	}
	snprintf(name, sizeof(name), "%d/root", (int)root->pid);
	n = readlinkat(c->proc_fd, name, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		t->root = strdup(link);
		if (!t->root)
			goto oom;
	}
	if (!t->own)
		return 0;
	if (t->own & (1u << CRPC_NS_PID))
		for (size_t i = 0; i < r->n_procs; i++) {
			const crpc_proc_info *p = &r->procs[i];
			uint64_t sns;

			if (p->gone || p->sid <= 0 || in_tree(r, p->sid))
				continue;
			/* a leader that exited is no matter: the kernel keeps its session's ID */
			sns = ns_inode(c->proc_fd, p->sid, "pid");
			if (!sns || sns == root->ns[CRPC_NS_PID])
				continue;
			if (!t->n_session_outside++) {
				t->session_outside_pid = p->pid;
				t->session_outside_sid = p->sid;
			}
		}
	if (t->own & (1u << CRPC_NS_MNT)) {
		idset self_ids = { 0 };
		int rc = read_mounts(c, t, &self_ids);

		if (rc == 0)
			rc = find_foreign_files(c, t, &self_ids);
		free(self_ids.v);
		if (rc < 0)
			goto oom;
	}
	if ((t->own & (1u << CRPC_NS_NET)) && read_netdevs(c, t) < 0)
		goto oom;
	t->userns_uid0 = t->userns_gid0 = -1;
	if (t->own & (1u << CRPC_NS_USER)) {
		t->userns_uid0 = map_of_zero(c->proc_fd, root->pid, "uid_map");
		t->userns_gid0 = map_of_zero(c->proc_fd, root->pid, "gid_map");
	}
	if (find_sharers(c, t) < 0)
		goto oom;
	return 0;
oom:
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
}

void crpc__ns_tree_free(crpc_ns_tree *t)
{
	for (size_t i = 0; i < t->n_mounts; i++) {
		free(t->mounts[i].mountpoint);
		free(t->mounts[i].fstype);
		free(t->mounts[i].root);
		free(t->mounts[i].source);
		free(t->mounts[i].beneath);
	}
	for (size_t i = 0; i < t->n_files; i++)
		free(t->files[i].path);
	free(t->root_beneath);
	free(t->mounts);
	free(t->files);
	free(t->netdevs);
	free(t->sharers);
	free(t->root);
	memset(t, 0, sizeof(*t));
}

/* ---- the verdict's part --------------------------------------------------------------------- */

static const char *own_list(unsigned own, char *buf, size_t bufsz)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < NOWN && used < bufsz; k++)
		if (own & (1u << own_types[k])) {
			int w = snprintf(buf + used, bufsz - used, "%s%s", used ? ", " : "",
					 crpc_ns_type_name(own_types[k]));

			if (w < 0)
				break;
			used += (size_t)w;
		}
	return buf;
}

void ins_ns_verdict(ins_vbuild *vb, const crpc_inspect_result *r)
{
	const crpc_ns_tree *t = &r->nst;
	const crpc_proc_info *root = &r->procs[0];
	char w[96], owns[96];

	snprintf(w, sizeof(w), "PID %d (%s)", (int)root->pid, root->comm);
	if ((t->own & (1u << CRPC_NS_PID)) && !t->pid_init) {
		if (t->pid_ns_init > 0)
			ins_vadd(vb, INS_V_BLOCKER, "pid-namespace", CRPC_VALUE_BOOL, true, 0, NULL,
				 root->pid, -1,
				 "%s runs in a PID namespace where it is PID %d, not the namespace's init: CRIU "
				 "checkpoints a PID namespace only from its init; dump PID %d (%s), the init of "
				 "that namespace: crpc dump %d DIR",
				 w, (int)root->ns_pid, (int)t->pid_ns_init, t->pid_ns_init_comm,
				 (int)t->pid_ns_init);
		else
			ins_vadd(vb, INS_V_BLOCKER, "pid-namespace", CRPC_VALUE_BOOL, true, 0, NULL,
				 root->pid, -1,
				 "%s runs in a PID namespace where it is PID %d, not the namespace's init: CRIU "
				 "checkpoints a PID namespace only from its init, and no ancestor of it is",
				 w, (int)root->ns_pid);
		return;
	}
	if (!t->own)
		return;
	if (t->n_session_outside) {
		char more[48] = "";

		if (t->n_session_outside > 1)
			snprintf(more, sizeof(more), " (and %zu more of the tree)", t->n_session_outside - 1);
		ins_vadd(vb, INS_V_BLOCKER, "session-outside", CRPC_VALUE_BOOL, true, 0, NULL,
			 t->session_outside_pid, -1,
			 "PID %d%s is in session %d, whose leader is outside the tree's PID namespace: CRIU "
			 "sees no session leader and refuses it with any option; start the sandbox's init in "
			 "a session of its own (unshare ... setsid CMD, bwrap --new-session)",
			 (int)t->session_outside_pid, more, (int)t->session_outside_sid);
	}
	ins_vadd(vb, INS_V_WARNING, "namespaces", CRPC_VALUE_BOOL, true, 0, NULL, root->pid, -1,
		 "the tree has namespaces of its own (%s): CRIU checkpoints them with it and a restore "
		 "creates them anew",
		 own_list(t->own, owns, sizeof(owns)));
	if ((t->own & (1u << CRPC_NS_USER)) && (t->userns_uid0 < 0 || t->userns_gid0 < 0))
		ins_vadd(vb, INS_V_BLOCKER, "user-namespace", CRPC_VALUE_BOOL, true, 0, NULL, root->pid, -1,
			 "%s is in a user namespace of its own where %s 0 is not mapped: CRIU's restore "
			 "makes every task uid and gid 0 of the new namespace (setuid(0), setgid(0)) before "
			 "it gives them back their own ids, which fails there; map root in the namespace "
			 "(unshare --map-root-user, newuidmap with a line for 0)",
			 w, t->userns_uid0 < 0 ? "uid" : "gid");
	else if (t->own & (1u << CRPC_NS_USER))
		ins_vadd(vb, INS_V_WARNING, "user-namespace", CRPC_VALUE_BOOL, true, 0, NULL, root->pid, -1,
			 "%s is in a user namespace of its own (its uid 0 is %" PRId64
			 " outside, gid 0 is %" PRId64
			 "): CRIU restores the namespace with the same uid and gid maps, and its tasks read "
			 "the images as that uid and gid%s",
			 w, t->userns_uid0, t->userns_gid0,
			 t->userns_gid0 ? ", so crpc restore lets that gid read the images directory for the "
					  "time of the restore"
					: "");
	if ((t->own & (1u << CRPC_NS_USER)) && (t->own & (1u << CRPC_NS_MNT))) {
		const crpc_ns_mount *first = NULL;
		size_t nested = 0;

		for (size_t i = 0; i < t->n_mounts; i++)
			if (t->mounts[i].how == CRPC_NS_MOUNT_EXTERNAL && t->mounts[i].beneath && !nested++)
				first = &t->mounts[i];
		if (!first && t->root_beneath)
			ins_vadd(vb, INS_V_BLOCKER, "user-namespace-mounts", CRPC_VALUE_BOOL, true, 0, NULL,
				 root->pid, -1,
				 "the tree's root %s has mounts beneath it in crpc's mount namespace (%s): the "
				 "tree has a user namespace of its own, and CRIU 4.2.1 binds the root of such a "
				 "tree (not recursively) from inside the new user namespace, where the mounts "
				 "beneath are locked: the kernel refuses that bind (EINVAL) and the restore "
				 "fails; give the sandbox a root that is a mount of its own with nothing mounted "
				 "beneath it in crpc's namespace (bind the directory onto itself in the sandbox, "
				 "then pivot_root into it), or run it without a user namespace",
				 t->root ? t->root : "/", t->root_beneath);
		if (first) {
			char more[48] = "";

			if (nested > 1)
				snprintf(more, sizeof(more), " (and %zu more)", nested - 1);
			ins_vadd(vb, INS_V_BLOCKER, "user-namespace-mounts", CRPC_VALUE_BOOL, true, 0, NULL,
				 root->pid, -1,
				 "mount %s of the tree%s comes from %s in crpc's mount namespace, which has "
				 "mounts beneath it (%s): the tree has a user namespace of its own, and CRIU "
				 "4.2.1 binds such a tree's mounts back one at a time (not recursively) from "
				 "inside the new user namespace, where the mounts beneath are locked: the kernel "
				 "refuses that bind (EINVAL) and the restore fails; give the sandbox a root of "
				 "its own holding only the binds it needs (pivot_root, as bwrap and container "
				 "runtimes do), or run it without a user namespace",
				 first->mountpoint, more, first->source, first->beneath);
		}
	}
	if (t->own & (1u << CRPC_NS_MNT)) {
		size_t ext = 0;
		const crpc_ns_mount *first = NULL;

		for (size_t i = 0; i < t->n_mounts; i++) {
			const crpc_ns_mount *m = &t->mounts[i];

			if (m->how == CRPC_NS_MOUNT_EXTERNAL && strcmp(m->mountpoint, "/") != 0) {
				if (!first)
					first = m;
				ext++;
			} else if (m->how == CRPC_NS_MOUNT_UNSUPPORTED) {
				ins_vadd(vb, INS_V_BLOCKER, "mount", CRPC_VALUE_BOOL, true, 0, NULL,
					 root->pid, -1,
					 "mount %s (%s, device %u:%u) exists only in the tree's mount namespace "
					 "and CRIU cannot mount a %s anew: mount the same file system in crpc's "
					 "namespace too (then it is bound back at restore), or unmount it",
					 m->mountpoint, m->fstype, m->major, m->minor, m->fstype);
			}
		}
		ins_vadd(vb, INS_V_OPTION, "auto_ext_mnt", CRPC_VALUE_BOOL, true, 0, NULL, root->pid, -1,
			 "the tree has its own mount namespace: %zu of its %zu mounts are file systems of "
			 "crpc's namespace (%s%s), marked external and bound back by path at restore",
			 ext, t->n_mounts, first ? first->mountpoint : "none", ext > 1 ? ", ..." : "");
		ins_vadd(vb, INS_V_OPTION, "ext_sharing", CRPC_VALUE_BOOL, true, 0, NULL, root->pid, -1,
			 "mounts of the tree's mount namespace may share propagation with crpc's own");
		ins_vadd(vb, INS_V_OPTION, "ext_masters", CRPC_VALUE_BOOL, true, 0, NULL, root->pid, -1,
			 "mounts of the tree's mount namespace may be slaves of crpc's own");
		for (size_t i = 0; i < t->n_files; i++) {
			const crpc_ns_file *f = &t->files[i];

			char what[32];

			if (f->fd >= 0)
				snprintf(what, sizeof(what), "fd %d", f->fd);
			else
				snprintf(what, sizeof(what), "a mapping");
			ins_vadd(vb, INS_V_OPTION, "external", CRPC_VALUE_STRING, false, 0, f->key, f->pid,
				 f->fd,
				 "%s of PID %d is %s on a mount of another mount namespace than the tree's "
				 "(opened or mapped before the namespace was made): CRIU records it as external "
				 "and crpc restore opens %s again",
				 what, (int)f->pid, f->path, f->path);
		}
	}
	if (t->own & (1u << CRPC_NS_NET)) {
		if (t->netdev_errno)
			ins_vadd(vb, INS_V_WARNING, "netdev", CRPC_VALUE_BOOL, true, 0, NULL, root->pid, -1,
				 "the network devices of the tree's network namespace could not be read (%s)",
				 strerror(t->netdev_errno));
		for (size_t i = 0; i < t->n_netdevs; i++) {
			const crpc_ns_netdev *d = &t->netdevs[i];

			if (!d->kind[0] || strcmp(d->kind, "bridge") == 0 || strcmp(d->kind, "tun") == 0 ||
			    strcmp(d->kind, "macvlan") == 0 || strcmp(d->kind, "sit") == 0)
				continue;
			if (strcmp(d->kind, "veth") != 0) {
				ins_vadd(vb, INS_V_BLOCKER, "netdev", CRPC_VALUE_BOOL, true, 0, NULL,
					 root->pid, -1,
					 "network device %s of the tree's network namespace is a %s: CRIU "
					 "checkpoints loopback, veth, tun, bridge, macvlan and sit devices only; "
					 "delete it before the dump",
					 d->name, d->kind);
				continue;
			}
			if (!d->peer_outside)
				continue;
			if (!d->peer_here)
				ins_vadd(vb, INS_V_BLOCKER, "veth-peer", CRPC_VALUE_BOOL, true, 0, NULL,
					 root->pid, -1,
					 "veth %s of the tree's network namespace has its other end in a third "
					 "network namespace: CRIU recreates the other end only in its own "
					 "namespace; move that end into crpc's namespace (ip link set ... netns) "
					 "or delete the pair",
					 d->name);
			else
				ins_vadd(vb, INS_V_WARNING, "veth-peer", CRPC_VALUE_BOOL, true, 0, NULL,
					 root->pid, -1,
					 "veth %s of the tree has its other end %s in crpc's network namespace%s%s: "
					 "the dump destroys the pair; crpc restore recreates it with that name%s%s%s",
					 d->name, d->peer_name,
					 d->peer_master[0] ? ", a port of bridge " : "", d->peer_master,
					 d->peer_master[0] ? " in that bridge" : "",
					 d->peer_addrs[0] ? ", but its addresses must be added again: " : "",
					 d->peer_addrs);
		}
	}
	for (size_t i = 0; i < t->n_sharers; i++) {
		const crpc_ns_sharer *s = &t->sharers[i];
		const char *ty = crpc_ns_type_name(s->type);

		if (s->ancestor)
			continue;
		if (s->type == CRPC_NS_MNT || s->type == CRPC_NS_NET)
			ins_vadd(vb, INS_V_BLOCKER, "namespace-shared", CRPC_VALUE_BOOL, true, 0, NULL,
				 s->pid, -1,
				 "the tree's %s namespace is also the namespace of PID %d (%s), which is not "
				 "in the tree: a restore would give the tree a new %s namespace apart from it; "
				 "dump a tree that holds every process of the namespace (the process that "
				 "made it), or end PID %d first",
				 ty, (int)s->pid, s->comm, ty, (int)s->pid);
		else
			ins_vadd(vb, INS_V_WARNING, "namespace-shared", CRPC_VALUE_BOOL, true, 0, NULL,
				 s->pid, -1,
				 "the tree's %s namespace is also the namespace of PID %d (%s), outside the "
				 "tree: the restored tree gets a copy of its own",
				 ty, (int)s->pid, s->comm);
	}
}
