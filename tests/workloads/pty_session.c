/*
 * zoo_pty_session DIR TAG [-o] CMD [ARGS...]: run CMD on a new pty in a
 * session led by a process of ours, the way a terminal and a shell would:
 *
 *   this process   holds the pty master: appends what comes out of it to
 *                  DIR/TAG.tty and answers each "ping N" line with
 *                  "pong N N"
 *   its child      the session leader (setsid, the pty's slave as its
 *                  controlling terminal); runs CMD as its child in its
 *                  process group, the terminal's foreground group, writes
 *                  "exit N" or "signal N" to DIR/TAG.status when CMD ends,
 *                  and stays on as the session leader
 *
 * CMD's stdin, stdout and stderr are the slave; with -o, its stdout and
 * stderr go to DIR/TAG.out and DIR/TAG.err instead. The slave does not echo
 * input. Runs until killed; the session leader ends when the master holder
 * does (SIGKILL on parent death).
 */
#include "zoo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const char *g_tag;

static void tag_path(char *buf, size_t size, const char *ext)
{
	char suffix[64];

	snprintf(suffix, sizeof(suffix), "/%s.%s", g_tag, ext);
	zoo_path(buf, size, suffix);
}

static void write_status(int status)
{
	char path[PATH_MAX], text[32];
	int fd;

	if (WIFEXITED(status))
		snprintf(text, sizeof(text), "exit %d\n", WEXITSTATUS(status));
	else
		snprintf(text, sizeof(text), "signal %d\n", WTERMSIG(status));
	tag_path(path, sizeof(path), "status");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		zoo_write_all(fd, text, strlen(text));
		close(fd);
	}
}

static void __attribute__((noreturn)) session_leader(const char *slave_name, bool redirect, char **cmd)
{
	char path[PATH_MAX];
	int slave, status;
	pid_t child;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setsid() < 0)
		_exit(120);
	slave = open(slave_name, O_RDWR); /* becomes the controlling terminal */
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		_exit(121);
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		_exit(122);
	if (slave > 2)
		close(slave);
	child = fork();
	if (child < 0)
		_exit(123);
	if (child == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (redirect) {
			int out, err;

			tag_path(path, sizeof(path), "out");
			out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			tag_path(path, sizeof(path), "err");
			err = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
				_exit(124);
			close(out);
			close(err);
		}
		execv(cmd[0], cmd);
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	write_status(status);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], line[256];
	struct termios tio;
	bool redirect = false;
	char **cmd;
	int master, log, slave;
	size_t len = 0;
	pid_t leader;

	zoo_init("pty_session", argc, argv);
	if (argc < 4)
		zoo_die("usage: zoo_pty_session DIR TAG [-o] CMD [ARGS...]");
	g_tag = argv[2];
	cmd = argv + 3;
	if (strcmp(cmd[0], "-o") == 0) {
		redirect = true;
		cmd++;
	}
	if (!cmd[0])
		zoo_die("no command");
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !ptsname(master))
		zoo_die("pty: %s", strerror(errno));
	/* no echo, no output translation: the master sees exactly what is written */
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || tcgetattr(slave, &tio) < 0)
		zoo_die("pty slave: %s", strerror(errno));
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tio.c_oflag &= ~(tcflag_t)ONLCR;
	if (tcsetattr(slave, TCSANOW, &tio) < 0)
		zoo_die("tcsetattr: %s", strerror(errno));
	tag_path(path, sizeof(path), "tty");
	log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log < 0)
		zoo_die("%s: %s", path, strerror(errno));
	leader = fork();
	if (leader < 0)
		zoo_die("fork: %s", strerror(errno));
	if (leader == 0)
		session_leader(ptsname(master), redirect, cmd);
	close(slave); /* after the fork: the master never sees a hangup meanwhile */
	for (;;) {
		char c;
		ssize_t n = read(master, &c, 1);
		unsigned seq;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* EIO: no slave open at the moment */
			zoo_sleep_ms(50);
			continue;
		}
		zoo_write_all(log, &c, 1);
		if (c != '\n') {
			if (len + 1 < sizeof(line))
				line[len++] = c;
			continue;
		}
		line[len] = '\0';
		len = 0;
		if (sscanf(line, "ping %u", &seq) == 1) {
			char answer[64];

			snprintf(answer, sizeof(answer), "pong %u %u\n", seq, seq);
			zoo_write_all(master, answer, strlen(answer));
		}
	}
}
