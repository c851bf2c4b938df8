/* SPDX-License-Identifier: MIT */
/*
 * manifest_ns.c - the "namespaces" object of crpc.json: the namespaces the
 * tree had of its own, its root, the files of another mount namespace it
 * held open (by CRIU's key, with the path crpc opens again at restore) and
 * its veth pairs with the other end in crpc's network namespace.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "crpc/manifest.h"
#include "internal.h"
#include "manifest_int.h"

/*
 * gcc 12's -fanalyzer loses track of strings stored into the arrays of a
 * crpc_manifest_ns (files[i].key and the like) and reports each store as a
 * leak; test_manifest's namespaces test runs these paths under
 * AddressSanitizer's leak checker instead.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

json_t *mf_ns_json(const crpc_ns_tree *t)
{
	json_t *o, *own, *files, *veths, *mounts;

	if (!t || !t->own)
		return json_null();
	o = json_object();
	own = json_array();
	files = json_array();
	veths = json_array();
	mounts = json_array();
	if (!o || !own || !files || !veths || !mounts) {
		json_decref(o);
		json_decref(own);
		json_decref(files);
		json_decref(veths);
		json_decref(mounts);
		return NULL;
	}
	for (int ty = 0; ty < CRPC_NS__COUNT; ty++)
		if (t->own & (1u << ty))
			json_array_append_new(own, json_string(crpc_ns_type_name((crpc_ns_type)ty)));
	json_object_set_new(o, "own", own);
	json_object_set_new(o, "root", crpc__json_text(t->root));
	if (t->own & (1u << CRPC_NS_USER)) {
		json_object_set_new(o, "userns_uid0",
				    t->userns_uid0 >= 0 ? json_integer(t->userns_uid0) : json_null());
		json_object_set_new(o, "userns_gid0",
				    t->userns_gid0 >= 0 ? json_integer(t->userns_gid0) : json_null());
	}
	for (size_t i = 0; i < t->n_mounts; i++) {
		const crpc_ns_mount *m = &t->mounts[i];
		json_t *e;

		if (m->how != CRPC_NS_MOUNT_EXTERNAL)
			continue;
		e = json_object();
		json_object_set_new(e, "mountpoint", crpc__json_text(m->mountpoint));
		json_object_set_new(e, "fstype", crpc__json_text(m->fstype));
		json_object_set_new(e, "source", crpc__json_text(m->source));
		json_object_set_new(e, "major", json_integer(m->major));
		json_object_set_new(e, "minor", json_integer(m->minor));
		json_array_append_new(mounts, e);
	}
	json_object_set_new(o, "external_mounts", mounts);
	for (size_t i = 0; i < t->n_files; i++) {
		const crpc_ns_file *f = &t->files[i];
		bool dup = false;
		json_t *e;

		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(t->files[k].key, f->key) == 0;
		if (dup)
			continue;
		e = json_object();
		json_object_set_new(e, "key", json_string(f->key));
		json_object_set_new(e, "path", crpc__json_text(f->path));
		json_object_set_new(e, "flags", json_integer((json_int_t)f->flags));
		json_object_set_new(e, "dev", json_integer((json_int_t)f->dev));
		json_object_set_new(e, "inode", json_integer((json_int_t)f->inode));
		json_array_append_new(files, e);
	}
	json_object_set_new(o, "external_files", files);
	for (size_t i = 0; i < t->n_netdevs; i++) {
		const crpc_ns_netdev *d = &t->netdevs[i];
		json_t *e;

		if (!d->peer_outside || !d->peer_here)
			continue;
		e = json_object();
		json_object_set_new(e, "name", json_string(d->name));
		json_object_set_new(e, "peer", json_string(d->peer_name));
		json_object_set_new(e, "bridge",
				    d->peer_master[0] ? json_string(d->peer_master) : json_null());
		json_object_set_new(e, "peer_addrs",
				    d->peer_addrs[0] ? json_string(d->peer_addrs) : json_null());
		json_array_append_new(veths, e);
	}
	json_object_set_new(o, "veths", veths);
	return o;
}

static char *jdup(json_t *o, const char *key, bool *oom)
{
	return mf_strdup(json_string_value(json_object_get(o, key)), oom);
}

int mf_ns_load(json_t *j, crpc_manifest_ns *ns)
{
	json_t *a, *e;
	size_t i;
	bool oom = false;

	memset(ns, 0, sizeof(*ns));
	ns->userns_uid0 = ns->userns_gid0 = -1;
	if (!json_is_object(j))
		return 0;
	if (json_integer_value(json_object_get(j, "userns_uid0")) >= 0 &&
	    json_is_integer(json_object_get(j, "userns_uid0")))
		ns->userns_uid0 = json_integer_value(json_object_get(j, "userns_uid0"));
	if (json_integer_value(json_object_get(j, "userns_gid0")) >= 0 &&
	    json_is_integer(json_object_get(j, "userns_gid0")))
		ns->userns_gid0 = json_integer_value(json_object_get(j, "userns_gid0"));
	json_array_foreach(json_object_get(j, "own"), i, e) {
		const char *s = json_string_value(e);

		for (int ty = 0; s && ty < CRPC_NS__COUNT; ty++)
			if (strcmp(s, crpc_ns_type_name((crpc_ns_type)ty)) == 0)
				ns->own |= 1u << ty;
	}
	ns->root = jdup(j, "root", &oom);
	a = json_object_get(j, "external_mounts");
	if (json_array_size(a)) {
		ns->mounts = calloc(json_array_size(a), sizeof(*ns->mounts));
		if (!ns->mounts)
			return -1;
		json_array_foreach(a, i, e) {
			crpc_manifest_ext_mount *m = &ns->mounts[ns->n_mounts];

			m->mountpoint = jdup(e, "mountpoint", &oom);
			m->source = jdup(e, "source", &oom);
			m->major = (unsigned)json_integer_value(json_object_get(e, "major"));
			m->minor = (unsigned)json_integer_value(json_object_get(e, "minor"));
			if (!m->mountpoint || !m->source) {
				free(m->mountpoint);
				free(m->source);
				memset(m, 0, sizeof(*m));
				continue;
			}
			ns->n_mounts++;
		}
	}
	a = json_object_get(j, "external_files");
	if (json_array_size(a)) {
		ns->files = calloc(json_array_size(a), sizeof(*ns->files));
		if (!ns->files)
			return -1;
		json_array_foreach(a, i, e) {
			crpc_manifest_ext_file *f = &ns->files[ns->n_files];

			f->key = jdup(e, "key", &oom);
			f->path = jdup(e, "path", &oom);
			f->flags = (unsigned)json_integer_value(json_object_get(e, "flags"));
			f->dev = (uint64_t)json_integer_value(json_object_get(e, "dev"));
			f->inode = (uint64_t)json_integer_value(json_object_get(e, "inode"));
			if (!f->key || !f->path) {
				free(f->key);
				free(f->path);
				memset(f, 0, sizeof(*f));
				continue;
			}
			ns->n_files++;
		}
	}
	a = json_object_get(j, "veths");
	if (json_array_size(a)) {
		ns->veths = calloc(json_array_size(a), sizeof(*ns->veths));
		if (!ns->veths)
			return -1;
		json_array_foreach(a, i, e) {
			crpc_manifest_veth *v = &ns->veths[ns->n_veths];

			v->name = jdup(e, "name", &oom);
			v->peer = jdup(e, "peer", &oom);
			v->bridge = jdup(e, "bridge", &oom);
			v->peer_addrs = jdup(e, "peer_addrs", &oom);
			if (!v->name || !v->peer) {
				free(v->name);
				free(v->peer);
				free(v->bridge);
				free(v->peer_addrs);
				memset(v, 0, sizeof(*v));
				continue;
			}
			ns->n_veths++;
		}
	}
	return oom ? -1 : 0;
}

void mf_ns_release(crpc_manifest_ns *ns)
{
	for (size_t i = 0; i < ns->n_mounts; i++) {
		free(ns->mounts[i].mountpoint);
		free(ns->mounts[i].source);
	}
	free(ns->mounts);
	for (size_t i = 0; i < ns->n_files; i++) {
		free(ns->files[i].key);
		free(ns->files[i].path);
	}
	for (size_t i = 0; i < ns->n_veths; i++) {
		free(ns->veths[i].name);
		free(ns->veths[i].peer);
		free(ns->veths[i].bridge);
		free(ns->veths[i].peer_addrs);
	}
	free(ns->files);
	free(ns->veths);
	free(ns->root);
	memset(ns, 0, sizeof(*ns));
}
