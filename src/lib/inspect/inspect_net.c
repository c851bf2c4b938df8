/* SPDX-License-Identifier: MIT */
/*
 * inspect_net.c - sockets and pipes of an inspected tree: /proc/net inet
 * tables (read once per network namespace), UNIX sockets and their peers
 * through sock_diag (NETLINK_SOCK_DIAG, UNIX_DIAG_PEER), the other ends of
 * TCP/UDP connections and pipes, and the kernel's socket diagnostics a dump
 * relies on.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

#define NET_TABLE_MAX (64u << 20)

enum {
	T_TCP,
	T_TCP6,
	T_UDP,
	T_UDP6,
	T_UDPLITE,
	T_UDPLITE6,
	T_RAW,
	T_RAW6,
	T_ICMP,
	T_ICMP6,
	T__COUNT
};

static const struct {
	const char *file;
	const char *proto;
	int family;
} tables[T__COUNT] = {
	[T_TCP] = { "net/tcp", "TCP", AF_INET },
	[T_TCP6] = { "net/tcp6", "TCPv6", AF_INET6 },
	[T_UDP] = { "net/udp", "UDP", AF_INET },
	[T_UDP6] = { "net/udp6", "UDPv6", AF_INET6 },
	[T_UDPLITE] = { "net/udplite", "UDP-Lite", AF_INET },
	[T_UDPLITE6] = { "net/udplite6", "UDPLITEv6", AF_INET6 },
	[T_RAW] = { "net/raw", "RAW", AF_INET },
	[T_RAW6] = { "net/raw6", "RAWv6", AF_INET6 },
	[T_ICMP] = { "net/icmp", "PING", AF_INET },
	[T_ICMP6] = { "net/icmp6", "PINGv6", AF_INET6 },
};

typedef struct unix_ent {
	uint64_t ino, peer;
	int type, state;
	char *name; /* "/path", "@abstract" or NULL */
} unix_ent;

struct ins_netns {
	uint64_t ns;
	pid_t pid; /* a process of the tree in it */
	bool loaded[T__COUNT];
	ins_inet_sock *tab[T__COUNT];
	size_t n[T__COUNT];
	ins_map idx[T__COUNT]; /* inode -> index + 1 */
	ins_map tuples;        /* hash of (local, remote) -> (table << 32 | index) + 1, tcp and udp */
	bool unix_loaded;
	int unix_errno;
	unix_ent *u;
	size_t nu, capu;
	ins_map uidx; /* inode -> index + 1 */
};

/* ---- /proc/net parsing ------------------------------------------------------------- */

static int parse_hex_addr(const char *s, size_t len, int family, uint8_t raw[16])
{
	size_t words = family == AF_INET ? 1 : 4;

	if (len != words * 8)
		return -1;
	memset(raw, 0, 16);
	for (size_t w = 0; w < words; w++) {
		char tmp[9];
		uint32_t v;
		char *end;

		memcpy(tmp, s + w * 8, 8);
		tmp[8] = '\0';
		v = (uint32_t)strtoul(tmp, &end, 16);
		if (*end)
			return -1;
		memcpy(raw + w * 4, &v, 4); /* the kernel prints the words in host order */
	}
	return 0;
}

static int parse_endpoint(const char **pp, int family, uint8_t raw[16], crpc_inet_endpoint *ep)
{
	const char *p = *pp, *colon;
	char *end;
	unsigned long port;

	while (*p == ' ')
		p++;
	colon = strchr(p, ':');
	if (!colon || parse_hex_addr(p, (size_t)(colon - p), family, raw) < 0)
		return -1;
	port = strtoul(colon + 1, &end, 16);
	if (end == colon + 1 || port > 65535)
		return -1;
	ep->port = (uint16_t)port;
	if (!inet_ntop(family, raw, ep->addr, sizeof(ep->addr)))
		return -1;
	*pp = end;
	return 0;
}

int ins_parse_inet_line(const char *line, int family, ins_inet_sock *out)
{
	const char *p = line;
	unsigned long st, tx, rx;
	unsigned long long inode;
	char *end;

	memset(out, 0, sizeof(*out));
	out->family = family;
	while (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1; /* the header */
	p = strchr(p, ':');
	if (!p)
		return -1;
	p++;
	if (parse_endpoint(&p, family, out->lraw, &out->local) < 0 ||
	    parse_endpoint(&p, family, out->rraw, &out->remote) < 0)
		return -1;
	st = strtoul(p, &end, 16);
	if (end == p)
		return -1;
	p = end;
	tx = strtoul(p, &end, 16);
	if (end == p || *end != ':')
		return -1;
	p = end + 1;
	rx = strtoul(p, &end, 16);
	if (end == p)
		return -1;
	p = end;
	/* tr:tm->when retrnsmt uid timeout inode */
	for (int i = 0; i < 4; i++) {
		while (*p == ' ')
			p++;
		p += strcspn(p, " ");
	}
	inode = strtoull(p, &end, 10);
	if (end == p)
		return -1;
	out->state = (int)st;
	out->tx_queue = (uint32_t)tx;
	out->rx_queue = (uint32_t)rx;
	out->inode = inode;
	return 0;
}

/* The address as 16 bytes, IPv4 as ::ffff:a.b.c.d, to compare across families. */
static void canon(const uint8_t raw[16], int family, uint8_t out[16])
{
	if (family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, raw, 4);
	} else {
		memcpy(out, raw, 16);
	}
}

static uint64_t tuple_hash(const uint8_t l[16], uint16_t lp, const uint8_t r[16], uint16_t rp, int kind)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;

	for (int i = 0; i < 16; i++)
		h = (h ^ l[i]) * 1099511628211ULL;
	h = (h ^ lp) * 1099511628211ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ r[i]) * 1099511628211ULL;
	h = (h ^ rp) * 1099511628211ULL;
	return h ? h : 1;
}

static int table_kind(int t)
{
	return (t == T_TCP || t == T_TCP6) ? 1 : 2;
}

static int load_table(ins_ctx *c, ins_netns *n, int t)
{
	char name[64], *data = NULL, *line, *save = NULL;
	size_t cap = 0;

	if (n->loaded[t])
		return 0;
	n->loaded[t] = true;
	snprintf(name, sizeof(name), "%d/%s", (int)n->pid, tables[t].file);
	if (ins_read_all_at(c->proc_fd, name, NET_TABLE_MAX, &data, NULL) < 0)
		return errno == ENOMEM ? -1 : 0; /* e.g. no IPv6: nothing to find there */
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ins_inet_sock s;
		uint8_t cl[16], cr[16];

		if (ins_parse_inet_line(line, tables[t].family, &s) < 0)
			continue;
		if (INS_GROW(n->tab[t], &cap, n->n[t]) < 0)
			goto oom;
		n->tab[t][n->n[t]] = s;
		if (s.inode && ins_map_put(&n->idx[t], s.inode, n->n[t] + 1) < 0)
			goto oom;
		if (t <= T_UDPLITE6) {
			canon(s.lraw, s.family, cl);
			canon(s.rraw, s.family, cr);
			if (ins_map_put(&n->tuples,
					tuple_hash(cl, s.local.port, cr, s.remote.port, table_kind(t)),
					((uint64_t)t << 32 | n->n[t]) + 1) < 0)
				goto oom;
		}
		n->n[t]++;
	}
	free(data);
	return 0;
oom:
	free(data);
	return -1;
}

/* ---- sock_diag -------------------------------------------------------------------- */

/* A NETLINK_SOCK_DIAG socket in network namespace n (setns for the time of socket()). */
static int diag_socket(ins_ctx *c, const ins_netns *n, int *err_out)
{
	char path[64];
	int self_ns, target_ns, sk, e;

	*err_out = 0;
	if (!n || n->ns == c->r->self_ns[CRPC_NS_NET]) {
		sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (sk < 0)
			*err_out = errno;
		return sk;
	}
	snprintf(path, sizeof(path), "%d/ns/net", (int)n->pid);
	target_ns = openat(c->proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (target_ns < 0) {
		*err_out = errno;
		return -1;
	}
	self_ns = openat(c->proc_fd, "thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0) {
		*err_out = errno;
		close(target_ns);
		return -1;
	}
	if (setns(target_ns, CLONE_NEWNET) < 0) {
		*err_out = errno;
		close(target_ns);
		close(self_ns);
		return -1;
	}
	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	e = errno;
	if (setns(self_ns, CLONE_NEWNET) < 0)
		abort(); /* cannot go back to our own network namespace: nothing sane is left to do */
	close(target_ns);
	close(self_ns);
	if (sk < 0)
		*err_out = e;
	return sk;
}

int ins_netlink_dump(int sk, int type, void *req, size_t reqlen, char *buf, size_t bufsz, ins_netlink_cb cb,
		     void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *h = req;

	h->nlmsg_len = (uint32_t)reqlen;
	h->nlmsg_type = (uint16_t)type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h->nlmsg_seq = 1;
	for (;;) {
		ssize_t n = sendto(sk, req, reqlen, 0, (struct sockaddr *)&sa, sizeof(sa));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		break;
	}
	for (;;) {
		ssize_t n = recv(sk, buf, bufsz, 0);
		struct nlmsghdr *m;
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EPROTO;
		len = (size_t)n;
		for (m = (struct nlmsghdr *)buf; NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
			if (m->nlmsg_type == NLMSG_DONE)
				return 0;
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(m);

				return e->error ? -e->error : 0;
			}
			if (cb && cb(m, arg) < 0)
				return ENOMEM;
		}
	}
}

static int unix_cb(const struct nlmsghdr *h, void *arg)
{
	ins_netns *n = arg;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a;
	int alen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	unix_ent e = { .ino = m->udiag_ino, .type = m->udiag_type, .state = m->udiag_state };

	if (alen < 0)
		return 0;
	for (a = (const struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= 4) {
			uint32_t v;

			memcpy(&v, RTA_DATA(a), 4);
			e.peer = v;
		} else if (a->rta_type == UNIX_DIAG_NAME && RTA_PAYLOAD(a) > 0) {
			const char *d = RTA_DATA(a);
			size_t l = RTA_PAYLOAD(a);

			free(e.name);
			e.name = malloc(l + 2);
			if (!e.name)
				return -1;
			if (d[0] == '\0') { /* abstract: shown as @name */
				e.name[0] = '@';
				memcpy(e.name + 1, d + 1, l - 1);
				e.name[l] = '\0';
			} else {
				memcpy(e.name, d, l);
				e.name[l] = '\0';
				e.name[strnlen(e.name, l)] = '\0';
			}
		}
	}
	if (INS_GROW(n->u, &n->capu, n->nu) < 0 || ins_map_put(&n->uidx, e.ino, n->nu + 1) < 0) {
		free(e.name);
		return -1;
	}
	n->u[n->nu++] = e;
	return 0;
}

static int load_unix(ins_ctx *c, ins_netns *n)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req;
	int sk, e;

	if (n->unix_loaded)
		return 0;
	n->unix_loaded = true;
	sk = diag_socket(c, n, &e);
	if (sk < 0) {
		n->unix_errno = e;
		return 0;
	}
	memset(&req, 0, sizeof(req));
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = 0xffffffff;
	req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER;
	e = ins_netlink_dump(sk, SOCK_DIAG_BY_FAMILY, &req, sizeof(req), c->buf, c->bufsz, unix_cb, n);
	close(sk);
	if (e == ENOMEM)
		return -1;
	n->unix_errno = e;
	if (!c->unix_diag_errno && e)
		c->unix_diag_errno = e;
	return 0;
}

/* Without sock_diag: type, state and name from /proc/PID/net/unix (no peers). */
static int load_unix_proc(ins_ctx *c, ins_netns *n)
{
	char name[64], *line, *save = NULL;

	snprintf(name, sizeof(name), "%d/net/unix", (int)n->pid);
	if (ins_read_at(c->proc_fd, name, c->buf, c->bufsz) < 0)
		return 0;
	for (line = strtok_r(c->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long refc, proto, flags, type, st;
		unsigned long long ino;
		int consumed = 0;
		unix_ent e = { 0 };
		const char *path;

		if (sscanf(line, "%*[0-9a-fA-F]: %lx %lx %lx %lx %lx %llu%n", &refc, &proto, &flags, &type,
			   &st, &ino, &consumed) != 6)
			continue;
		path = line + consumed;
		while (*path == ' ')
			path++;
		e.ino = ino;
		e.type = (int)type;
		e.state = (flags & 0x10000) ? 10 : st == 3 ? 1 : 7;
		if (*path) {
			e.name = strdup(path);
			if (!e.name)
				return -1;
		}
		if (INS_GROW(n->u, &n->capu, n->nu) < 0 || ins_map_put(&n->uidx, e.ino, n->nu + 1) < 0) {
			free(e.name);
			return -1;
		}
		n->u[n->nu++] = e;
	}
	return 0;
}

/* ---- resolving ------------------------------------------------------------------- */

static ins_netns *get_netns(ins_ctx *c, const crpc_proc_info *p)
{
	ins_netns *n;

	for (size_t i = 0; i < c->n_netns; i++)
		if (c->netns[i].ns == p->ns[CRPC_NS_NET])
			return &c->netns[i];
	if (INS_GROW(c->netns, &c->cap_netns, c->n_netns) < 0)
		return NULL;
	n = &c->netns[c->n_netns++];
	memset(n, 0, sizeof(*n));
	n->ns = p->ns[CRPC_NS_NET];
	n->pid = p->pid;
	return n;
}

static int proto_table(const char *proto)
{
	if (!proto)
		return -1;
	for (int t = 0; t < T__COUNT; t++)
		if (strcmp(proto, tables[t].proto) == 0)
			return t;
	if (strcmp(proto, "UDPLITEv6") == 0)
		return T_UDPLITE6;
	return -1;
}

static void set_peer_from_owner(ins_ctx *c, crpc_fd_info *fi, uint64_t peer_ino)
{
	fi->peer_inode = peer_ino;
	fi->peer = ins_map_get(&c->sock_owner, peer_ino, NULL) ? CRPC_PEER_INSIDE : CRPC_PEER_OUTSIDE;
}

/*
 * The address a TCP socket that is in no table was connected to: one
 * closed by both ends while still open (CLOSE, unhashed) keeps it, and
 * SO_PEERNAME tells it where getpeername() does not. Read through a copy of
 * the socket (pidfd_getfd, Linux 5.6). 0 when there is none.
 */
/* An IPv4 or IPv6 socket address into an endpoint; false for another family or port 0. */
static bool endpoint_of(const struct sockaddr_storage *ss, crpc_inet_endpoint *e)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		if (!a->sin_port)
			return false;
		inet_ntop(AF_INET, &a->sin_addr, e->addr, sizeof(e->addr));
		e->port = ntohs(a->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		if (!a->sin6_port)
			return false;
		inet_ntop(AF_INET6, &a->sin6_addr, e->addr, sizeof(e->addr));
		e->port = ntohs(a->sin6_port);
		return true;
	}
	return false;
}

/*
 * The addresses of a TCP socket that is in no table: one closed by both
 * ends while still open (CLOSE, unhashed) keeps them, and SO_PEERNAME
 * tells the peer's where getpeername() does not. Read through a copy of
 * the socket (pidfd_getfd, Linux 5.6). Endpoints left alone when unknown.
 */
static void closed_addrs(pid_t pid, int fd, int family, crpc_inet_endpoint *local, crpc_inet_endpoint *remote)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
	struct sockaddr_storage ss;
	/* the kernel wants no more room than the family's address takes */
	socklen_t full = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	socklen_t len = full;
	crpc_inet_endpoint e;
	int pfd, sk;

	pfd = (int)syscall(SYS_pidfd_open, (long)pid, 0L);
	if (pfd < 0)
		return;
	sk = (int)syscall(SYS_pidfd_getfd, (long)pfd, (long)fd, 0L);
	close(pfd);
	if (sk < 0)
		return;
	memset(&ss, 0, sizeof(ss));
	if (getsockopt(sk, SOL_SOCKET, SO_PEERNAME, &ss, &len) == 0 && endpoint_of(&ss, &e)) {
		*remote = e;
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(sk, (struct sockaddr *)&ss, &len) == 0 && endpoint_of(&ss, &e))
			*local = e;
	}
	close(sk);
#else
	(void)pid;
	(void)fd;
	(void)family;
	(void)local;
	(void)remote;
#endif
}

static int resolve_inet(ins_ctx *c, ins_netns *n, pid_t pid, crpc_fd_info *fi)
{
	int t = proto_table(fi->protocol);
	uint64_t ix;
	const ins_inet_sock *s;
	uint8_t cl[16], cr[16];
	uint64_t v;

	if (t < 0)
		return 0;
	if (load_table(c, n, t) < 0)
		return -1;
	fi->sock_type = fi->type == CRPC_FD_TCP   ? SOCK_STREAM
			: fi->type == CRPC_FD_UDP ? SOCK_DGRAM
						  : SOCK_RAW;
	if (!ins_map_get(&n->idx[t], fi->inode, &ix)) {
		/* not hashed: neither bound nor connected (CLOSE) */
		fi->state = 7;
		fi->peer = CRPC_PEER_NONE;
		snprintf(fi->local.addr, sizeof(fi->local.addr), "%s",
			 fi->family == AF_INET6 ? "::" : "0.0.0.0");
		snprintf(fi->remote.addr, sizeof(fi->remote.addr), "%s", fi->local.addr);
		if (fi->type == CRPC_FD_TCP)
			closed_addrs(pid, fi->fd, fi->family, &fi->local, &fi->remote);
		return 0;
	}
	s = &n->tab[t][ix - 1];
	fi->state = s->state;
	fi->local = s->local;
	fi->remote = s->remote;
	fi->rx_queue = s->rx_queue;
	fi->tx_queue = s->tx_queue;
	fi->peer = CRPC_PEER_NONE;
	if (fi->type == CRPC_FD_RAW || s->state == 10 /* LISTEN */ || s->state == 7 /* CLOSE */ ||
	    s->remote.port == 0)
		return 0;
	/* the other end on this host: local and remote swapped, in either family's table */
	if (t <= T_TCP6) {
		if (load_table(c, n, T_TCP) < 0 || load_table(c, n, T_TCP6) < 0)
			return -1;
	} else if (t <= T_UDP6) {
		if (load_table(c, n, T_UDP) < 0 || load_table(c, n, T_UDP6) < 0)
			return -1;
	}
	canon(s->lraw, s->family, cl);
	canon(s->rraw, s->family, cr);
	fi->peer = CRPC_PEER_REMOTE;
	if (ins_map_get(&n->tuples, tuple_hash(cr, s->remote.port, cl, s->local.port, table_kind(t)), &v)) {
		int pt = (int)((v - 1) >> 32);
		const ins_inet_sock *e = &n->tab[pt][(v - 1) & 0xffffffffu];
		uint8_t el[16], er[16];

		canon(e->lraw, e->family, el);
		canon(e->rraw, e->family, er);
		if (memcmp(el, cr, 16) == 0 && memcmp(er, cl, 16) == 0 && e->local.port == s->remote.port &&
		    e->remote.port == s->local.port) {
			if (e->inode)
				set_peer_from_owner(c, fi, e->inode);
			else
				fi->peer = CRPC_PEER_NONE; /* held by no process (closing) */
		}
	}
	return 0;
}

static int resolve_unix(ins_ctx *c, ins_netns *n, crpc_fd_info *fi)
{
	uint64_t ix;
	const unix_ent *e;

	if (load_unix(c, n) < 0)
		return -1;
	if (n->unix_errno && !n->nu && load_unix_proc(c, n) < 0)
		return -1;
	if (!ins_map_get(&n->uidx, fi->inode, &ix)) {
		fi->peer = CRPC_PEER_UNKNOWN;
		return 0;
	}
	e = &n->u[ix - 1];
	fi->sock_type = e->type;
	fi->state = e->state;
	if (e->name) {
		fi->name = strdup(e->name);
		if (!fi->name)
			return -1;
		fi->abstract = e->name[0] == '@';
	}
	if (n->unix_errno) {
		fi->peer = CRPC_PEER_UNKNOWN;
		return 0;
	}
	if (!e->peer) {
		fi->peer = CRPC_PEER_NONE;
		return 0;
	}
	set_peer_from_owner(c, fi, e->peer);
	if (ins_map_get(&n->uidx, e->peer, &ix) && n->u[ix - 1].name) {
		fi->peer_name = strdup(n->u[ix - 1].name);
		if (!fi->peer_name)
			return -1;
	}
	return 0;
}

/* ---- outside holders ---------------------------------------------------------------- */

typedef struct holder {
	uint64_t ino;
	pid_t pid;
} holder;

static int cmp_holder(const void *a, const void *b)
{
	const holder *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Walk every process outside the tree for fds on the wanted pipe/socket inodes. */
static int find_holders(ins_ctx *c, const ins_map *want, holder **out, size_t *n_out)
{
	ins_map tree = { 0 };
	size_t cap = 0;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < c->r->n_procs; i++)
		if (ins_map_put(&tree, (uint64_t)c->r->procs[i].pid, 1) < 0)
			goto oom;
	d = io_opendir_at(c->proc_fd, ".");
	if (!d) {
		ins_map_free(&tree);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char path[48], link[64];
		struct dirent *fe;
		DIR *fdd;
		long pid;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || ins_map_get(&tree, (uint64_t)pid, NULL))
			continue;
		snprintf(path, sizeof(path), "%ld/fd", pid);
		fdd = io_opendir_at(c->proc_fd, path);
		if (!fdd)
			continue;
		while ((fe = readdir(fdd)) != NULL) {
			ssize_t l;
			uint64_t ino;
			const char *b;

			if (!isdigit((unsigned char)fe->d_name[0]))
				continue;
			l = readlinkat(dirfd(fdd), fe->d_name, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = '\0';
			if (strncmp(link, "pipe:[", 6) != 0 && strncmp(link, "socket:[", 8) != 0)
				continue;
			b = strchr(link, '[');
			ino = strtoull(b + 1, NULL, 10);
			if (!ins_map_get(want, ino, NULL))
				continue;
			if (INS_GROW((*out), &cap, *n_out) < 0) {
				closedir(fdd);
				closedir(d);
				goto oom;
			}
			(*out)[(*n_out)++] = (holder){ ino, (pid_t)pid };
		}
		closedir(fdd);
	}
	closedir(d);
	ins_map_free(&tree);
	if (*n_out)
		qsort(*out, *n_out, sizeof(**out), cmp_holder);
	return 0;
oom:
	ins_map_free(&tree);
	free(*out);
	*out = NULL;
	*n_out = 0;
	return -1;
}

static int add_holders(crpc_fd_info *fi, uint64_t ino, const holder *h, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (h[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && h[lo].ino == ino; lo++)
		if (ins_pid_add(&fi->peer_pids, &fi->n_peer_pids, h[lo].pid) < 0)
			return -1;
	return 0;
}

static int name_outside_peers(ins_ctx *c)
{
	crpc_inspect_result *r = c->r;
	ins_map want = { 0 };
	holder *h = NULL;
	size_t nh = 0;
	int rc = -1;

	for (size_t i = 0; i < r->n_procs; i++)
		for (size_t f = 0; f < r->procs[i].n_fds; f++) {
			const crpc_fd_info *fi = &r->procs[i].fds[f];

			if (fi->peer != CRPC_PEER_OUTSIDE)
				continue;
			if (fi->type == CRPC_FD_PIPE && ins_map_put(&want, fi->inode, 1) < 0)
				goto out;
			if (fi->peer_inode && ins_map_put(&want, fi->peer_inode, 1) < 0)
				goto out;
		}
	if (!want.n)
		return 0;
	if (find_holders(c, &want, &h, &nh) < 0)
		goto out;
	for (size_t i = 0; i < r->n_procs; i++)
		for (size_t f = 0; f < r->procs[i].n_fds; f++) {
			crpc_fd_info *fi = &r->procs[i].fds[f];

			if (fi->peer != CRPC_PEER_OUTSIDE)
				continue;
			if (fi->type == CRPC_FD_PIPE) {
				if (add_holders(fi, fi->inode, h, nh) < 0)
					goto out;
				if (!fi->n_peer_pids)
					fi->peer = CRPC_PEER_NONE; /* the other end is closed */
			} else if (fi->peer_inode && add_holders(fi, fi->peer_inode, h, nh) < 0) {
				goto out;
			}
		}
	rc = 0;
out:
	free(h);
	ins_map_free(&want);
	return rc;
}

int ins_resolve_net(ins_ctx *c, crpc_error **err)
{
	crpc_inspect_result *r = c->r;

	for (size_t i = 0; i < r->n_procs; i++) {
		crpc_proc_info *p = &r->procs[i];
		ins_netns *n = NULL;

		for (size_t f = 0; f < p->n_fds; f++) {
			crpc_fd_info *fi = &p->fds[f];
			int rc = 0;

			switch (fi->type) {
			case CRPC_FD_TCP:
			case CRPC_FD_UDP:
			case CRPC_FD_RAW:
			case CRPC_FD_UNIX:
				if (!n && !(n = get_netns(c, p)))
					goto oom;
				rc = fi->type == CRPC_FD_UNIX ? resolve_unix(c, n, fi)
							      : resolve_inet(c, n, p->pid, fi);
				break;
			case CRPC_FD_NETLINK:
			case CRPC_FD_PACKET:
				fi->peer = CRPC_PEER_NONE;
				if (!n && !(n = get_netns(c, p)))
					goto oom;
				break;
			case CRPC_FD_PIPE: {
				uint64_t bits = 0;

				ins_map_get(&c->pipe_ends, fi->inode, &bits);
				fi->peer = bits == 3 ? CRPC_PEER_INSIDE : CRPC_PEER_OUTSIDE;
				break;
			}
			case CRPC_FD_FIFO: {
				uint64_t bits = 0;
				uint64_t key = ins_fifo_key(fi->dev, fi->inode);

				ins_map_get(&c->fifo_ends, key, &bits);
				fi->peer = bits == 3 ? CRPC_PEER_INSIDE : CRPC_PEER_OUTSIDE;
				break;
			}
			default:
				break;
			}
			if (rc < 0)
				goto oom;
		}
	}
	if ((c->flags & CRPC_INSPECT_PEER_PIDS) && name_outside_peers(c) < 0)
		goto oom;
	return 0;
oom:
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
}

void ins_net_free(ins_ctx *c)
{
	for (size_t i = 0; i < c->n_netns; i++) {
		ins_netns *n = &c->netns[i];

		for (int t = 0; t < T__COUNT; t++) {
			free(n->tab[t]);
			ins_map_free(&n->idx[t]);
		}
		ins_map_free(&n->tuples);
		for (size_t k = 0; k < n->nu; k++)
			free(n->u[k].name);
		free(n->u);
		ins_map_free(&n->uidx);
	}
	free(c->netns);
	c->netns = NULL;
	c->n_netns = c->cap_netns = 0;
}

/* ---- kernel features ------------------------------------------------------------------ */

/* Whether a sock_diag dump for this family/protocol works here: 0 or an errno. */
static int probe_diag(ins_ctx *c, int family, int protocol)
{
	union {
		struct {
			struct nlmsghdr h;
			struct inet_diag_req_v2 r;
		} inet;
		struct {
			struct nlmsghdr h;
			struct packet_diag_req r;
		} packet;
		struct {
			struct nlmsghdr h;
			struct netlink_diag_req r;
		} netlink;
	} req;
	size_t len;
	int sk, e;

	memset(&req, 0, sizeof(req));
	sk = diag_socket(c, NULL, &e);
	if (sk < 0)
		return e;
	if (family == AF_INET || family == AF_INET6) {
		req.inet.r.sdiag_family = (uint8_t)family;
		req.inet.r.sdiag_protocol = (uint8_t)protocol;
		req.inet.r.idiag_states = 0; /* match nothing: only whether the module answers */
		len = sizeof(req.inet);
	} else if (family == AF_PACKET) {
		req.packet.r.sdiag_family = AF_PACKET;
		len = sizeof(req.packet);
	} else {
		req.netlink.r.sdiag_family = AF_NETLINK;
		req.netlink.r.sdiag_protocol = NDIAG_PROTO_ALL;
		len = sizeof(req.netlink);
	}
	e = ins_netlink_dump(sk, SOCK_DIAG_BY_FAMILY, &req, len, c->buf, c->bufsz, NULL, NULL);
	close(sk);
	return e == ENOMEM ? 0 : e;
}

void ins_check_net_features(ins_ctx *c)
{
	crpc_inspect_result *r = c->r;
	bool tcp = false, udp = false, unx = false, pkt = false, nl = false, est = false;

	for (size_t i = 0; i < r->n_procs; i++)
		for (size_t f = 0; f < r->procs[i].n_fds; f++) {
			const crpc_fd_info *fi = &r->procs[i].fds[f];

			tcp |= fi->type == CRPC_FD_TCP;
			udp |= fi->type == CRPC_FD_UDP;
			unx |= fi->type == CRPC_FD_UNIX;
			pkt |= fi->type == CRPC_FD_PACKET;
			nl |= fi->type == CRPC_FD_NETLINK;
			est |= fi->type == CRPC_FD_TCP && fi->state != 10 && fi->state != 7 && fi->state != 0;
		}
	if (unx && c->unix_diag_errno && c->unix_diag_errno != EPERM && c->unix_diag_errno != EACCES)
		ins_strv_addf(&r->missing_features, &r->n_missing_features,
			      "sock_diag for UNIX sockets (CONFIG_UNIX_DIAG): %s",
			      strerror(c->unix_diag_errno));
	if (tcp && probe_diag(c, AF_INET, IPPROTO_TCP) == ENOENT)
		ins_strv_addf(&r->missing_features, &r->n_missing_features,
			      "sock_diag for TCP sockets (CONFIG_INET_TCP_DIAG)");
	if (udp && probe_diag(c, AF_INET, IPPROTO_UDP) == ENOENT)
		ins_strv_addf(&r->missing_features, &r->n_missing_features,
			      "sock_diag for UDP sockets (CONFIG_INET_UDP_DIAG)");
	if (pkt && probe_diag(c, AF_PACKET, 0) == ENOENT)
		ins_strv_addf(&r->missing_features, &r->n_missing_features,
			      "sock_diag for packet sockets (CONFIG_PACKET_DIAG)");
	if (nl && probe_diag(c, AF_NETLINK, 0) == ENOENT)
		ins_strv_addf(&r->missing_features, &r->n_missing_features,
			      "sock_diag for netlink sockets (CONFIG_NETLINK_DIAG)");
	if (est) {
		int one = 1;
		int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (sk >= 0) {
			if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) < 0 &&
			    (errno == ENOPROTOOPT || errno == EINVAL))
				ins_strv_addf(
					&r->missing_features, &r->n_missing_features,
					"TCP repair mode (TCP_REPAIR), needed to checkpoint TCP connections");
			close(sk);
		}
	}
}
