/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: CRPC_OPTS_TABLE (crpc/opts_table.h) is consistent: names and
 * flags unique, kinds and configuration types that go together, a
 * configuration key for every option a user can set, help lines that name
 * their flag, and opt_descs[] (what the library reads) in the table's order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* The table's columns as the tests read them. */
enum cli_where {
	W_NONE,
	W_D,
	W_R,
	W_DR,
	W_DR_LAST
};

struct row {
	const char *name;
	const char *kind;
	const char *yaml;
	const char *ops;
	enum cli_where cli;
	int shortopt;
	const char *longopt;
	const char *arg;
	const char *argname;
	const char *help_dump;
	const char *help_restore;
};

#define W_(x) W_##x
#define ROW(field, kind, yaml, ops, flags, gate, restore, cli, shortopt, longopt, arg, argname, hd, hr) \
	{ #field, #kind, #yaml, #ops, W_(cli), shortopt, longopt, #arg, argname, hd, hr },

static const struct row rows[] = { CRPC_OPTS_TABLE(ROW) };
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static bool on_dump(const struct row *r)
{
	return r->cli == W_D || r->cli == W_DR || r->cli == W_DR_LAST;
}

static bool on_restore(const struct row *r)
{
	return r->cli == W_R || r->cli == W_DR || r->cli == W_DR_LAST;
}

static void test_descs_follow_table(void **state)
{
	(void)state;
	assert_int_equal(n_opt_descs, N_ROWS);
	for (size_t i = 0; i < N_ROWS; i++) {
		assert_string_equal(opt_descs[i].name, rows[i].name);
		assert_ptr_equal(opt_desc_find(rows[i].name), &opt_descs[i]);
	}
	assert_null(opt_desc_find("no_such_option"));
}

static void test_names_and_flags_unique(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ROWS; i++)
		for (size_t j = i + 1; j < N_ROWS; j++) {
			assert_string_not_equal(rows[i].name, rows[j].name);
			if (*rows[i].longopt)
				assert_string_not_equal(rows[i].longopt, rows[j].longopt);
			if (rows[i].shortopt)
				assert_int_not_equal(rows[i].shortopt, rows[j].shortopt);
		}
}

/* The kind (storage) and the configuration's type go together. */
static void test_kind_and_yaml_agree(void **state)
{
	static const struct {
		const char *kind, *yaml;
	} ok[] = {
		{ "BOOL", "BOOL" },
		{ "BOOL", "NONE" },
		{ "SIZE", "SIZE" },
		{ "U32", "DURATION" },
		{ "U32", "EMPTY_NS" },
		{ "LEVEL", "LOG_LEVEL" },
		{ "STR", "STR" },
		{ "STR", "LOG_FILE" },
		{ "STRV", "STRV" },
		{ "EXTERNAL", "EXTERNAL" },
		{ "CGMODE", "CG_MODE" },
		{ "NETLOCK", "NETLOCK" },
		{ "INHERIT_FD", "INHERIT_FD" },
		{ "CG_ROOT", "CG_ROOT" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS; i++) {
		bool found = false;

		for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]) && !found; k++)
			found = strcmp(rows[i].kind, ok[k].kind) == 0 &&
				strcmp(rows[i].yaml, ok[k].yaml) == 0;
		if (!found)
			fail_msg("%s: kind %s with configuration type %s", rows[i].name, rows[i].kind,
				 rows[i].yaml);
	}
}

/*
 * Every option has a configuration key, in at least one section, except
 * the request's own plumbing (set by crpc, never by a user): those are
 * neither recorded nor on the command line.
 */
static void test_every_option_has_a_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ROWS; i++) {
		const struct opt_desc *d = &opt_descs[i];

		if (d->yaml == OT_NONE) {
			assert_int_equal(d->ops, 0);
			assert_false(d->flags & CRPC_OPTF_RECORD);
			assert_int_equal(rows[i].cli, W_NONE);
			continue;
		}
		if (!d->ops)
			fail_msg("%s: a key of no section", d->name);
		/* a flag of a command is a key of that command's section */
		if (on_dump(&rows[i]) && !(d->ops & OP_DUMP))
			fail_msg("%s: a dump option but not a key of dump:", d->name);
		if (on_restore(&rows[i]) && !(d->ops & OP_RESTORE))
			fail_msg("%s: a restore option but not a key of restore:", d->name);
	}
}

/* "  -R, --leave-running     ..." or "      --ghost-limit SIZE  ...", continued at column 26. */
static void check_help(const struct row *r, const char *help, const char *cmd)
{
	char head[128];
	const char *p;

	if (r->shortopt)
		snprintf(head, sizeof(head), "  -%c, --%s", r->shortopt, r->longopt);
	else
		snprintf(head, sizeof(head), "      --%s", r->longopt);
	if (*r->argname)
		snprintf(head + strlen(head), sizeof(head) - strlen(head), "%s%s",
			 r->argname[0] == '[' ? "" : " ", r->argname);
	if (strncmp(help, head, strlen(head)) != 0)
		fail_msg("%s: %s help line '%s' does not start with '%s'", r->name, cmd, help, head);
	p = help + strlen(head);
	if (*p == '\n')
		p++; /* a long flag: the text on the next lines */
	else if (strlen(head) >= 26 || strspn(p, " ") != 26 - strlen(head))
		fail_msg("%s: %s help text does not start at column 26", r->name, cmd);
	else
		p = strchr(p, '\n') + 1;
	for (; *p; p = strchr(p, '\n') + 1) {
		if (strspn(p, " ") != 26 || !strchr(p, '\n'))
			fail_msg("%s: %s help continued elsewhere than at column 26", r->name, cmd);
	}
	assert_int_equal(help[strlen(help) - 1], '\n');
}

static void test_help_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ROWS; i++) {
		const struct row *r = &rows[i];

		if (r->cli == W_NONE) {
			assert_string_equal(r->longopt, "");
			assert_int_equal(r->shortopt, 0);
		} else {
			assert_true(strlen(r->longopt) > 1);
			assert_int_equal(strspn(r->longopt, "abcdefghijklmnopqrstuvwxyz-"),
					 strlen(r->longopt));
		}
		/* an argument is named in the help exactly when the flag takes one */
		assert_int_equal(*r->argname != 0, strcmp(r->arg, "NOARG") != 0);
		assert_int_equal(r->argname[0] == '[', strcmp(r->arg, "OPTARG") == 0);
		if (on_dump(r))
			check_help(r, r->help_dump, "dump");
		else
			assert_string_equal(r->help_dump, "");
		if (on_restore(r))
			check_help(r, r->help_restore, "restore");
		else
			assert_string_equal(r->help_restore, "");
	}
}

static void test_gates_and_restore_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_opt_descs; i++) {
		const struct opt_desc *d = &opt_descs[i];

		if (d->since) {
			assert_non_null(d->gate_name);
			assert_true(d->since >= 30000);
			assert_true(d->kind == OPTK_BOOL || d->kind == OPTK_CGMODE ||
				    d->kind == OPTK_NETLOCK);
		} else {
			assert_null(d->gate_name);
		}
		/* the restore's rules that set a flag of the same name need a flag */
		if (d->restore == RK_BOOL || d->restore == RK_TCP)
			assert_int_equal(d->kind, OPTK_BOOL);
		if (d->restore != RK_DUMP_ONLY)
			assert_true(d->flags & CRPC_OPTF_RECORD);
		if (d->flags & CRPC_OPTF_SHOWN)
			assert_int_equal(d->kind, OPTK_BOOL);
	}
}

/* A value of each configuration type, as a YAML scalar or flow collection. */
static const char *sample(enum opt_yaml t)
{
	switch (t) {
	case OT_BOOL:
		return "true";
	case OT_STR:
		return "/srv/x";
	case OT_STRV:
	case OT_EXTERNAL:
		return "[a, b]";
	case OT_SIZE:
		return "10M";
	case OT_LOG_LEVEL:
		return "2";
	case OT_LOG_FILE:
		return "x.log";
	case OT_DURATION:
		return "5s";
	case OT_CG_MODE:
		return "soft";
	case OT_NETLOCK:
		return "nftables";
	case OT_EMPTY_NS:
		return "net";
	case OT_INHERIT_FD:
		return "[{key: 'pipe:[1]', fd: 3}]";
	case OT_CG_ROOT:
		return "[{path: /x}]";
	case OT_NONE:
		break;
	}
	return NULL;
}

/* Every key is accepted in its sections and refused in the other one. */
static void test_keys_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_opt_descs; i++) {
		const struct opt_desc *d = &opt_descs[i];
		static const char *const sections[] = { "dump", "restore" };

		for (unsigned s = 0; s < 2; s++) {
			char text[256];
			crpc_config c;
			crpc_error *err = NULL;
			int r;

			snprintf(text, sizeof(text), "%s:\n  %s: %s\n", sections[s], d->name,
				 d->yaml == OT_NONE ? "true" : sample(d->yaml));
			crpc_config_init(&c);
			r = crpc_config_parse(&c, "inline", text, strlen(text), &err);
			if ((d->ops & (1u << s)) && r != 0)
				fail_msg("%s refused in %s: %s", d->name, sections[s],
					 err && err->message ? err->message : "?");
			if (!(d->ops & (1u << s)) && r == 0)
				fail_msg("%s accepted in %s", d->name, sections[s]);
			crpc_error_free(err);
			crpc_config_release(&c);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descs_follow_table),  cmocka_unit_test(test_names_and_flags_unique),
		cmocka_unit_test(test_kind_and_yaml_agree), cmocka_unit_test(test_every_option_has_a_key),
		cmocka_unit_test(test_help_lines),          cmocka_unit_test(test_gates_and_restore_rules),
		cmocka_unit_test(test_keys_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
