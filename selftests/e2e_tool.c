// SPDX-License-Identifier: GPL-2.0
/*
 * Small static multi-tool for the end-to-end migration test (selftests/e2e_in_vm.sh), used both in
 * the test VM and inside the nested guest, where only busybox exists (busybox nc drops data
 * when its stdin ends, and nothing there can pace a transfer or talk to QEMU's monitor).
 *
 *   e2e_tool send HOST PORT FILE [KBPS]   send FILE over TCP, paced at KBPS KiB/s (0: no pacing)
 *   e2e_tool recv PORT FILE [SECS]        accept one TCP connection, write what arrives to FILE
 *   e2e_tool mon SOCKET CMD...            run one HMP command on QEMU's unix-socket monitor
 *   e2e_tool miginfo SOCKET               QEMU's migration status and figures from its QMP
 *                                         socket (query-migrate), as "name: value" lines in
 *                                         the words of QEMU 10.0's "info migrate", whose HMP
 *                                         text later versions reworded and rounded
 *   e2e_tool relay PORT DSTPORT [corrupt] forward one TCP connection from PORT to 127.0.0.1:DSTPORT
 *                                         and back; "corrupt" rewrites the version field after
 *                                         every vfio_ixgbevf_mig stream magic it forwards
 *   e2e_tool regs BDF                     print a VF's interrupt and queue 0 registers and its
 *                                         MSI-X table and PBA as the host sees them (through
 *                                         sysfs; never reads a read-to-clear register)
 *   e2e_tool nooffload IFACE              turn scatter-gather and TSO off (ethtool ioctl): the
 *                                         rig's emulated igb drops a TX buffer whose pages are
 *                                         not contiguous behind its vIOMMU (see e2e_in_vm.sh)
 *   e2e_tool contig PID MIB               how much of QEMU process PID's guest RAM (its smallest
 *                                         private rw mapping of at least MIB MiB) is physically
 *                                         contiguous, from pagemap
 *   e2e_tool pfregs BDF [eicr]            the PF's interrupt and VF enable registers; "eicr"
 *                                         also reads (and so clears) EICR
 *
 * regs and pfregs take the register map of the family the function's PF driver belongs to
 * (igb: 82576, ixgbe: 82599), found in sysfs.
 *
 * Exit status 0 on success, 1 on failure (with a message on stderr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "e2e_tool: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

static int tcp_listen(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1)) {
		close(s);
		return -1;
	}
	return s;
}

/* Connects, retrying for up to @secs: the other side may still be starting. */
static int tcp_connect(const char *host, int port, int secs)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	double end = now() + secs;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0)
			return -1;
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			return s;
		close(s);
		if (now() > end)
			return -1;
		usleep(200000);
	}
}

static int cmd_send(int argc, char **argv)
{
	char buf[4096];
	double t0, rate;
	size_t total = 0;
	FILE *f;
	int s;

	if (argc < 3)
		return 2;
	rate = argc > 3 ? atof(argv[3]) * 1024 : 0;
	f = fopen(argv[2], "rb");
	if (!f)
		return fail(argv[2]);
	s = tcp_connect(argv[0], atoi(argv[1]), 60);
	if (s < 0)
		return fail("connect");
	t0 = now();
	for (;;) {
		size_t n = fread(buf, 1, sizeof(buf), f);

		if (!n)
			break;
		if (write_all(s, buf, n))
			return fail("send");
		total += n;
		/* Pace: never ahead of rate * elapsed. */
		while (rate > 0 && total > rate * (now() - t0))
			usleep(10000);
	}
	/* A FIN after the last byte, then wait for the peer's close: everything was read. */
	shutdown(s, SHUT_WR);
	while (read(s, buf, sizeof(buf)) > 0)
		;
	close(s);
	fclose(f);
	printf("sent %zu bytes in %.2f s\n", total, now() - t0);
	return 0;
}

static int cmd_recv(int argc, char **argv)
{
	char buf[16384];
	size_t total = 0;
	int l, s, out;
	ssize_t n;

	if (argc < 2)
		return 2;
	if (argc > 2)
		alarm(atoi(argv[2]));
	l = tcp_listen(atoi(argv[0]));
	if (l < 0)
		return fail("listen");
	s = accept(l, NULL, NULL);
	if (s < 0)
		return fail("accept");
	close(l);
	out = creat(argv[1], 0644);
	if (out < 0)
		return fail(argv[1]);
	while ((n = read(s, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("recv");
		if (write_all(out, buf, n))
			return fail("write");
		total += n;
	}
	close(s);
	if (close(out))
		return fail("close");
	printf("received %zu bytes\n", total);
	return 0;
}

/* Reads from the monitor until the "(qemu) " prompt; returns the length, -1 or -2 on EOF. */
static int mon_read(int s, char *buf, size_t cap, double deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;

		buf[len] = 0;
		if (strstr(buf, "(qemu) "))
			return len;
		if (len + 1 >= cap || now() > deadline)
			return -1;
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(s, buf + len, cap - 1 - len);
		if (n <= 0)
			return n ? -1 : -2;
		len += n;
	}
}

/* Drops terminal escapes and carriage returns that HMP's line editor emits. */
static void mon_clean(char *s)
{
	char *w = s;

	while (*s) {
		if (*s == 0x1b) {
			s++;
			if (*s == '[') {
				s++;
				while (*s && !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
					s++;
			}
			if (*s)
				s++;
			continue;
		}
		if (*s != '\r')
			*w++ = *s;
		s++;
	}
	*w = 0;
}

static int cmd_mon(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	static char buf[1 << 16];
	char cmd[1024] = "";
	double deadline = now() + 60;
	char *out, *prompt;
	int s, i;

	if (argc < 2)
		return 2;
	for (i = 1; i < argc; i++) {
		strncat(cmd, argv[i], sizeof(cmd) - strlen(cmd) - 2);
		strcat(cmd, i + 1 < argc ? " " : "\n");
	}
	strncpy(a.sun_path, argv[0], sizeof(a.sun_path) - 1);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		return fail(argv[0]);
	if (mon_read(s, buf, sizeof(buf), deadline) < 0)
		return fail("monitor banner");
	if (write_all(s, cmd, strlen(cmd)))
		return fail("monitor write");
	/* The reply follows the echoed command line and ends at the next prompt. */
	buf[0] = 0;
	i = mon_read(s, buf, sizeof(buf), deadline);
	/* "quit" answers by closing the socket. */
	if (i == -2 && !strncmp(cmd, "quit", 4))
		return 0;
	if (i < 0) {
		errno = ETIMEDOUT;
		return fail("monitor reply");
	}
	mon_clean(buf);
	out = strchr(buf, '\n');
	out = out ? out + 1 : buf;
	prompt = strstr(out, "(qemu) ");
	if (prompt)
		*prompt = 0;
	fputs(out, stdout);
	close(s);
	return 0;
}

/* One line from QMP (each message ends in CRLF), without its end. */
static int qmp_getline(int s, char *buf, size_t cap, double deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;
		char c;

		if (now() > deadline)
			return -1;
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(s, &c, 1);
		if (n <= 0)
			return -1;
		if (c == '\n') {
			if (len && buf[len - 1] == '\r')
				len--;
			buf[len] = 0;
			return len;
		}
		if (len + 1 < cap)
			buf[len++] = c;
	}
}

/* Sends @cmd and reads its reply into @buf; events that arrive first are skipped. */
static int qmp_exec(int s, const char *cmd, char *buf, size_t cap, double deadline)
{
	if (write_all(s, cmd, strlen(cmd)))
		return -1;
	do {
		if (qmp_getline(s, buf, cap, deadline) < 0)
			return -1;
	} while (strncmp(buf, "{\"return\"", 9) && strncmp(buf, "{\"error\"", 8));
	return 0;
}

/*
 * The value of @key among the members of the JSON object that starts at @obj, not those of
 * objects nested in it; NULL if absent. A string equal to @key is a key only when a colon
 * follows it.
 */
static const char *json_get(const char *obj, const char *key)
{
	size_t klen = strlen(key);
	const char *p, *end, *v;
	int depth = 0;

	for (p = obj; *p; p++) {
		if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth <= 0)
				return NULL;
		} else if (*p == '"') {
			for (end = p + 1; *end && *end != '"'; end++)
				if (*end == '\\' && end[1])
					end++;
			if (!*end)
				return NULL;
			v = end + 1;
			while (*v == ' ')
				v++;
			if (depth == 1 && *v == ':' && (size_t)(end - p - 1) == klen &&
			    !strncmp(p + 1, key, klen)) {
				for (v++; *v == ' '; v++)
					;
				return v;
			}
			p = end;
		}
	}
	return NULL;
}

/* A string member as printable text (escapes left as they are), or NULL. */
static const char *json_str(const char *obj, const char *key, char *out, size_t cap)
{
	const char *v = json_get(obj, key);
	size_t n = 0;

	if (!v || *v != '"')
		return NULL;
	for (v++; *v && *v != '"' && n + 1 < cap; v++) {
		if (*v == '\\' && v[1])
			out[n++] = *v++;
		if (n + 1 < cap)
			out[n++] = *v;
	}
	out[n] = 0;
	return out;
}

/* Prints "<name>: <value><unit>" for a numeric member, in KiB when @kib. */
static void json_print_num(const char *obj, const char *key, const char *name, const char *unit,
			   int kib)
{
	const char *v = obj ? json_get(obj, key) : NULL;
	unsigned long long n;

	if (!v || *v < '0' || *v > '9')
		return;
	n = strtoull(v, NULL, 10);
	printf("%s: %llu%s\n", name, kib ? n >> 10 : n, unit);
}

static int cmd_miginfo(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	static char buf[1 << 16];
	double deadline = now() + 60;
	const char *r, *ram, *vfio;
	char status[64], err[512];
	int s;

	if (argc < 1)
		return 2;
	strncpy(a.sun_path, argv[0], sizeof(a.sun_path) - 1);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		return fail(argv[0]);
	if (qmp_getline(s, buf, sizeof(buf), deadline) < 0 || !strstr(buf, "\"QMP\""))
		return fail("QMP greeting");
	if (qmp_exec(s, "{\"execute\": \"qmp_capabilities\"}\n", buf, sizeof(buf), deadline) ||
	    qmp_exec(s, "{\"execute\": \"query-migrate\"}\n", buf, sizeof(buf), deadline))
		return fail("QMP reply");
	close(s);
	r = json_get(buf, "return");
	if (!r || *r != '{') {
		fprintf(stderr, "e2e_tool: query-migrate: %s\n", buf);
		return 1;
	}
	/* No status yet: no migration started (HMP printed nothing either). */
	if (!json_str(r, "status", status, sizeof(status)))
		return 0;
	/* As HMP: the error only with "failed" ("cancelled" has one too, from the socket). */
	if (!strcmp(status, "failed") && json_str(r, "error-desc", err, sizeof(err)))
		printf("Migration status: %s (%s)\n", status, err);
	else
		printf("Migration status: %s\n", status);
	json_print_num(r, "total-time", "total time", " ms", 0);
	json_print_num(r, "expected-downtime", "expected downtime", " ms", 0);
	json_print_num(r, "downtime", "downtime", " ms", 0);
	json_print_num(r, "setup-time", "setup", " ms", 0);
	ram = json_get(r, "ram");
	if (ram && *ram == '{') {
		json_print_num(ram, "transferred", "transferred ram", " kbytes", 1);
		json_print_num(ram, "remaining", "remaining ram", " kbytes", 1);
		json_print_num(ram, "total", "total ram", " kbytes", 1);
		json_print_num(ram, "dirty-sync-count", "dirty sync count", "", 0);
	}
	vfio = json_get(r, "vfio");
	if (vfio && *vfio == '{')
		json_print_num(vfio, "transferred", "vfio device transferred", " kbytes", 1);
	return 0;
}

/*
 * Streams the bytes through a matcher for the device stream magic; after a match, the two
 * version bytes that follow are replaced (version 0x7f00 + 1: a stream from a future
 * producer), wherever the read boundaries fall.
 */
struct corrupter {
	int on, matched, pending, hits;
};

static void corrupt(struct corrupter *c, char *buf, size_t len)
{
	static const char magic[] = "IXVFMIG1";
	size_t i;

	for (i = 0; c->on && i < len; i++) {
		if (c->pending) {
			/* Little-endian u16: low byte stays, high byte becomes 0x7f. */
			if (c->pending == 1)
				buf[i] = 0x7f;
			c->pending--;
			continue;
		}
		if (buf[i] == magic[c->matched]) {
			if (++c->matched == 8) {
				c->matched = 0;
				c->pending = 2;
				c->hits++;
			}
		} else {
			c->matched = buf[i] == magic[0];
		}
	}
}

static int cmd_relay(int argc, char **argv)
{
	struct corrupter c = { .on = argc > 2 && !strcmp(argv[2], "corrupt") };
	size_t fwd = 0, back = 0;
	int l, a, b, open_dirs = 3;
	static char buf[65536];

	if (argc < 2)
		return 2;
	l = tcp_listen(atoi(argv[0]));
	if (l < 0)
		return fail("listen");
	a = accept(l, NULL, NULL);
	if (a < 0)
		return fail("accept");
	b = tcp_connect("127.0.0.1", atoi(argv[1]), 10);
	if (b < 0)
		return fail("connect");
	while (open_dirs) {
		struct pollfd p[2] = { { .fd = (open_dirs & 1) ? a : -1, .events = POLLIN },
				       { .fd = (open_dirs & 2) ? b : -1, .events = POLLIN } };
		ssize_t n;
		int i;

		if (poll(p, 2, -1) < 0)
			return fail("poll");
		for (i = 0; i < 2; i++) {
			int from = i ? b : a, to = i ? a : b;

			if (!p[i].revents)
				continue;
			n = read(from, buf, sizeof(buf));
			if (n <= 0) {
				/* One side is done: pass the close on. */
				shutdown(to, SHUT_WR);
				open_dirs &= ~(1 << i);
				continue;
			}
			if (!i)
				corrupt(&c, buf, n);
			if (write_all(to, buf, n)) {
				open_dirs = 0;
				break;
			}
			*(i ? &back : &fwd) += n;
		}
	}
	printf("relayed %zu bytes forward, %zu back, %d stream header(s) rewritten\n", fwd, back,
	       c.hits);
	return 0;
}

/* A sysfs resource file of BDF, mapped read-only. */
static volatile uint32_t *map_res(const char *bdf, int bar, size_t len)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", bdf, bar);
	fd = open(path, O_RDONLY | O_SYNC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

struct reg {
	const char *name;
	uint32_t off;
};

/*
 * What regs and pfregs read, per family. Only registers that reading does not change: not
 * EICR/VTEICR (read-to-clear) and not the VF mailbox, whose PF status/ack bits clear on read
 * and would be lost to the guest's driver.
 */
struct family {
	const char *pf_driver;
	const struct reg *vf, *pf;
	unsigned int nvf, npf;
	uint32_t eicr;
};

/* 82576 (igb): queue 0 at the 0x2800/0x3800 aliases; PF EIMS bits 22 - 3n .. 24 - 3n are VF n's. */
static const struct reg igb_vf[] = {
	{ "STATUS", 0x0008 }, { "EIMS", 0x1524 }, { "EIAC", 0x152c }, { "EIAM", 0x1530 },
	{ "EITR0", 0x1680 }, { "EITR1", 0x1684 }, { "EITR2", 0x1688 },
	{ "IVAR0", 0x1700 }, { "IVAR_MISC", 0x1740 }, { "GPRC", 0x0f10 }, { "GPTC", 0x0f14 },
	{ "RDBAL", 0x2800 }, { "RDLEN", 0x2808 }, { "RDH", 0x2810 }, { "RDT", 0x2818 },
	{ "RXDCTL", 0x2828 }, { "TDBAL", 0x3800 }, { "TDLEN", 0x3808 }, { "TDH", 0x3810 },
	{ "TDT", 0x3818 }, { "TXDCTL", 0x3828 }, { "TDWBAL", 0x3838 },
};
static const struct reg igb_pf[] = {
	{ "GPIE", 0x1514 }, { "EIMS", 0x1524 }, { "EIAC", 0x152c }, { "EIAM", 0x1530 },
	{ "VFRE", 0x0c8c }, { "VFTE", 0x0c90 }, { "MBVFICR", 0x0c80 }, { "VFLRE", 0x0c88 },
};

/*
 * 82599 (ixgbe, ixgbevf regs.h): a VF interrupts through its own VTEI* registers, the PF sees
 * it only through the mailbox (PFMBICR, EICR.MAILBOX) and VFLREC.
 */
static const struct reg ixgbe_vf[] = {
	{ "STATUS", 0x0008 }, { "LINKS", 0x0010 }, { "EIMS", 0x0108 }, { "EIAC", 0x0110 },
	{ "EIAM", 0x0114 }, { "EITR0", 0x0820 }, { "EITR1", 0x0824 }, { "EITR2", 0x0828 },
	{ "IVAR0", 0x0120 }, { "IVAR_MISC", 0x0140 }, { "GPRC", 0x101c }, { "GPTC", 0x201c },
	{ "RDBAL", 0x1000 }, { "RDLEN", 0x1008 }, { "RDH", 0x1010 }, { "RDT", 0x1018 },
	{ "RXDCTL", 0x1028 }, { "TDBAL", 0x2000 }, { "TDLEN", 0x2008 }, { "TDH", 0x2010 },
	{ "TDT", 0x2018 }, { "TXDCTL", 0x2028 }, { "TDWBAL", 0x2038 },
};
static const struct reg ixgbe_pf[] = {
	{ "GPIE", 0x0898 }, { "EIMS", 0x0880 }, { "EIAC", 0x0810 }, { "EIAM", 0x0890 },
	{ "VFRE0", 0x51e0 }, { "VFTE0", 0x8110 }, { "PFMBICR0", 0x0710 }, { "PFMBIMR0", 0x0720 },
	{ "VFLREC0", 0x0700 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct family families[] = {
	{ "igb", igb_vf, igb_pf, N(igb_vf), N(igb_pf), 0x1580 },
	{ "ixgbe", ixgbe_vf, ixgbe_pf, N(ixgbe_vf), N(ixgbe_pf), 0x0800 },
};

/* The family of BDF: its PF's driver (physfn for a VF, the device itself for a PF). */
static const struct family *family_of(const char *bdf)
{
	char path[128], link[256];
	const char *drv;
	unsigned int i;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/physfn/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
		n = readlink(path, link, sizeof(link) - 1);
	}
	if (n < 0) {
		fail(path);
		return NULL;
	}
	link[n] = 0;
	drv = strrchr(link, '/');
	drv = drv ? drv + 1 : link;
	for (i = 0; i < N(families); i++)
		if (!strcmp(drv, families[i].pf_driver))
			return &families[i];
	fprintf(stderr, "e2e_tool: %s: PF driver %s is neither igb nor ixgbe\n", bdf, drv);
	return NULL;
}

static int cmd_regs(int argc, char **argv)
{
	const struct family *fam;
	uint8_t cfg[256];
	volatile uint32_t *bar0, *tab, *pba;
	unsigned int i, cap, ctrl, nvec, tbir, toff, pbir, poff;
	char path[128];
	FILE *f;

	if (argc < 1)
		return 2;
	fam = family_of(argv[0]);
	if (!fam)
		return 1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", argv[0]);
	f = fopen(path, "r");
	if (!f || fread(cfg, 1, sizeof(cfg), f) != sizeof(cfg))
		return fail(path);
	fclose(f);
	bar0 = map_res(argv[0], 0, 0x4000);
	if (!bar0)
		return fail("resource0");
	for (i = 0; i < fam->nvf; i++)
		printf("%s=%#x%c", fam->vf[i].name, bar0[fam->vf[i].off / 4], i % 8 == 7 ? '\n' : ' ');
	printf("\n");
	/* The MSI-X capability (ID 0x11) gives the table's and PBA's BAR and offset. */
	for (cap = cfg[0x34] & 0xfc, i = 0; cap && cfg[cap] != 0x11 && i < 48; i++)
		cap = cfg[cap + 1] & 0xfc;
	if (!cap || cfg[cap] != 0x11) {
		printf("no MSI-X capability\n");
		return 0;
	}
	ctrl = cfg[cap + 2] | cfg[cap + 3] << 8;
	nvec = (ctrl & 0x7ff) + 1;
	tbir = cfg[cap + 4] & 7;
	toff = (cfg[cap + 4] | cfg[cap + 5] << 8 | cfg[cap + 6] << 16 | cfg[cap + 7] << 24) & ~7u;
	pbir = cfg[cap + 8] & 7;
	poff = (cfg[cap + 8] | cfg[cap + 9] << 8 | cfg[cap + 10] << 16 | cfg[cap + 11] << 24) & ~7u;
	printf("MSI-X enable=%u function_mask=%u vectors=%u cmd=%#x\n", ctrl >> 15 & 1,
	       ctrl >> 14 & 1, nvec, cfg[4] | cfg[5] << 8);
	tab = map_res(argv[0], tbir, toff + nvec * 16);
	pba = map_res(argv[0], pbir, poff + 8);
	if (!tab || !pba)
		return fail("MSI-X BAR");
	for (i = 0; i < nvec && i < 8; i++) {
		volatile uint32_t *e = tab + (toff + i * 16) / 4;

		printf("vector %u: addr=%#x data=%#x masked=%u pending=%u\n", i, e[0], e[2],
		       e[3] & 1, pba[poff / 4] >> i & 1);
	}
	return 0;
}

static int cmd_nooffload(int argc, char **argv)
{
	static const uint32_t cmds[] = { ETHTOOL_STSO, ETHTOOL_SSG };
	struct ethtool_value ev;
	struct ifreq ifr;
	unsigned int i;
	int s;

	if (argc < 1)
		return 2;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return fail("socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[0]);
	ifr.ifr_data = (void *)&ev;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		ev.cmd = cmds[i];
		ev.data = 0;
		if (ioctl(s, SIOCETHTOOL, &ifr))
			return fail(argv[0]);
	}
	close(s);
	return 0;
}

static int cmd_contig(int argc, char **argv)
{
	unsigned long lo, hi, best_lo = 0, best_hi = 0, pages, present = 0, contig = 0, va, min;
	uint64_t e, prev = 0;
	char path[64], line[512], perm[8];
	FILE *f;
	int fd;

	if (argc < 2)
		return 2;
	min = strtoul(argv[1], NULL, 0) << 20;
	snprintf(path, sizeof(path), "/proc/%s/maps", argv[0]);
	f = fopen(path, "r");
	if (!f)
		return fail(path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 && !strcmp(perm, "rw-p") &&
		    hi - lo >= min && (!best_hi || hi - lo < best_hi - best_lo))
			best_lo = lo, best_hi = hi;
	fclose(f);
	if (!best_hi) {
		printf("no private rw mapping of %s MiB or more\n", argv[1]);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%s/pagemap", argv[0]);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail(path);
	pages = (best_hi - best_lo) / 4096;
	for (va = best_lo; va < best_hi; va += 4096) {
		if (pread(fd, &e, 8, va / 4096 * 8) != 8)
			return fail("pagemap");
		if (e >> 63 & 1) {
			present++;
			if (prev >> 63 & 1 && (e & ((1ull << 55) - 1)) == (prev & ((1ull << 55) - 1)) + 1)
				contig++;
		}
		prev = e;
	}
	close(fd);
	printf("%lu MiB mapping: %lu pages present, %lu%% of present pages physically follow their predecessor\n",
	       pages / 256, present, present ? contig * 100 / present : 0);
	return 0;
}

static int cmd_pfregs(int argc, char **argv)
{
	const struct family *fam;
	volatile uint32_t *bar0;
	unsigned int i;

	if (argc < 1)
		return 2;
	fam = family_of(argv[0]);
	if (!fam)
		return 1;
	bar0 = map_res(argv[0], 0, 0x20000);
	if (!bar0)
		return fail("resource0");
	for (i = 0; i < fam->npf; i++)
		printf("%s=%#x ", fam->pf[i].name, bar0[fam->pf[i].off / 4]);
	if (argc > 1 && !strcmp(argv[1], "eicr"))
		printf("EICR=%#x", bar0[fam->eicr / 4]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} cmds[] = {
		{ "send", cmd_send }, { "recv", cmd_recv }, { "mon", cmd_mon },
		{ "miginfo", cmd_miginfo },
		{ "relay", cmd_relay }, { "regs", cmd_regs }, { "nooffload", cmd_nooffload },
		{ "contig", cmd_contig }, { "pfregs", cmd_pfregs },
	};
	unsigned int i;
	int rc = 2;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			rc = cmds[i].run(argc - 2, argv + 2);
	if (rc == 2)
		fprintf(stderr, "usage: e2e_tool send|recv|mon|miginfo|relay|regs|nooffload|contig|pfregs ... (see the source's header)\n");
	return rc;
}
