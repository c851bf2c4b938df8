/* SPDX-License-Identifier: MIT */
/*
 * crpc/opts_table.h - every CRIU option of crpc_opts, declared once.
 *
 * CRPC_OPTS_TABLE(X) calls X once per option, in the order crpc.json lists
 * them:
 *
 *   X(field, KIND, YAML, OPS, flags, GATE, RESTORE, CLI, short, "long", ARG,
 *     "argname", help_dump, help_restore)
 *
 * field     the member of crpc_opts, named as the field of CRIU's criu_opts;
 *           also the option's key in the configuration's dump: and restore:
 *           sections, its name in crpc.json and in the inspection's verdict
 * KIND      how it is stored, merged, sent and recorded:
 *           BOOL     bool, set or not
 *           SIZE     uint32_t bytes with a `field_set` flag
 *           U32      uint32_t, 0: unset
 *           LEVEL    int, -1: unset
 *           STR      const char *, NULL: unset
 *           STRV     crpc_strv
 *           EXTERNAL const char ** with `n_field`
 *           CGMODE   crpc_cg_mode (sets manage_cgroups with it)
 *           NETLOCK  crpc_network_lock
 *           INHERIT_FD, CG_ROOT   arrays with `n_field`
 * YAML      how the configuration spells its value: BOOL, STR, STRV, SIZE,
 *           LOG_LEVEL, LOG_FILE, DURATION, CG_MODE, NETLOCK, EMPTY_NS,
 *           EXTERNAL, INHERIT_FD, CG_ROOT, or NONE (not a key)
 * OPS       the sections it is a key of: DUMP, RESTORE, BOTH or NONE
 * flags     CRPC_OPTF_* below, or'ed (0: none)
 * GATE      NOGATE, or SINCE(code, "as the user spells it", value): the
 *           option needs CRIU `code` (major*10000+minor*100+sublevel) or
 *           newer when its value is `value`
 * RESTORE   what a restore does with the dump's value (crpc_manifest_restore_opts()):
 *           RK_BOOL (the same flag), RK_TCP (tcp_established/tcp_close, one
 *           group), RK_CGROUPS (manage_cgroups and its mode, one group),
 *           RK_NETLOCK, RK_EMPTY_NS, RK_EXTERNAL (given back by the user),
 *           RK_FD (a descriptor of the dump), RK_RESTORE_OWN (the restore
 *           has its own), RK_DUMP_ONLY
 * CLI       the commands with a command-line option for it: D (dump), R
 *           (restore), DR (both), DR_LAST (both, listed after the others),
 *           or NONE; with short (a letter or 0), "long" (without "--"), ARG
 *           (NOARG, REQARG or OPTARG, as getopt_long) and "argname" (as the
 *           help shows it, "" for none)
 * help_dump, help_restore
 *           the option's lines in `crpc dump --help` / `crpc restore --help`
 *           ("" where it has none), flag column included
 *
 * KIND, YAML, OPS, GATE, RESTORE, CLI and ARG are tokens meant for `##`.
 */
#ifndef CRPC_OPTS_TABLE_H
#define CRPC_OPTS_TABLE_H

/** crpc.json records the option (crpc_manifest_options_from_opts()). */
#define CRPC_OPTF_RECORD 1u
/** The inspection may set it (crpc_inspect_apply()). */
#define CRPC_OPTF_AUTO 2u
/** `crpc -v` always shows it, "yes" or "no" (else only when set). */
#define CRPC_OPTF_SHOWN 4u
/** `crpc -v` does not list it among the options (shown elsewhere, or never set there). */
#define CRPC_OPTF_NOT_LISTED 8u

#define CRPC_OPTS_TABLE(X)                                                                                  \
	X(leave_running, BOOL, BOOL, DUMP, CRPC_OPTF_RECORD | CRPC_OPTF_SHOWN, NOGATE, RK_DUMP_ONLY, D,     \
	  'R', "leave-running", NOARG, "",                                                                  \
	  "  -R, --leave-running     keep the process tree running after the dump\n", "")                   \
	X(tcp_established, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO | CRPC_OPTF_SHOWN, NOGATE,   \
	  RK_TCP, DR, 0, "tcp-established", NOARG, "",                                                      \
	  "      --tcp-established   checkpoint established TCP connections\n",                             \
	  "      --tcp-established   restore established TCP connections\n")                                \
	X(tcp_close, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO | CRPC_OPTF_SHOWN, NOGATE, RK_TCP, \
	  DR, 0, "tcp-close", NOARG, "",                                                                    \
	  "      --tcp-close         do not save the state of TCP connections (restore will\n"              \
	  "                          close them)\n",                                                        \
	  "      --tcp-close         close the checkpointed TCP connections instead\n")                     \
	X(tcp_skip_in_flight, BOOL, BOOL, DUMP, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO, NOGATE, RK_DUMP_ONLY,    \
	  NONE, 0, "", NOARG, "", "", "")                                                                   \
	X(ext_unix_sk, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO | CRPC_OPTF_SHOWN, NOGATE,       \
	  RK_BOOL, DR, 0, "ext-unix-sk", NOARG, "",                                                         \
	  "      --ext-unix-sk       allow UNIX sockets connected to processes outside the tree\n",         \
	  "      --ext-unix-sk       allow UNIX sockets connected to processes outside the tree\n")         \
	X(shell_job, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO | CRPC_OPTF_SHOWN, NOGATE,         \
	  RK_BOOL, DR, 0, "shell-job", NOARG, "",                                                           \
	  "      --shell-job         allow a tree started from a shell (tty/session from outside)\n",       \
	  "      --shell-job         restore a tree started from a shell (attach it to this\n"              \
	  "                          terminal and session)\n")                                              \
	X(file_locks, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO | CRPC_OPTF_SHOWN, NOGATE,        \
	  RK_BOOL, DR, 0, "file-locks", NOARG, "", "      --file-locks        checkpoint file locks\n",     \
	  "      --file-locks        restore file locks\n")                                                 \
	X(link_remap, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO | CRPC_OPTF_SHOWN, NOGATE,        \
	  RK_DUMP_ONLY, DR, 0, "link-remap", NOARG, "",                                                     \
	  "      --link-remap        allow files that are open but unlinked (remapped by links)\n",         \
	  "      --link-remap        allow files that were open but unlinked at dump time\n")               \
	X(rst_sibling, BOOL, NONE, NONE, 0, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", "")           \
	X(notify_scripts, BOOL, NONE, NONE, CRPC_OPTF_NOT_LISTED, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, \
	  "", "", "")                                                                                       \
	X(evasive_devices, BOOL, BOOL, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG,    \
	  "", "", "")                                                                                       \
	X(orphan_pts_master, BOOL, BOOL, RESTORE, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "",      \
	  NOARG, "", "", "")                                                                                \
	X(leave_stopped, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD, SINCE(31900, "--leave-stopped", 1),            \
	  RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", "")                                                     \
	X(skip_file_rwx_check, BOOL, BOOL, RESTORE, CRPC_OPTF_RECORD,                                       \
	  SINCE(31900, "--skip-file-rwx-check", 1), RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", "")           \
	X(auto_ext_mnt, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO, NOGATE, RK_BOOL, NONE, 0, "",  \
	  NOARG, "", "", "")                                                                                \
	X(ext_sharing, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO, NOGATE, RK_BOOL, NONE, 0, "",   \
	  NOARG, "", "", "")                                                                                \
	X(ext_masters, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO, NOGATE, RK_BOOL, NONE, 0, "",   \
	  NOARG, "", "", "")                                                                                \
	X(force_irmap, BOOL, BOOL, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "",    \
	  "", "")                                                                                           \
	X(weak_sysctls, BOOL, BOOL, RESTORE, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG,    \
	  "", "", "")                                                                                       \
	X(auto_dedup, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", \
	  "")                                                                                               \
	X(mntns_compat_mode, BOOL, BOOL, RESTORE, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "",      \
	  NOARG, "", "", "")                                                                                \
	X(ghost_limit, SIZE, SIZE, DUMP, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO, NOGATE, RK_DUMP_ONLY, D, 0,     \
	  "ghost-limit", REQARG, "SIZE",                                                                    \
	  "      --ghost-limit SIZE  largest deleted file to copy into the checkpoint, e.g. 10M\n"          \
	  "                          (binary units K, M, G; below 4G; CRIU's default: 1M)\n",               \
	  "")                                                                                               \
	X(timeout, U32, DURATION, BOTH, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", \
	  "")                                                                                               \
	X(empty_ns, U32, EMPTY_NS, BOTH, CRPC_OPTF_RECORD, NOGATE, RK_EMPTY_NS, NONE, 0, "", NOARG, "", "", \
	  "")                                                                                               \
	X(log_level, LEVEL, LOG_LEVEL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_NOT_LISTED, NOGATE,               \
	  RK_RESTORE_OWN, DR_LAST, 0, "log-level", REQARG, "N",                                             \
	  "      --log-level N       CRIU log level 0-4 (default 4), log in DIR/dump.log\n",                \
	  "      --log-level N       CRIU log level 0-4 (default 4), log in DIR/restore.log\n")             \
	X(manage_cgroups, BOOL, BOOL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_NOT_LISTED, NOGATE, RK_CGROUPS,    \
	  NONE, 0, "", NOARG, "", "", "")                                                                   \
	X(manage_cgroups_mode, CGMODE, CG_MODE, BOTH, CRPC_OPTF_RECORD, NOGATE, RK_CGROUPS, DR, 0,          \
	  "manage-cgroups", OPTARG, "[=MODE]",                                                              \
	  "      --manage-cgroups[=MODE]\n"                                                                 \
	  "                          checkpoint cgroups; MODE is none, props, soft, full,\n"                \
	  "                          strict, ignore or default (give it with '=')\n",                       \
	  "      --manage-cgroups[=MODE]\n"                                                                 \
	  "                          restore cgroups; MODE is none, props, soft, full,\n"                   \
	  "                          strict, ignore or default (give it with '=')\n")                       \
	X(network_lock, NETLOCK, NETLOCK, BOTH, CRPC_OPTF_RECORD,                                           \
	  SINCE(31900, "--network-lock skip", CRPC_NETLOCK_SKIP), RK_NETLOCK, D, 0, "network-lock", REQARG, \
	  "METHOD",                                                                                         \
	  "      --network-lock METHOD\n"                                                                   \
	  "                          how to lock the network: iptables, nftables or skip\n",                \
	  "")                                                                                               \
	X(log_file, STR, LOG_FILE, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_NOT_LISTED, NOGATE, RK_RESTORE_OWN,   \
	  NONE, 0, "", NOARG, "", "", "")                                                                   \
	X(root, STR, STR, RESTORE, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", "")  \
	X(parent_img, STR, STR, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "",   \
	  "")                                                                                               \
	X(lsm_profile, STR, STR, RESTORE, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "",   \
	  "", "")                                                                                           \
	X(lsm_mount_context, STR, STR, RESTORE, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, \
	  "", "", "")                                                                                       \
	X(cgroup_props, STR, STR, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", \
	  "")                                                                                               \
	X(cgroup_props_file, STR, STR, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG,    \
	  "", "", "")                                                                                       \
	X(cgroup_yard, STR, STR, BOTH, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "",  \
	  "")                                                                                               \
	X(freeze_cgroup, STR, STR, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "",    \
	  "", "")                                                                                           \
	X(external, EXTERNAL, EXTERNAL, BOTH, CRPC_OPTF_RECORD | CRPC_OPTF_AUTO, NOGATE, RK_EXTERNAL, DR,   \
	  0, "external", REQARG, "RES",                                                                     \
	  "      --external RES      mark resource RES as external, e.g. 'mnt[/data]:data'\n"               \
	  "                          (repeatable)\n",                                                       \
	  "      --external RES      resource RES is external, e.g. 'mnt[data]:/srv/data'\n"                \
	  "                          (repeatable)\n")                                                       \
	X(skip_mnt, STRV, STRV, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "",   \
	  "")                                                                                               \
	X(enable_fs, STRV, STRV, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "",  \
	  "")                                                                                               \
	X(irmap_scan_paths, STRV, STRV, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG,   \
	  "", "", "")                                                                                       \
	X(cgroup_dump_controller, STRV, STRV, DUMP, CRPC_OPTF_RECORD, NOGATE, RK_DUMP_ONLY, NONE, 0, "",    \
	  NOARG, "", "", "")                                                                                \
	X(inherit_fd, INHERIT_FD, INHERIT_FD, RESTORE, CRPC_OPTF_RECORD, NOGATE, RK_FD, R, 0, "inherit-fd", \
	  REQARG, "fd[N]:KEY", "",                                                                          \
	  "      --inherit-fd fd[N]:KEY\n"                                                                  \
	  "                          give the restored tree crpc's open fd N in place of\n"                 \
	  "                          resource KEY, e.g. 'fd[3]:socket:[12345]' or\n"                        \
	  "                          'fd[3]:pipe:[6789]' (N >= 3, open when crpc starts;\n"                 \
	  "                          repeatable)\n")                                                        \
	X(cg_root, CG_ROOT, CG_ROOT, BOTH, 0, NOGATE, RK_DUMP_ONLY, NONE, 0, "", NOARG, "", "", "")

#endif /* CRPC_OPTS_TABLE_H */
