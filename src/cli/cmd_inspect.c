/* SPDX-License-Identifier: MIT */
/* cmd_inspect.c - crpc inspect PID: what a process tree holds and what a dump of it needs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include "cli.h"

const char crpc_help_inspect[] =
	"Usage: crpc inspect [OPTIONS] PID|CONTAINER\n"
	"\n"
	"Read /proc for the process tree rooted at PID and show what it holds: its\n"
	"processes and threads (state, parent, process group, session, tracer), every\n"
	"open file descriptor classified (TCP, UDP, UNIX sockets with their peers inside\n"
	"or outside the tree, pipes and FIFOs, eventfd, signalfd, timerfd, inotify,\n"
	"fanotify, epoll, io_uring, memfd, regular and deleted files with the mount\n"
	"they are on, devices, terminals), file locks, namespaces that differ from\n"
	"crpc's own, cgroups and memory. Then the verdict: the CRIU options a dump of\n"
	"this tree needs, each with its reason, and the blockers that make a dump\n"
	"impossible or unsafe (a zombie or kernel thread, a traced task, io_uring, a\n"
	"missing kernel feature, ...). Nothing is changed and CRIU is not started.\n"
	"'crpc dump' runs the same inspection first and sets the options itself.\n"
	"A CONTAINER (runc:ID, podman:NAME, docker:NAME, or a name that is not a\n"
	"number) is inspected from its init process; its own namespaces are expected\n"
	"of it and not listed as warnings.\n"
	"Must run as root.\n"
	"\n"
	"Options:\n"
	"      --runc-root DIR     runc's state directory for runc:ID (runc --root)\n" CRPC_CLI_HELP_COMMON
	"\n"
	"With -v, also the threads of each process and each fd's flags and position.\n"
	"\n"
	"Examples:\n"
	"  crpc inspect 1234\n"
	"  crpc inspect --json 1234 | jq '.options'\n"
	"  crpc inspect podman:db\n"
	"\n"
	"Exit codes:\n"
	"  0  inspected: the tree can be checkpointed (with the options shown)\n"
	"  1  inspected, but there are blockers; or the process does not exist or\n"
	"     exited while it was inspected (ESRCH); or the container is not running\n"
	"  2  usage error, no such container, a name several containers carry\n"
	"  3  not running as root, the container's engine not installed\n";

enum {
	OPT_RUNC_ROOT = CLI_OPT_FIRST_CMD,
};

static const struct option inspect_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "runc-root", required_argument, NULL, OPT_RUNC_ROOT },
	{ NULL, 0, NULL, 0 },
};

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *endpoint_json(const crpc_inet_endpoint *e)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "addr", crpc_cli_jstr(e->addr));
	crpc_cli_jset(o, "port", json_integer(e->port));
	return o;
}

static json_t *pids_json(const pid_t *v, size_t n)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < n; i++)
		crpc_cli_jappend(a, json_integer(v[i]));
	return a;
}

static const char *access_str(unsigned flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return "r";
	case O_WRONLY:
		return "w";
	default:
		return "rw";
	}
}

static json_t *mem_json(const crpc_mem_info *m)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "rss_bytes", json_integer((json_int_t)m->rss));
	crpc_cli_jset(o, "anon_bytes", json_integer((json_int_t)m->anon));
	crpc_cli_jset(o, "file_bytes", json_integer((json_int_t)m->file));
	crpc_cli_jset(o, "shmem_bytes", json_integer((json_int_t)m->shmem));
	return o;
}

static json_t *file_fields(json_t *o, const crpc_fd_info *fi)
{
	crpc_cli_jset(o, "path", crpc_cli_jstr(fi->path));
	crpc_cli_jset(o, "size", fi->size >= 0 ? json_integer(fi->size) : json_null());
	crpc_cli_jset(o, "blocks_bytes", json_integer((json_int_t)fi->blocks_bytes));
	crpc_cli_jset(o, "nlink", json_integer((json_int_t)fi->nlink));
	crpc_cli_jset(o, "deleted", json_boolean(fi->deleted));
	crpc_cli_jset(o, "mount_id", fi->mount_id >= 0 ? json_integer(fi->mount_id) : json_null());
	crpc_cli_jset(o, "mount", crpc_cli_jstr(fi->mount));
	crpc_cli_jset(o, "fstype", crpc_cli_jstr(fi->fstype));
	if (fi->deleted && fi->nlink > 0)
		crpc_cli_jset(o, "path_reused", json_boolean(fi->path_reused));
	return o;
}

static json_t *fd_json(const crpc_fd_info *fi)
{
	json_t *o = crpc_cli_jobj();
	char rdev[32];

	crpc_cli_jset(o, "fd", json_integer(fi->fd));
	crpc_cli_jset(o, "type", crpc_cli_jstr(crpc_fd_type_name(fi->type)));
	crpc_cli_jset(o, "target", crpc_cli_jstr(fi->target));
	crpc_cli_jset(o, "inode", json_integer((json_int_t)fi->inode));
	crpc_cli_jset(o, "flags", fi->have_fdinfo ? json_integer(fi->flags) : json_null());
	crpc_cli_jset(o, "pos", fi->have_fdinfo ? json_integer((json_int_t)fi->pos) : json_null());
	crpc_cli_jset(o, "access", fi->have_fdinfo ? crpc_cli_jstr(access_str(fi->flags)) : json_null());
	snprintf(rdev, sizeof(rdev), "%u:%u", major(fi->rdev), minor(fi->rdev));
	switch (fi->type) {
	case CRPC_FD_TCP:
	case CRPC_FD_UDP:
	case CRPC_FD_RAW:
		crpc_cli_jset(o, "protocol", crpc_cli_jstr(fi->protocol));
		crpc_cli_jset(o, "family", crpc_cli_jstr(fi->family == AF_INET6 ? "ipv6" : "ipv4"));
		crpc_cli_jset(o, "state", crpc_cli_jstr(fi->state ? crpc_tcp_state_name(fi->state) : NULL));
		crpc_cli_jset(o, "local", endpoint_json(&fi->local));
		crpc_cli_jset(o, "remote", endpoint_json(&fi->remote));
		crpc_cli_jset(o, "rx_queue", json_integer(fi->rx_queue));
		crpc_cli_jset(o, "tx_queue", json_integer(fi->tx_queue));
		crpc_cli_jset(o, "peer", crpc_cli_jstr(crpc_peer_name(fi->peer)));
		crpc_cli_jset(o, "peer_inode",
			      fi->peer_inode ? json_integer((json_int_t)fi->peer_inode) : json_null());
		crpc_cli_jset(o, "peer_pids", pids_json(fi->peer_pids, fi->n_peer_pids));
		break;
	case CRPC_FD_UNIX:
		crpc_cli_jset(o, "protocol", crpc_cli_jstr(fi->protocol));
		crpc_cli_jset(o, "sock_type",
			      crpc_cli_jstr(fi->sock_type ? crpc_sock_type_name(fi->sock_type) : NULL));
		crpc_cli_jset(o, "state", crpc_cli_jstr(fi->state ? crpc_tcp_state_name(fi->state) : NULL));
		crpc_cli_jset(o, "name", crpc_cli_jstr(fi->name));
		crpc_cli_jset(o, "abstract", json_boolean(fi->abstract));
		crpc_cli_jset(o, "peer", crpc_cli_jstr(crpc_peer_name(fi->peer)));
		crpc_cli_jset(o, "peer_inode",
			      fi->peer_inode ? json_integer((json_int_t)fi->peer_inode) : json_null());
		crpc_cli_jset(o, "peer_name", crpc_cli_jstr(fi->peer_name));
		crpc_cli_jset(o, "peer_pids", pids_json(fi->peer_pids, fi->n_peer_pids));
		break;
	case CRPC_FD_NETLINK:
	case CRPC_FD_PACKET:
	case CRPC_FD_SOCKET:
		crpc_cli_jset(o, "protocol", crpc_cli_jstr(fi->protocol));
		break;
	case CRPC_FD_PIPE:
	case CRPC_FD_FIFO:
		if (fi->type == CRPC_FD_FIFO)
			file_fields(o, fi);
		crpc_cli_jset(o, "peer", crpc_cli_jstr(crpc_peer_name(fi->peer)));
		crpc_cli_jset(o, "peer_pids", pids_json(fi->peer_pids, fi->n_peer_pids));
		break;
	case CRPC_FD_EVENTFD:
		crpc_cli_jset(o, "count", json_integer((json_int_t)fi->count));
		break;
	case CRPC_FD_SIGNALFD:
		crpc_cli_jset(o, "sigmask", crpc_cli_jstr(fi->sigmask));
		break;
	case CRPC_FD_TIMERFD:
		crpc_cli_jset(o, "clockid", json_integer(fi->clockid));
		crpc_cli_jset(o, "ticks", json_integer((json_int_t)fi->ticks));
		crpc_cli_jset(o, "interval_ns", json_integer((json_int_t)fi->interval_ns));
		crpc_cli_jset(o, "value_ns", json_integer((json_int_t)fi->value_ns));
		break;
	case CRPC_FD_INOTIFY:
		crpc_cli_jset(o, "watches", json_integer(fi->watches));
		break;
	case CRPC_FD_FANOTIFY:
		crpc_cli_jset(o, "marks", json_integer(fi->watches));
		break;
	case CRPC_FD_EPOLL: {
		json_t *t = crpc_cli_jarray();

		for (size_t i = 0; i < fi->n_targets; i++)
			crpc_cli_jappend(t, json_integer(fi->targets[i]));
		crpc_cli_jset(o, "watches", json_integer(fi->watches));
		crpc_cli_jset(o, "targets", t);
		break;
	}
	case CRPC_FD_MEMFD:
		crpc_cli_jset(o, "name", crpc_cli_jstr(fi->name));
		crpc_cli_jset(o, "size", fi->size >= 0 ? json_integer(fi->size) : json_null());
		break;
	case CRPC_FD_FILE:
	case CRPC_FD_DIR:
		file_fields(o, fi);
		break;
	case CRPC_FD_DEVICE:
	case CRPC_FD_TTY:
	case CRPC_FD_PTY:
		crpc_cli_jset(o, "path", crpc_cli_jstr(fi->path));
		crpc_cli_jset(o, "rdev", crpc_cli_jstr(rdev));
		crpc_cli_jset(o, "dev_type", crpc_cli_jstr(fi->block_device ? "block" : "char"));
		crpc_cli_jset(o, "mount", crpc_cli_jstr(fi->mount));
		if (fi->type == CRPC_FD_PTY) {
			crpc_cli_jset(o, "pty_side", crpc_cli_jstr(fi->pty_master ? "master" : "slave"));
			crpc_cli_jset(o, "index",
				      fi->pty_index >= 0 ? json_integer(fi->pty_index) : json_null());
			if (!fi->pty_master)
				crpc_cli_jset(o, "master_closed", json_boolean(fi->pty_master_closed));
		}
		break;
	case CRPC_FD_NSFILE:
		crpc_cli_jset(o, "path", crpc_cli_jstr(fi->path));
		break;
	default:
		break;
	}
	return o;
}

static json_t *proc_json(const crpc_inspect_result *r, const crpc_proc_info *p)
{
	json_t *o = crpc_cli_jobj(), *th = crpc_cli_jarray(), *fds = crpc_cli_jarray(), *ns = crpc_cli_jobj();
	json_t *cg = crpc_cli_jarray(), *md = crpc_cli_jarray();
	char st[2] = { p->state, 0 };

	crpc_cli_jset(o, "pid", json_integer(p->pid));
	crpc_cli_jset(o, "ppid", json_integer(p->ppid));
	crpc_cli_jset(o, "pgid", json_integer(p->pgid));
	crpc_cli_jset(o, "sid", json_integer(p->sid));
	crpc_cli_jset(o, "comm", crpc_cli_jstr(p->comm));
	crpc_cli_jset(o, "state", crpc_cli_jstr(p->state ? st : NULL));
	crpc_cli_jset(o, "tracer_pid", json_integer(p->tracer_pid));
	crpc_cli_jset(o, "kernel_thread", json_boolean(p->kernel_thread));
	crpc_cli_jset(o, "zombie", json_boolean(p->zombie));
	crpc_cli_jset(o, "stopped", json_boolean(p->stopped));
	crpc_cli_jset(o, "traced", json_boolean(p->traced));
	crpc_cli_jset(o, "gone", json_boolean(p->gone));
	crpc_cli_jset(o, "fds_readable", json_boolean(!p->fds_unreadable));
	crpc_cli_jset(o, "tty_nr", json_integer(p->tty_nr));
	crpc_cli_jset(o, "tty", p->tty[0] ? crpc_cli_jstr(p->tty) : json_null());
	crpc_cli_jset(o, "ns_pid", json_integer(p->ns_pid));
	for (size_t i = 0; i < p->n_threads; i++) {
		json_t *t = crpc_cli_jobj();
		char ts[2] = { p->threads[i].state, 0 };

		crpc_cli_jset(t, "tid", json_integer(p->threads[i].tid));
		crpc_cli_jset(t, "comm", crpc_cli_jstr(p->threads[i].comm));
		crpc_cli_jset(t, "state", crpc_cli_jstr(ts));
		crpc_cli_jset(t, "tracer_pid", json_integer(p->threads[i].tracer_pid));
		crpc_cli_jappend(th, t);
	}
	crpc_cli_jset(o, "threads", th);
	for (size_t i = 0; i < p->n_fds; i++)
		crpc_cli_jappend(fds, fd_json(&p->fds[i]));
	crpc_cli_jset(o, "fds", fds);
	for (size_t i = 0; i < p->n_mapped_deleted; i++)
		crpc_cli_jappend(md, file_fields(crpc_cli_jobj(), &p->mapped_deleted[i]));
	crpc_cli_jset(o, "mapped_deleted", md);
	crpc_cli_jset(o, "memory", mem_json(&p->mem));
	for (int t = 0; t < CRPC_NS__COUNT; t++)
		if (p->ns[t] && p->ns[t] != r->self_ns[t])
			crpc_cli_jset(ns, crpc_ns_type_name((crpc_ns_type)t),
				      json_integer((json_int_t)p->ns[t]));
	crpc_cli_jset(o, "namespaces", ns);
	for (size_t i = 0; i < p->n_cgroups; i++) {
		json_t *c = crpc_cli_jobj();

		crpc_cli_jset(c, "hierarchy", json_integer(p->cgroups[i].hierarchy));
		crpc_cli_jset(c, "controllers", crpc_cli_jstr(p->cgroups[i].controllers));
		crpc_cli_jset(c, "path", crpc_cli_jstr(p->cgroups[i].path));
		crpc_cli_jappend(cg, c);
	}
	crpc_cli_jset(o, "cgroups", cg);
	return o;
}

json_t *crpc_cli_verdict_items_json(const crpc_verdict_item *v, size_t n, const char *key, bool with_value)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < n; i++) {
		const crpc_verdict_item *it = &v[i];
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, key, crpc_cli_jstr(it->name));
		if (with_value) {
			switch (it->kind) {
			case CRPC_VALUE_BOOL:
				crpc_cli_jset(o, "value", json_boolean(it->b));
				break;
			case CRPC_VALUE_UINT:
				crpc_cli_jset(o, "value", json_integer((json_int_t)it->u));
				break;
			case CRPC_VALUE_STRING:
				crpc_cli_jset(o, "value", crpc_cli_jstr(it->s));
				break;
			}
		}
		crpc_cli_jset(o, "reason", crpc_cli_jstr(it->reason));
		crpc_cli_jset(o, "pid", it->pid > 0 ? json_integer(it->pid) : json_null());
		crpc_cli_jset(o, "fd", it->fd >= 0 ? json_integer(it->fd) : json_null());
		crpc_cli_jappend(a, o);
	}
	return a;
}

/* The tree's own namespaces: what CRIU must be told about them. */
static json_t *own_ns_json(const crpc_ns_tree *t)
{
	json_t *o = crpc_cli_jobj(), *own = crpc_cli_jarray(), *mounts = crpc_cli_jarray();
	json_t *files = crpc_cli_jarray(), *devs = crpc_cli_jarray(), *sharers = crpc_cli_jarray();

	for (int ty = 0; ty < CRPC_NS__COUNT; ty++)
		if (t->own & (1u << ty))
			crpc_cli_jappend(own, crpc_cli_jstr(crpc_ns_type_name((crpc_ns_type)ty)));
	crpc_cli_jset(o, "own", own);
	crpc_cli_jset(o, "pid_init", json_boolean(t->pid_init));
	crpc_cli_jset(o, "pid_ns_init", t->pid_ns_init > 0 ? json_integer(t->pid_ns_init) : json_null());
	crpc_cli_jset(o, "root", crpc_cli_jstr(t->root));
	for (size_t i = 0; i < t->n_mounts; i++) {
		const crpc_ns_mount *m = &t->mounts[i];
		json_t *e = crpc_cli_jobj();

		crpc_cli_jset(e, "mountpoint", crpc_cli_jstr(m->mountpoint));
		crpc_cli_jset(e, "fstype", crpc_cli_jstr(m->fstype));
		crpc_cli_jset(e, "how", crpc_cli_jstr(crpc_ns_mount_how_name(m->how)));
		crpc_cli_jset(e, "source", crpc_cli_jstr(m->source));
		crpc_cli_jappend(mounts, e);
	}
	crpc_cli_jset(o, "mounts", mounts);
	for (size_t i = 0; i < t->n_files; i++) {
		const crpc_ns_file *f = &t->files[i];
		json_t *e = crpc_cli_jobj();

		crpc_cli_jset(e, "pid", json_integer(f->pid));
		crpc_cli_jset(e, "fd", json_integer(f->fd));
		crpc_cli_jset(e, "path", crpc_cli_jstr(f->path));
		crpc_cli_jset(e, "external", crpc_cli_jstr(f->key));
		crpc_cli_jappend(files, e);
	}
	crpc_cli_jset(o, "outside_files", files);
	for (size_t i = 0; i < t->n_netdevs; i++) {
		const crpc_ns_netdev *d = &t->netdevs[i];
		json_t *e = crpc_cli_jobj();

		crpc_cli_jset(e, "name", crpc_cli_jstr(d->name));
		crpc_cli_jset(e, "kind", crpc_cli_jstr(d->kind));
		crpc_cli_jset(e, "peer_outside", json_boolean(d->peer_outside));
		crpc_cli_jset(e, "peer", d->peer_here ? crpc_cli_jstr(d->peer_name) : json_null());
		crpc_cli_jset(e, "peer_bridge",
			      d->peer_master[0] ? crpc_cli_jstr(d->peer_master) : json_null());
		crpc_cli_jset(e, "peer_addrs", d->peer_addrs[0] ? crpc_cli_jstr(d->peer_addrs) : json_null());
		crpc_cli_jappend(devs, e);
	}
	crpc_cli_jset(o, "netdevs", devs);
	for (size_t i = 0; i < t->n_sharers; i++) {
		const crpc_ns_sharer *s = &t->sharers[i];
		json_t *e = crpc_cli_jobj();

		crpc_cli_jset(e, "type", crpc_cli_jstr(crpc_ns_type_name(s->type)));
		crpc_cli_jset(e, "pid", json_integer(s->pid));
		crpc_cli_jset(e, "comm", crpc_cli_jstr(s->comm));
		crpc_cli_jset(e, "ancestor", json_boolean(s->ancestor));
		crpc_cli_jappend(sharers, e);
	}
	crpc_cli_jset(o, "outside_processes", sharers);
	return o;
}

json_t *crpc_cli_inspect_json(const crpc_inspect_result *r, const crpc_verdict *v)
{
	json_t *doc = crpc_cli_jobj(), *procs = crpc_cli_jarray(), *locks = crpc_cli_jarray();
	json_t *ns = crpc_cli_jarray();

	crpc_cli_jset(doc, "ok", json_true());
	crpc_cli_jset(doc, "operation", crpc_cli_jstr("inspect"));
	crpc_cli_jset(doc, "pid", json_integer(r->root));
	crpc_cli_jset(doc, "dumpable", json_boolean(v->n_blockers == 0));
	crpc_cli_jset(doc, "elapsed_ms", json_real(r->elapsed * 1e3));
	crpc_cli_jset(doc, "n_processes", json_integer((json_int_t)r->n_procs));
	crpc_cli_jset(doc, "n_threads", json_integer((json_int_t)r->n_threads));
	crpc_cli_jset(doc, "n_fds", json_integer((json_int_t)r->n_fds));
	for (size_t i = 0; i < r->n_procs; i++)
		crpc_cli_jappend(procs, proc_json(r, &r->procs[i]));
	crpc_cli_jset(doc, "processes", procs);
	for (size_t i = 0; i < r->n_locks; i++) {
		const crpc_lock_info *l = &r->locks[i];
		json_t *o = crpc_cli_jobj();
		char dev[32];

		snprintf(dev, sizeof(dev), "%02x:%02x", l->dev_major, l->dev_minor);
		crpc_cli_jset(o, "pid", json_integer(l->pid));
		crpc_cli_jset(o, "fd", l->fd >= 0 ? json_integer(l->fd) : json_null());
		crpc_cli_jset(o, "class", crpc_cli_jstr(l->lock_class));
		crpc_cli_jset(o, "kind", crpc_cli_jstr(l->kind));
		crpc_cli_jset(o, "mode", crpc_cli_jstr(l->mode));
		crpc_cli_jset(o, "dev", crpc_cli_jstr(dev));
		crpc_cli_jset(o, "inode", json_integer((json_int_t)l->inode));
		crpc_cli_jset(o, "start", json_integer((json_int_t)l->start));
		crpc_cli_jset(o, "end", l->end >= 0 ? json_integer(l->end) : json_null());
		crpc_cli_jset(o, "path", crpc_cli_jstr(l->path));
		crpc_cli_jappend(locks, o);
	}
	crpc_cli_jset(doc, "locks", locks);
	for (size_t i = 0; i < r->n_ns; i++) {
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, "type", crpc_cli_jstr(crpc_ns_type_name(r->ns[i].type)));
		crpc_cli_jset(o, "inode", json_integer((json_int_t)r->ns[i].inode));
		crpc_cli_jset(o, "pids", pids_json(r->ns[i].pids, r->ns[i].n_pids));
		crpc_cli_jappend(ns, o);
	}
	crpc_cli_jset(doc, "namespaces", ns);
	crpc_cli_jset(doc, "own_namespaces", own_ns_json(&r->nst));
	crpc_cli_jset(doc, "memory", mem_json(&r->mem));
	crpc_cli_jset(doc, "options", crpc_cli_verdict_items_json(v->options, v->n_options, "option", true));
	crpc_cli_jset(doc, "blockers",
		      crpc_cli_verdict_items_json(v->blockers, v->n_blockers, "blocker", false));
	crpc_cli_jset(doc, "warnings",
		      crpc_cli_verdict_items_json(v->warnings, v->n_warnings, "warning", false));
	return doc;
}

/* ---- human output ------------------------------------------------------------------------ */

/* The process and fd of the tree holding socket inode ino (for "peer inside"). */
static bool find_holder(const crpc_inspect_result *r, uint64_t ino, const crpc_proc_info **pp, int *fd)
{
	for (size_t i = 0; i < r->n_procs; i++)
		for (size_t f = 0; f < r->procs[i].n_fds; f++)
			if (r->procs[i].fds[f].inode == ino && r->procs[i].fds[f].type != CRPC_FD_FILE) {
				*pp = &r->procs[i];
				*fd = r->procs[i].fds[f].fd;
				return true;
			}
	return false;
}

static void peer_text(const crpc_inspect_result *r, const crpc_fd_info *fi, char *buf, size_t bufsz)
{
	const crpc_proc_info *p;
	int fd;

	switch (fi->peer) {
	case CRPC_PEER_INSIDE:
		if (fi->peer_inode && find_holder(r, fi->peer_inode, &p, &fd))
			snprintf(buf, bufsz, "peer inside: PID %d (%s) fd %d", (int)p->pid, p->comm, fd);
		else
			snprintf(buf, bufsz, "peer inside the tree");
		return;
	case CRPC_PEER_OUTSIDE:
		if (fi->n_peer_pids) {
			char comm[64] = "?";
			FILE *f;
			char path[64];

			snprintf(path, sizeof(path), "/proc/%d/comm", (int)fi->peer_pids[0]);
			f = fopen(path, "re");
			if (f) {
				if (fgets(comm, sizeof(comm), f))
					comm[strcspn(comm, "\n")] = '\0';
				fclose(f);
			}
			snprintf(buf, bufsz, "peer OUTSIDE: PID %d (%s)%s", (int)fi->peer_pids[0], comm,
				 fi->n_peer_pids > 1 ? " and others" : "");
		} else {
			snprintf(buf, bufsz, "peer OUTSIDE the tree");
		}
		return;
	case CRPC_PEER_REMOTE:
		snprintf(buf, bufsz, "peer remote");
		return;
	case CRPC_PEER_NONE:
		snprintf(buf, bufsz, "no peer");
		return;
	case CRPC_PEER_UNKNOWN:
		break;
	}
	snprintf(buf, bufsz, "peer unknown");
}

static void ep_text(const crpc_inet_endpoint *e, int family, char *buf, size_t bufsz)
{
	if (family == AF_INET6)
		snprintf(buf, bufsz, "[%s]:%u", e->addr, (unsigned)e->port);
	else
		snprintf(buf, bufsz, "%s:%u", e->addr, (unsigned)e->port);
}

static void print_fd(const crpc_inspect_result *r, const crpc_fd_info *fi, int verbose)
{
	char a[80], b[80], peer[160], sz[32];

	printf("    %4d  %-9s ", fi->fd, crpc_fd_type_name(fi->type));
	switch (fi->type) {
	case CRPC_FD_TCP:
	case CRPC_FD_UDP:
	case CRPC_FD_RAW:
		ep_text(&fi->local, fi->family, a, sizeof(a));
		ep_text(&fi->remote, fi->family, b, sizeof(b));
		peer_text(r, fi, peer, sizeof(peer));
		printf("%s %s %s", fi->family == AF_INET6 ? "ipv6" : "ipv4",
		       fi->state ? crpc_tcp_state_name(fi->state) : "?", a);
		if (fi->peer != CRPC_PEER_NONE || fi->remote.port)
			printf(" -> %s, %s", b, peer);
		if (fi->state == 10 && fi->rx_queue)
			printf(", %u waiting to be accepted", fi->rx_queue);
		break;
	case CRPC_FD_UNIX:
		peer_text(r, fi, peer, sizeof(peer));
		printf("%s %s", fi->sock_type ? crpc_sock_type_name(fi->sock_type) : "?",
		       fi->state ? crpc_tcp_state_name(fi->state) : "?");
		if (fi->name)
			printf(" %s", fi->name);
		printf(", %s", peer);
		if (fi->peer_name)
			printf(" at %s", fi->peer_name);
		break;
	case CRPC_FD_PIPE:
	case CRPC_FD_FIFO:
		peer_text(r, fi, peer, sizeof(peer));
		printf("%s %s end, %s", fi->type == CRPC_FD_FIFO && fi->path ? fi->path : fi->target,
		       (fi->flags & O_ACCMODE) == O_RDONLY   ? "read"
		       : (fi->flags & O_ACCMODE) == O_WRONLY ? "write"
							     : "read/write",
		       peer);
		break;
	case CRPC_FD_EVENTFD:
		printf("count %" PRIu64, fi->count);
		break;
	case CRPC_FD_SIGNALFD:
		printf("mask %s", fi->sigmask);
		break;
	case CRPC_FD_TIMERFD:
		printf("clock %d, %" PRIu64 " ticks", fi->clockid, fi->ticks);
		if (fi->interval_ns)
			printf(", every %.3f s", (double)fi->interval_ns / 1e9);
		else if (fi->value_ns)
			printf(", once in %.3f s", (double)fi->value_ns / 1e9);
		else
			printf(", disarmed");
		break;
	case CRPC_FD_INOTIFY:
		printf("%u watches", fi->watches);
		break;
	case CRPC_FD_FANOTIFY:
		printf("%u marks", fi->watches);
		break;
	case CRPC_FD_EPOLL:
		printf("%u targets", fi->watches);
		if (fi->n_targets) {
			printf(" (fd");
			for (size_t i = 0; i < fi->n_targets && i < 16; i++)
				printf(" %d", fi->targets[i]);
			printf("%s)", fi->n_targets > 16 ? " ..." : "");
		}
		break;
	case CRPC_FD_MEMFD:
		crpc_cli_fmt_size(fi->size > 0 ? (uint64_t)fi->size : 0, sz, sizeof(sz));
		printf("%s (%s)", fi->name ? fi->name : "?", sz);
		break;
	case CRPC_FD_FILE:
	case CRPC_FD_DIR:
		printf("%s", fi->path ? fi->path : fi->target);
		if (fi->type == CRPC_FD_FILE && fi->size >= 0) {
			crpc_cli_fmt_size((uint64_t)fi->size, sz, sizeof(sz));
			printf(" (%s)", sz);
		}
		if (fi->deleted)
			printf(" DELETED%s", fi->nlink ? " (still linked elsewhere)" : "");
		if (fi->mount)
			printf(" on %s (%s)", fi->mount, fi->fstype ? fi->fstype : "?");
		break;
	case CRPC_FD_DEVICE:
	case CRPC_FD_TTY:
	case CRPC_FD_PTY:
		printf("%s (%s %u:%u", fi->path ? fi->path : fi->target, fi->block_device ? "block" : "char",
		       major(fi->rdev), minor(fi->rdev));
		if (fi->type == CRPC_FD_PTY)
			printf(", %s %d%s", fi->pty_master ? "master" : "slave", fi->pty_index,
			       fi->pty_master_closed ? ", master closed" : "");
		printf(")");
		break;
	case CRPC_FD_NETLINK:
	case CRPC_FD_PACKET:
	case CRPC_FD_SOCKET:
		printf("%s %s", fi->target, fi->protocol ? fi->protocol : "");
		break;
	default:
		printf("%s", fi->target ? fi->target : "");
		break;
	}
	if (verbose && fi->have_fdinfo)
		printf("  [flags 0%o pos %" PRIu64 "]", fi->flags, fi->pos);
	printf("\n");
}

static void print_items(const char *title, const crpc_verdict_item *v, size_t n, bool values,
			const char *none)
{
	printf("%s\n", title);
	if (!n)
		printf("  %s\n", none);
	for (size_t i = 0; i < n; i++) {
		char val[96];

		crpc_verdict_value_str(&v[i], val, sizeof(val));
		if (values && v[i].kind != CRPC_VALUE_BOOL)
			printf("  %s=%s\n      %s\n", v[i].name, val, v[i].reason);
		else
			printf("  %s\n      %s\n", v[i].name, v[i].reason);
	}
}

static void print_own_ns(const crpc_ns_tree *t)
{
	if (!t->own)
		return;
	printf("\nNamespaces of its own:");
	for (int ty = 0; ty < CRPC_NS__COUNT; ty++)
		if (t->own & (1u << ty))
			printf(" %s", crpc_ns_type_name((crpc_ns_type)ty));
	printf("\n");
	if (t->own & (1u << CRPC_NS_PID)) {
		if (t->pid_init)
			printf("  the root is the init (PID 1) of its PID namespace\n");
		else if (t->pid_ns_init > 0)
			printf("  the root is not the init of its PID namespace: PID %d (%s) is\n",
			       (int)t->pid_ns_init, t->pid_ns_init_comm);
		else
			printf("  the root is not the init of its PID namespace\n");
	}
	if (t->root)
		printf("  root directory %s\n", t->root);
	for (size_t i = 0; i < t->n_mounts; i++) {
		const crpc_ns_mount *m = &t->mounts[i];

		printf("  mount %-30s %-10s %s%s%s\n", m->mountpoint, m->fstype,
		       crpc_ns_mount_how_name(m->how), m->source ? " from " : "", m->source ? m->source : "");
	}
	for (size_t i = 0; i < t->n_files; i++) {
		const crpc_ns_file *f = &t->files[i];
		size_t more = 0;
		bool seen = false;

		/* one line per file, however many fds and processes hold it */
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(t->files[k].key, f->key) == 0;
		if (seen)
			continue;
		for (size_t k = i + 1; k < t->n_files; k++)
			more += strcmp(t->files[k].key, f->key) == 0;
		printf("  file  %s of another mount namespace (PID %d ", f->path, (int)f->pid);
		if (f->fd >= 0)
			printf("fd %d", f->fd);
		else
			printf("mapped");
		if (more)
			printf(" and %zu more", more);
		printf("): external %s\n", f->key);
	}
	for (size_t i = 0; i < t->n_netdevs; i++) {
		const crpc_ns_netdev *d = &t->netdevs[i];

		printf("  netdev %s%s%s", d->name, d->kind[0] ? " " : "", d->kind);
		if (d->peer_outside && d->peer_here)
			printf(", other end %s in crpc's namespace%s%s%s%s", d->peer_name,
			       d->peer_master[0] ? ", bridge " : "", d->peer_master,
			       d->peer_addrs[0] ? ", addresses " : "", d->peer_addrs);
		else if (d->peer_outside)
			printf(", other end in another namespace");
		printf("\n");
	}
	for (size_t i = 0; i < t->n_sharers; i++)
		printf("  %s namespace shared with PID %d (%s) outside the tree%s\n",
		       crpc_ns_type_name(t->sharers[i].type), (int)t->sharers[i].pid, t->sharers[i].comm,
		       t->sharers[i].ancestor ? ", an ancestor of the root" : "");
}

static void print_human(const crpc_cli *cli, const crpc_inspect_result *r, const crpc_verdict *v)
{
	const crpc_proc_info *root = &r->procs[0];
	char sz[4][32], tm[32];

	crpc_cli_fmt_seconds(r->elapsed, tm, sizeof(tm));
	printf("Process tree of PID %d (%s): %zu process%s, %zu thread%s, %zu fd%s (inspected in %s)\n",
	       (int)root->pid, root->comm, r->n_procs, r->n_procs == 1 ? "" : "es", r->n_threads,
	       r->n_threads == 1 ? "" : "s", r->n_fds, r->n_fds == 1 ? "" : "s", tm);
	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		printf("  %*s%d %s  state %c  ppid %d pgid %d sid %d", (int)(p->depth * 2), "", (int)p->pid,
		       p->comm, p->state ? p->state : '?', (int)p->ppid, (int)p->pgid, (int)p->sid);
		if (p->tty[0])
			printf("  tty %s", p->tty);
		if (p->n_threads > 1)
			printf("  %zu threads", p->n_threads);
		if (p->tracer_pid)
			printf("  TRACED by %d", (int)p->tracer_pid);
		if (p->kernel_thread)
			printf("  KERNEL THREAD");
		if (p->zombie)
			printf("  ZOMBIE");
		if (p->stopped)
			printf("  stopped");
		if (p->gone)
			printf("  (exited during the inspection)");
		printf("\n");
		if (cli->verbose && p->n_threads > 1)
			for (size_t t = 0; t < p->n_threads; t++)
				printf("  %*s  thread %d %s state %c%s\n", (int)(p->depth * 2), "",
				       (int)p->threads[t].tid, p->threads[t].comm,
				       p->threads[t].state ? p->threads[t].state : '?',
				       p->threads[t].tracer_pid ? " TRACED" : "");
	}
	printf("\nOpen files\n");
	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		if (!p->n_fds && !p->fds_unreadable && !p->n_mapped_deleted)
			continue;
		printf("  PID %d (%s)%s\n", (int)p->pid, p->comm,
		       p->fds_unreadable ? ": fds not readable" : "");
		for (size_t f = 0; f < p->n_fds; f++)
			print_fd(r, &p->fds[f], cli->verbose);
		for (size_t f = 0; f < p->n_mapped_deleted; f++) {
			const crpc_fd_info *fi = &p->mapped_deleted[f];

			crpc_cli_fmt_size(fi->blocks_bytes, sz[0], sizeof(sz[0]));
			printf("       mapped    %s DELETED (%s)\n", fi->path ? fi->path : "?", sz[0]);
		}
	}
	printf("\nFile locks\n");
	if (!r->n_locks)
		printf("  none\n");
	for (size_t i = 0; i < r->n_locks; i++) {
		const crpc_lock_info *l = &r->locks[i];

		printf("  %s %s %s on %s (PID %d", l->lock_class, l->kind, l->mode, l->path ? l->path : "?",
		       (int)l->pid);
		if (l->fd >= 0)
			printf(" fd %d", l->fd);
		printf(")\n");
	}
	printf("\nNamespaces other than crpc's\n");
	if (!r->n_ns)
		printf("  none: the tree shares all of crpc's namespaces\n");
	for (size_t i = 0; i < r->n_ns; i++) {
		printf("  %-17s %" PRIu64 ":", crpc_ns_type_name(r->ns[i].type), r->ns[i].inode);
		for (size_t k = 0; k < r->ns[i].n_pids && k < 16; k++)
			printf(" %d", (int)r->ns[i].pids[k]);
		printf("%s\n", r->ns[i].n_pids > 16 ? " ..." : "");
	}
	print_own_ns(&r->nst);
	printf("\nCgroups of PID %d\n", (int)root->pid);
	for (size_t i = 0; i < root->n_cgroups; i++)
		printf("  %d:%s:%s\n", root->cgroups[i].hierarchy, root->cgroups[i].controllers,
		       root->cgroups[i].path);
	if (!root->n_cgroups)
		printf("  unknown\n");
	crpc_cli_fmt_size(r->mem.rss, sz[0], sizeof(sz[0]));
	crpc_cli_fmt_size(r->mem.anon, sz[1], sizeof(sz[1]));
	crpc_cli_fmt_size(r->mem.file, sz[2], sizeof(sz[2]));
	crpc_cli_fmt_size(r->mem.shmem, sz[3], sizeof(sz[3]));
	printf("\nMemory\n  RSS %s: anonymous %s, file-backed %s, shared memory %s (summed over the "
	       "processes)\n",
	       sz[0], sz[1], sz[2], sz[3]);
	printf("\n");
	print_items("Options crpc would use", v->options, v->n_options, true, "none needed");
	printf("\n");
	print_items("Blockers", v->blockers, v->n_blockers, false, "none");
	if (v->n_warnings) {
		printf("\n");
		print_items("Warnings", v->warnings, v->n_warnings, false, "none");
	}
	printf("\n");
	if (v->n_blockers)
		printf("Verdict: PID %d cannot be checkpointed (%zu blocker%s)\n", (int)root->pid,
		       v->n_blockers, v->n_blockers == 1 ? "" : "s");
	else if (v->n_options)
		printf("Verdict: PID %d can be checkpointed with the options above ('crpc dump' sets them)\n",
		       (int)root->pid);
	else
		printf("Verdict: PID %d can be checkpointed\n", (int)root->pid);
}

int crpc_cmd_inspect(crpc_cli *cli, int argc, char **argv)
{
	crpc_inspect_result *r = NULL;
	crpc_verdict v;
	crpc_error *err = NULL;
	crpc_engine_env engines;
	crpc_container ct;
	bool is_container = false;
	unsigned long pidv = 0;
	int rc, opt;

	memset(&v, 0, sizeof(v));
	memset(&ct, 0, sizeof(ct));
	crpc_engine_env_init(&engines);
	cli->usage = "crpc inspect [OPTIONS] PID|CONTAINER";
	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hv", inspect_options)) != -1)
		if (opt == OPT_RUNC_ROOT)
			engines.runc_root = optarg;
	if (crpc_cli_early_exit(cli, crpc_help_inspect, &rc))
		return rc;
	if (optind >= argc)
		return crpc_cli_usage(cli, true, "missing PID");
	if (optind + 1 < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 1]);
	if (crpc_target_is_container(argv[optind])) {
		is_container = true;
		if (crpc_container_resolve(argv[optind], &engines, &ct, &err) < 0 ||
		    (!ct.running &&
		     crpc_error_set(&err, CRPC_EXIT_FAIL, ESRCH, "inspect", "%s:%s is not running (%s)",
				    ct.engine, ct.name[0] ? ct.name : ct.id, ct.state) < 0)) {
			json_t *extra = crpc_cli_jobj();

			crpc_cli_jset(extra, "operation", crpc_cli_jstr("inspect"));
			crpc_cli_jset(extra, "target", crpc_cli_jstr(argv[optind]));
			rc = crpc_cli_fail(cli, err, extra, NULL);
			crpc_error_free(err);
			return rc;
		}
		pidv = (unsigned long)ct.pid;
	} else if (crpc_cli_parse_ulong(argv[optind], INT32_MAX, &pidv) < 0 || pidv == 0) {
		return crpc_cli_usage(cli, true, "invalid PID '%s': must be a positive integer",
				      argv[optind]);
	}

	if (crpc_require_root("inspect", &err) < 0 ||
	    crpc_inspect_tree((pid_t)pidv, CRPC_INSPECT_PEER_PIDS, &r, &err) < 0 ||
	    crpc_inspect_verdict(r, &v, &err) < 0) {
		json_t *extra = crpc_cli_jobj();

		crpc_cli_jset(extra, "operation", crpc_cli_jstr("inspect"));
		crpc_cli_jset(extra, "pid", json_integer((json_int_t)pidv));
		rc = crpc_cli_fail(cli, err, extra, NULL);
		crpc_error_free(err);
		crpc_inspect_free(r);
		return rc;
	}
	if (is_container)
		crpc_container_verdict_filter(&v);
	if (cli->json) {
		json_t *doc = crpc_cli_inspect_json(r, &v);

		if (is_container)
			crpc_cli_jset(doc, "container", crpc_cli_container_json(&ct));
		rc = crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	} else {
		if (is_container)
			printf("Container %s:%s (%s), %s %s, init PID %d\n\n", ct.engine, ct.name, ct.id,
			       ct.engine, ct.engine_version, (int)ct.pid);
		print_human(cli, r, &v);
		rc = 0;
	}
	if (!rc && v.n_blockers)
		rc = CRPC_EXIT_FAIL;
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
	return rc;
}
