// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO live migration of an 82576 VF through vfio_ixgbevf_mig: the v2 FSM,
 * the saving and resuming data fds, hostile streams, state changes racing
 * resets, and real migrations under traffic (VF0 -> VF1 on one IOAS, with a
 * MAC, a multicast group or a VLAN; and save -> reset -> resume on one VF).
 *
 * Environment (see rig/init.sh):
 *   VF_BDF, VF_BDF2  the two VFs (missing: SKIP)
 *   PEER_IF          netdev on the same wire (traffic tests, else SKIP)
 *   MIG_DRIVER       driver the VFs are bound to. Without a MIGRATION
 *                    feature (vfio-pci) every test SKIPs; with
 *                    vfio_ixgbevf_mig a missing feature is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "igbvf_drv.h"
#include "kselftest_harness.h"
#include "mig_util.h"
#include "vfio_util.h"

#define IOVA_DRV	0x10000000ull

#define S_ERROR		VFIO_DEVICE_STATE_ERROR
#define S_STOP		VFIO_DEVICE_STATE_STOP
#define S_RUNNING	VFIO_DEVICE_STATE_RUNNING
#define S_STOP_COPY	VFIO_DEVICE_STATE_STOP_COPY
#define S_RESUMING	VFIO_DEVICE_STATE_RESUMING
#define S_RUNNING_P2P	VFIO_DEVICE_STATE_RUNNING_P2P
#define S_PRE_COPY	VFIO_DEVICE_STATE_PRE_COPY
#define S_PRE_COPY_P2P	VFIO_DEVICE_STATE_PRE_COPY_P2P
#define NSTATES		8

#define MIG_DRIVER_NAME	"vfio_ixgbevf_mig"
#define STREAM_BUF	(2 * MIG_MAX_STREAM)

static const char *sn(uint32_t s)
{
	return vfio_mig_state_name(s);
}

/* Every state userspace may ask for (ERROR never). */
static const uint32_t valid_states[] = {
	S_RUNNING, S_STOP, S_STOP_COPY, S_RESUMING, S_RUNNING_P2P,
	S_PRE_COPY, S_PRE_COPY_P2P,
};
#define NVALID (sizeof(valid_states) / sizeof(valid_states[0]))

/*
 * vfio_mig_get_next_state()'s table (drivers/vfio/vfio_main.c) for a device
 * with STOP_COPY | P2P | PRE_COPY: the next arc from [cur] towards [new].
 * ERROR (0) marks a blocked combination.
 */
static const uint8_t fsm_next[NSTATES][NSTATES] = {
	[S_STOP] = {
		[S_STOP] = S_STOP, [S_RUNNING] = S_RUNNING_P2P,
		[S_PRE_COPY] = S_RUNNING_P2P, [S_PRE_COPY_P2P] = S_RUNNING_P2P,
		[S_STOP_COPY] = S_STOP_COPY, [S_RESUMING] = S_RESUMING,
		[S_RUNNING_P2P] = S_RUNNING_P2P,
	},
	[S_RUNNING] = {
		[S_STOP] = S_RUNNING_P2P, [S_RUNNING] = S_RUNNING,
		[S_PRE_COPY] = S_PRE_COPY, [S_PRE_COPY_P2P] = S_RUNNING_P2P,
		[S_STOP_COPY] = S_RUNNING_P2P, [S_RESUMING] = S_RUNNING_P2P,
		[S_RUNNING_P2P] = S_RUNNING_P2P,
	},
	[S_PRE_COPY] = {
		[S_STOP] = S_RUNNING, [S_RUNNING] = S_RUNNING,
		[S_PRE_COPY] = S_PRE_COPY, [S_PRE_COPY_P2P] = S_PRE_COPY_P2P,
		[S_STOP_COPY] = S_PRE_COPY_P2P, [S_RESUMING] = S_RUNNING,
		[S_RUNNING_P2P] = S_RUNNING,
	},
	[S_PRE_COPY_P2P] = {
		[S_STOP] = S_RUNNING_P2P, [S_RUNNING] = S_RUNNING_P2P,
		[S_PRE_COPY] = S_PRE_COPY, [S_PRE_COPY_P2P] = S_PRE_COPY_P2P,
		[S_STOP_COPY] = S_STOP_COPY, [S_RESUMING] = S_RUNNING_P2P,
		[S_RUNNING_P2P] = S_RUNNING_P2P,
	},
	[S_STOP_COPY] = {
		[S_STOP] = S_STOP, [S_RUNNING] = S_STOP,
		[S_PRE_COPY] = S_ERROR, [S_PRE_COPY_P2P] = S_ERROR,
		[S_STOP_COPY] = S_STOP_COPY, [S_RESUMING] = S_STOP,
		[S_RUNNING_P2P] = S_STOP,
	},
	[S_RESUMING] = {
		[S_STOP] = S_STOP, [S_RUNNING] = S_STOP,
		[S_PRE_COPY] = S_STOP, [S_PRE_COPY_P2P] = S_STOP,
		[S_STOP_COPY] = S_STOP, [S_RESUMING] = S_RESUMING,
		[S_RUNNING_P2P] = S_STOP,
	},
	[S_RUNNING_P2P] = {
		[S_STOP] = S_STOP, [S_RUNNING] = S_RUNNING,
		[S_PRE_COPY] = S_RUNNING, [S_PRE_COPY_P2P] = S_PRE_COPY_P2P,
		[S_STOP_COPY] = S_STOP, [S_RESUMING] = S_STOP,
		[S_RUNNING_P2P] = S_RUNNING_P2P,
	},
};

struct fsm_path {
	int n;			/* arcs, -1 if the core blocks it */
	uint32_t st[NSTATES + 1];	/* st[0] = cur, st[n] = new */
};

static struct fsm_path fsm_path(uint32_t cur, uint32_t new)
{
	struct fsm_path p = { .n = 0, .st = { cur } };

	while (cur != new) {
		uint32_t nx = fsm_next[cur][new];

		if (nx == S_ERROR || p.n == NSTATES)
			return (struct fsm_path){ .n = -1 };
		p.st[++p.n] = nx;
		cur = nx;
	}
	return p;
}

/* Arcs on which the driver hands out a new data fd. */
static bool arc_new_fd(uint32_t a, uint32_t b)
{
	return (a == S_RUNNING && b == S_PRE_COPY) ||
	       (a == S_RUNNING_P2P && b == S_PRE_COPY_P2P) ||
	       (a == S_STOP && b == S_STOP_COPY) ||
	       (a == S_STOP && b == S_RESUMING);
}

/* Arcs that end a save: the saving fd dies. */
static bool arc_ends_save(uint32_t a, uint32_t b)
{
	return (a == S_PRE_COPY && b == S_RUNNING) ||
	       (a == S_PRE_COPY_P2P && b == S_RUNNING_P2P) ||
	       (a == S_STOP_COPY && b == S_STOP);
}

static bool path_has(const struct fsm_path *p, bool (*arc)(uint32_t, uint32_t))
{
	for (int i = 0; i < p->n; i++)
		if (arc(p->st[i], p->st[i + 1]))
			return true;
	return false;
}

static bool is_saving(uint32_t s)
{
	return s == S_PRE_COPY || s == S_PRE_COPY_P2P || s == S_STOP_COPY;
}

/* ---- fixture ---------------------------------------------------------- */

struct mig_ctx {
	const char *bdf;
	struct vfio_dev dev;
	bool opened;
	struct igbvf drv;
	bool drv_up;
	struct mig_peer peer;
	uint8_t *stream;	/* a valid saved stream */
	size_t stream_len;
	uint8_t *buf;		/* scratch, STREAM_BUF bytes */
	struct mig_traffic t;
	bool t_on;
};

static bool driver_must_migrate(void)
{
	const char *d = getenv("MIG_DRIVER");

	return d && !strcmp(d, MIG_DRIVER_NAME);
}

/*
 * Opens bdf and checks for the MIGRATION feature: returns 1 when the driver
 * has none (caller SKIPs), 0 when it does; fails the test on anything else.
 */
static int ctx_open(struct __test_metadata *_metadata, struct mig_ctx *c,
		    const char *bdf, enum vfio_mode mode)
{
	uint64_t flags = 0;
	int ret;

	c->peer.fd = -1;
	c->bdf = bdf;
	c->stream = calloc(1, STREAM_BUF);
	c->buf = calloc(1, STREAM_BUF);
	ASSERT_NE(NULL, c->stream);
	ASSERT_NE(NULL, c->buf);
	ret = vfio_dev_open(&c->dev, bdf, mode);
	ASSERT_EQ(0, ret) TH_LOG("open %s via %s: %s", bdf, vfio_mode_name(mode),
				 vfio_errmsg());
	c->opened = true;
	ret = vfio_mig_flags(&c->dev, &flags);
	if (ret == -ENOTTY && !driver_must_migrate())
		return 1;
	ASSERT_EQ(0, ret) TH_LOG("%s (MIG_DRIVER=%s)", vfio_errmsg(),
				 getenv("MIG_DRIVER") ?: "");
	return 0;
}

static void ctx_close(struct mig_ctx *c)
{
	if (c->t_on)
		mig_traffic_free(&c->t);
	c->t_on = false;
	mig_peer_close(&c->peer);
	if (c->drv_up)
		igbvf_fini(&c->drv);
	c->drv_up = false;
	if (c->opened)
		vfio_dev_close(&c->dev);
	c->opened = false;
	free(c->stream);
	free(c->buf);
	c->stream = c->buf = NULL;
}

FIXTURE(mig) {
	struct mig_ctx c;
};

FIXTURE_SETUP(mig)
{
	const char *bdf = getenv("VF_BDF");

	self->c.peer.fd = -1;
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	if (ctx_open(_metadata, &self->c, bdf, VFIO_MODE_CDEV_IOMMUFD))
		SKIP(return, "%s has no MIGRATION feature (ENOTTY): driver %s does not migrate",
		     bdf, getenv("MIG_DRIVER") ?: "?");
}

FIXTURE_TEARDOWN(mig)
{
	ctx_close(&self->c);
}

/* The legacy group/container way into the same driver. */
FIXTURE(mig_group) {
	struct mig_ctx c;
};

FIXTURE_SETUP(mig_group)
{
	const char *bdf = getenv("VF_BDF");

	self->c.peer.fd = -1;
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	if (ctx_open(_metadata, &self->c, bdf, VFIO_MODE_GROUP_CONTAINER))
		SKIP(return, "%s has no MIGRATION feature (ENOTTY): driver %s does not migrate",
		     bdf, getenv("MIG_DRIVER") ?: "?");
}

FIXTURE_TEARDOWN(mig_group)
{
	ctx_close(&self->c);
}

/* ---- helpers ---------------------------------------------------------- */

static int get_state(struct mig_ctx *c)
{
	uint32_t st;

	if (vfio_mig_get_state(&c->dev, &st))
		return -1;
	return (int)st;
}

/* Sets st (ASSERTs success and GET == st); *fd gets the data fd or -1. */
static void reach(struct __test_metadata *_metadata, struct vfio_dev *d,
		  uint32_t st, int *fd)
{
	uint32_t now = ~0u;
	int ret, tmp;

	ret = vfio_mig_set_state(d, st, fd ? fd : &tmp);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", d->bdf, vfio_errmsg());
	if (!fd && tmp >= 0)
		close(tmp);
	ASSERT_EQ(0, vfio_mig_get_state(d, &now)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(st, now) TH_LOG("%s: set %s, GET says %s", d->bdf, sn(st), sn(now));
}

static void reset_running(struct __test_metadata *_metadata, struct vfio_dev *d)
{
	uint32_t st = ~0u;

	ASSERT_EQ(0, vfio_reset(d)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(0, vfio_mig_get_state(d, &st)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(S_RUNNING, st) TH_LOG("after VFIO_DEVICE_RESET: %s", sn(st));
}

static void drv_up(struct __test_metadata *_metadata, struct mig_ctx *c)
{
	int ret;

	if (c->drv_up)
		igbvf_fini(&c->drv);
	ret = igbvf_init(&c->drv, &c->dev, IOVA_DRV);
	c->drv_up = true;
	ASSERT_EQ(0, ret) TH_LOG("igbvf_init: %s", c->drv.err);
}

/*
 * Saves the device from RUNNING through STOP_COPY into out (whole stream,
 * parsed and checked), then returns it to RUNNING.
 */
static size_t save_stream(struct __test_metadata *_metadata, struct vfio_dev *d,
			  uint8_t *out)
{
	char why[128];
	struct mig_rec recs[MIG_MAX_RECS];
	size_t len;
	int fd, err;

	reach(_metadata, d, S_STOP_COPY, &fd);
	ASSERT_LE(0, fd) TH_LOG("RUNNING -> STOP_COPY returned no data fd");
	len = mig_read_all(fd, out, STREAM_BUF, 4096, &err);
	close(fd);
	ASSERT_EQ(0, err) TH_LOG("STOP_COPY read stopped with %s after %zu bytes",
				 strerror(err), len);
	ASSERT_LT(0, mig_stream_parse(out, len, recs, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("saved stream (%zu bytes) does not parse: %s", len, why);
	reach(_metadata, d, S_RUNNING, NULL);
	return len;
}

/* Default stream of the fixture: taken once the userspace driver runs. */
static void save_running(struct __test_metadata *_metadata, struct mig_ctx *c)
{
	drv_up(_metadata, c);
	c->stream_len = save_stream(_metadata, &c->dev, c->stream);
}

static void peer_up(struct __test_metadata *_metadata, struct mig_ctx *c)
{
	const char *ifname = getenv("PEER_IF");
	int ret;

	if (c->peer.fd >= 0)
		return;
	ASSERT_TRUE(ifname && *ifname);
	ret = mig_peer_open(ifname, &c->peer);
	ASSERT_EQ(0, ret) TH_LOG("peer socket on %s: %s", ifname, strerror(-ret));
}

/*
 * n frames VF -> peer and n frames peer -> VF, every byte checked; without
 * PEER_IF only the TX write-back (DMA) is checked.
 */
static void exchange(struct __test_metadata *_metadata, struct mig_ctx *c,
		     struct igbvf *vf, unsigned int n)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const char *ifname = getenv("PEER_IF");
	uint32_t nonce = (uint32_t)getpid() ^ (uint32_t)now_ns();
	uint8_t f[IGBVF_BUF_SIZE];
	unsigned int got = 0, stray = 0;
	bool have_peer = ifname && *ifname;
	uint64_t deadline;

	if (have_peer)
		peer_up(_metadata, c);
	for (unsigned int s = 0; s < n; s++) {
		mig_frame(f, 100 + s, have_peer ? c->peer.mac : bcast, vf->mac, 0,
			  nonce, s);
		ASSERT_EQ(0, igbvf_tx(vf, f, 100 + s)) TH_LOG("%s", vf->err);
	}
	ASSERT_EQ(0, igbvf_tx_wait(vf, IGBVF_WAIT_MS)) TH_LOG("%s", vf->err);
	if (!have_peer)
		return;

	deadline = now_ms() + IGBVF_WAIT_MS;
	while (got < n) {
		int len = mig_peer_recv(&c->peer, f, sizeof(f), deadline);

		ASSERT_LE(0, len) TH_LOG("peer recv: %s", strerror(-len));
		if (!len)
			break;
		if (mig_frame_check(f, len, nonce) >= 0)
			got++;
		else
			stray++;
	}
	ASSERT_EQ(n, got) TH_LOG("VF %s -> peer: %u of %u frames (%u stray)",
				 mig_mac_str(vf->mac), got, n, stray);

	for (unsigned int s = 0; s < n; s++) {
		mig_frame(f, 100 + s, vf->mac, c->peer.mac, 0, nonce + 1, s);
		ASSERT_EQ(0, mig_peer_send(&c->peer, f, 100 + s));
	}
	got = 0;
	deadline = now_ms() + IGBVF_WAIT_MS;
	while (got < n) {
		uint64_t now = now_ms();
		int len = igbvf_rx(vf, f, sizeof(f), now < deadline ? deadline - now : 0);
		long seq;

		ASSERT_LE(0, len) TH_LOG("%s", vf->err);
		if (!len)
			break;
		seq = mig_frame_check(f, len, nonce + 1);
		ASSERT_NE(-2, seq) TH_LOG("peer -> VF frame corrupted");
		if (seq >= 0)
			got++;
	}
	ASSERT_EQ(n, got) TH_LOG("peer -> VF %s: %u of %u frames (RDH %u RDT %u)",
				 mig_mac_str(vf->mac), got, n,
				 vfio_bar0_read32(vf->dev, IGBVF_RDH),
				 vfio_bar0_read32(vf->dev, IGBVF_RDT));
}

/* After a reset: RUNNING, and the VF works again from scratch. */
static void check_usable(struct __test_metadata *_metadata, struct mig_ctx *c)
{
	int st = get_state(c);

	ASSERT_EQ(S_RUNNING, st) TH_LOG("state %s", st < 0 ? vfio_errmsg() : sn(st));
	drv_up(_metadata, c);
	exchange(_metadata, c, &c->drv, 8);
}

/* Reads and checks that the fd is dead (ENODEV). */
static void expect_enodev_read(struct __test_metadata *_metadata, int fd,
			       const char *what)
{
	uint8_t b[16];
	ssize_t n = read(fd, b, sizeof(b));

	EXPECT_EQ(-1, n) TH_LOG("%s: read returned %zd", what, n);
	EXPECT_EQ(ENODEV, errno) TH_LOG("%s: read errno %s", what, strerror(errno));
}

static void expect_enodev_write(struct __test_metadata *_metadata, int fd,
				const char *what)
{
	uint8_t b[4] = {};
	ssize_t n = write(fd, b, sizeof(b));

	EXPECT_EQ(-1, n) TH_LOG("%s: write returned %zd", what, n);
	EXPECT_EQ(ENODEV, errno) TH_LOG("%s: write errno %s", what, strerror(errno));
}

/* ---- feature ---------------------------------------------------------- */

TEST_F(mig, migration_feature)
{
	uint64_t flags = 0;
	struct vfio_device_feature probe = {
		.argsz = sizeof(probe),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_MIGRATION,
	};

	ASSERT_EQ(0, vfio_mig_flags(&self->c.dev, &flags)) TH_LOG("%s", vfio_errmsg());
	TH_LOG("MIGRATION flags 0x%llx", (unsigned long long)flags);
	EXPECT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		  VFIO_MIGRATION_PRE_COPY, flags);
	EXPECT_EQ(0, ioctl(self->c.dev.device_fd, VFIO_DEVICE_FEATURE, &probe))
		TH_LOG("PROBE MIGRATION: %s", strerror(errno));
	/* MIGRATION is read-only */
	probe.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
		      VFIO_DEVICE_FEATURE_MIGRATION;
	EXPECT_EQ(-1, ioctl(self->c.dev.device_fd, VFIO_DEVICE_FEATURE, &probe));
	EXPECT_EQ(S_RUNNING, get_state(&self->c)) TH_LOG("a freshly opened device runs");
}

/* ---- FSM -------------------------------------------------------------- */

/* A check inside fsm_pair: logs, marks the pair failed, carries on. */
#define PCHECK(cond, fmt, ...) do {					\
	if (!(cond)) {							\
		failed = true;						\
		TH_LOG("%s -> %s: " fmt, sn(cur), sn(new), ##__VA_ARGS__); \
	}								\
} while (0)

/* read() of a dead data fd: -1/ENODEV. */
static bool read_enodev(int fd)
{
	uint8_t b[16];

	return read(fd, b, sizeof(b)) == -1 && errno == ENODEV;
}

static bool write_enodev(int fd)
{
	uint8_t b[4] = {};

	return write(fd, b, sizeof(b)) == -1 && errno == ENODEV;
}

/*
 * One (cur, new) pair, starting from a reset device. Returns false if any
 * check failed (each is logged), so one broken arc does not hide the others.
 */
static bool fsm_pair(struct __test_metadata *_metadata, struct mig_ctx *c,
		     uint32_t cur, uint32_t new)
{
	struct fsm_path to_cur = fsm_path(S_RUNNING, cur), p = fsm_path(cur, new);
	int fd = -1, nfd = -1, save_fd = -1, res_fd = -1, ret, st;
	bool failed = false;
	uint8_t b[64];
	ssize_t n;

	if (vfio_reset(&c->dev) || get_state(c) != S_RUNNING) {
		PCHECK(0, "reset to RUNNING failed (%s, state %d)", vfio_errmsg(),
		       get_state(c));
		return false;
	}
	ret = vfio_mig_set_state(&c->dev, cur, &fd);
	PCHECK(!ret, "reaching %s from RUNNING: %s", sn(cur), vfio_errmsg());
	if (ret)
		return false;
	PCHECK(arc_new_fd(to_cur.st[to_cur.n - 1], cur) == (fd >= 0),
	       "RUNNING -> %s returned data_fd %d", sn(cur), fd);
	if (cur == S_RESUMING)
		res_fd = fd;
	else if (is_saving(cur))
		save_fd = fd;
	else if (fd >= 0)
		close(fd);

	if (cur == S_RESUMING && new != S_RESUMING && res_fd >= 0) {
		ret = mig_write_all(res_fd, c->stream, c->stream_len, c->stream_len);
		PCHECK(!ret, "writing a valid stream: %s", strerror(-ret));
	}

	ret = vfio_mig_set_state(&c->dev, new, &nfd);
	st = get_state(c);
	if (p.n < 0) {
		PCHECK(ret == -EINVAL, "blocked by the core, got %s",
		       ret ? strerror(-ret) : "success");
		PCHECK(nfd == -1, "refused, yet data_fd %d", nfd);
		PCHECK(st == (int)cur, "refused, state now %s", sn(st));
	} else {
		PCHECK(!ret, "%s", vfio_errmsg());
		PCHECK(st == (int)new, "state now %s", sn(st));
		if (!ret) {
			bool want_fd = p.n > 0 && arc_new_fd(p.st[p.n - 1], new);

			PCHECK(want_fd == (nfd >= 0), "data_fd %d, expected %s", nfd,
			       want_fd ? "a new fd" : "-1");
			if (save_fd >= 0 && path_has(&p, arc_ends_save)) {
				PCHECK(read_enodev(save_fd),
				       "saving fd still readable after the save ended (%s)",
				       strerror(errno));
			} else if (save_fd >= 0) {
				/* The save goes on: the initial data is still unread. */
				n = read(save_fd, b, sizeof(b));
				PCHECK(n > 0, "saving fd read %zd (%s)", n, strerror(errno));
			}
			if (res_fd >= 0 && new != S_RESUMING)
				PCHECK(write_enodev(res_fd),
				       "resuming fd still writable after RESUMING -> STOP (%s)",
				       strerror(errno));
			if (nfd >= 0 && is_saving(new)) {
				n = read(nfd, b, sizeof(b));
				PCHECK(n > 0, "new saving fd read %zd (%s)", n, strerror(errno));
			}
		}
	}
	if (nfd >= 0)
		close(nfd);
	if (save_fd >= 0)
		close(save_fd);
	if (res_fd >= 0)
		close(res_fd);
	return !failed;
}

/* Every state to every state (7 x 7), the core's blocked pairs refused. */
TEST_F_TIMEOUT(mig, fsm_matrix, 600)
{
	struct mig_ctx *c = &self->c;
	unsigned int bad = 0, pairs = 0;

	c->stream_len = save_stream(_metadata, &c->dev, c->stream);
	for (unsigned int i = 0; i < NVALID; i++) {
		for (unsigned int j = 0; j < NVALID; j++) {
			if (!fsm_pair(_metadata, c, valid_states[i], valid_states[j]))
				bad++;
			pairs++;
		}
	}
	TH_LOG("%u pairs, %u failed", pairs, bad);
	EXPECT_EQ(0, bad);
	reset_running(_metadata, &c->dev);
}

/* ERROR can never be asked for. */
TEST_F_TIMEOUT(mig, fsm_into_error_refused, 120)
{
	struct mig_ctx *c = &self->c;

	for (unsigned int i = 0; i < NVALID; i++) {
		uint32_t cur = valid_states[i];
		int fd = -1, nfd = -1, ret;

		reset_running(_metadata, &c->dev);
		reach(_metadata, &c->dev, cur, &fd);
		ret = vfio_mig_set_state(&c->dev, S_ERROR, &nfd);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("%s -> ERROR: %s", sn(cur), strerror(-ret));
		EXPECT_EQ(-1, nfd);
		EXPECT_EQ((int)cur, get_state(c)) TH_LOG("%s -> ERROR refused, state %s",
							  sn(cur), sn(get_state(c)));
		if (fd >= 0)
			close(fd);
		if (nfd >= 0)
			close(nfd);
	}
	reset_running(_metadata, &c->dev);
}

/*
 * Drives the device into ERROR the documented way: a stream with a bad
 * checksum fails RESUMING -> STOP.
 */
static void reach_error(struct __test_metadata *_metadata, struct mig_ctx *c)
{
	int fd, ret;

	memcpy(c->buf, c->stream, c->stream_len);
	c->buf[c->stream_len - 1] ^= 0xff;	/* CRC */
	reset_running(_metadata, &c->dev);
	reach(_metadata, &c->dev, S_RESUMING, &fd);
	ASSERT_LE(0, fd);
	ret = mig_write_all(fd, c->buf, c->stream_len, c->stream_len);
	ASSERT_EQ(0, ret) TH_LOG("write of a stream with a bad CRC failed early: %s",
				 strerror(-ret));
	ret = vfio_mig_set_state(&c->dev, S_STOP, NULL);
	ASSERT_EQ(-EINVAL, ret) TH_LOG("RESUMING -> STOP with a bad CRC: %s",
				       strerror(-ret));
	ASSERT_EQ(S_ERROR, get_state(c)) TH_LOG("after a failed RESUMING -> STOP: %s",
						sn(get_state(c)));
	expect_enodev_write(_metadata, fd, "resuming fd in ERROR");
	close(fd);
}

/* Nothing leaves ERROR but a reset, which brings back a working RUNNING VF. */
TEST_F_TIMEOUT(mig, fsm_error_needs_reset, 120)
{
	struct mig_ctx *c = &self->c;

	c->stream_len = save_stream(_metadata, &c->dev, c->stream);
	reach_error(_metadata, c);
	for (uint32_t new = 0; new < NSTATES; new++) {
		int nfd = -1, ret = vfio_mig_set_state(&c->dev, new, &nfd);

		EXPECT_EQ(-EINVAL, ret) TH_LOG("ERROR -> %s: %s", sn(new),
					       ret ? strerror(-ret) : "accepted");
		EXPECT_EQ(-1, nfd);
		EXPECT_EQ(S_ERROR, get_state(c)) TH_LOG("ERROR -> %s: state %s",
							sn(new), sn(get_state(c)));
		if (nfd >= 0)
			close(nfd);
	}
	reset_running(_metadata, &c->dev);
	check_usable(_metadata, c);
}

/* VFIO_DEVICE_RESET from every state: RUNNING, and the old fds are dead. */
TEST_F_TIMEOUT(mig, reset_from_every_state, 180)
{
	struct mig_ctx *c = &self->c;

	c->stream_len = save_stream(_metadata, &c->dev, c->stream);
	for (unsigned int i = 0; i < NVALID + 1; i++) {
		uint32_t cur = i < NVALID ? valid_states[i] : S_ERROR;
		int fd = -1;

		if (cur == S_ERROR) {
			reach_error(_metadata, c);
		} else {
			reset_running(_metadata, &c->dev);
			reach(_metadata, &c->dev, cur, &fd);
		}
		ASSERT_EQ(0, vfio_reset(&c->dev)) TH_LOG("reset in %s: %s", sn(cur),
							 vfio_errmsg());
		EXPECT_EQ(S_RUNNING, get_state(c)) TH_LOG("reset in %s: state %s",
							  sn(cur), sn(get_state(c)));
		if (fd >= 0 && cur == S_RESUMING)
			expect_enodev_write(_metadata, fd, "resuming fd after a reset");
		else if (fd >= 0)
			expect_enodev_read(_metadata, fd, "saving fd after a reset");
		if (fd >= 0)
			close(fd);
	}
	check_usable(_metadata, c);
}

/* ---- saving fd -------------------------------------------------------- */

/*
 * PRE_COPY: initial data, PRECOPY_INFO counting down, ENOMSG at the
 * temporary end; then STOP_COPY from PRE_COPY_P2P continues the same fd to
 * EOF. Also the MIG_DATA_SIZE estimate and a stream check.
 */
TEST_F_TIMEOUT(mig, precopy_then_stopcopy, 120)
{
	struct mig_ctx *c = &self->c;
	uint64_t init0 = 0, init = 0, dirty = 0, size_running = 0, size_pre = 0;
	struct mig_rec recs[MIG_MAX_RECS];
	char why[128];
	uint8_t *s = c->buf;
	size_t pre, rest, got;
	int fd, nfd, err;
	ssize_t n;

	drv_up(_metadata, c);
	ASSERT_EQ(0, vfio_mig_data_size(&c->dev, &size_running)) TH_LOG("%s", vfio_errmsg());

	reach(_metadata, &c->dev, S_PRE_COPY, &fd);
	ASSERT_LE(0, fd) TH_LOG("RUNNING -> PRE_COPY gave no data fd");
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &init0, &dirty)) TH_LOG("%s", vfio_errmsg());
	TH_LOG("PRE_COPY: initial_bytes %llu dirty_bytes %llu",
	       (unsigned long long)init0, (unsigned long long)dirty);
	EXPECT_LE(MIG_HDR_LEN, init0) TH_LOG("the initial data holds at least the header");
	EXPECT_GE(MIG_MAX_STREAM, init0 + dirty);

	/* Partial reads count initial_bytes down. */
	n = read(fd, s, 5);
	ASSERT_EQ(5, n) TH_LOG("read: %s", strerror(errno));
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &init, &dirty)) TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(init0 - 5, init);
	got = mig_read_all(fd, s + 5, STREAM_BUF - 5, 7, &err);
	pre = 5 + got;
	EXPECT_EQ(ENOMSG, err) TH_LOG("drained PRE_COPY read: %s", strerror(err));
	EXPECT_LE(init0, pre);
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &init, &dirty)) TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(0, init);
	EXPECT_EQ(0, dirty) TH_LOG("nothing dirtied, yet dirty_bytes %llu",
				   (unsigned long long)dirty);
	n = read(fd, s + pre, 16);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ENOMSG, errno) TH_LOG("second drained read: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(s, MIG_MAGIC, 8)) TH_LOG("stream starts with the magic");

	/* A stream fd: no offsets. */
	n = pread(fd, s + pre, 16, 0);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ESPIPE, errno) TH_LOG("pread: %s", strerror(errno));
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno) TH_LOG("lseek: %s", strerror(errno));
	/* Not writable. */
	EXPECT_EQ(-1, write(fd, s, 4));

	ASSERT_EQ(0, vfio_mig_data_size(&c->dev, &size_pre)) TH_LOG("%s", vfio_errmsg());

	ASSERT_EQ(0, vfio_mig_set_state(&c->dev, S_PRE_COPY_P2P, &nfd))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(-1, nfd) TH_LOG("PRE_COPY -> PRE_COPY_P2P must keep the fd");
	EXPECT_EQ(0, vfio_mig_precopy_info(fd, &init, &dirty))
		TH_LOG("PRECOPY_INFO in PRE_COPY_P2P: %s", vfio_errmsg());
	ASSERT_EQ(0, vfio_mig_set_state(&c->dev, S_STOP_COPY, &nfd))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(-1, nfd) TH_LOG("PRE_COPY_P2P -> STOP_COPY continues the pre-copy fd");
	if (nfd >= 0)
		close(nfd);

	/* PRECOPY_INFO is for PRE_COPY states only. */
	EXPECT_NE(0, vfio_mig_precopy_info(fd, &init, &dirty));
	EXPECT_EQ(EINVAL, errno) TH_LOG("PRECOPY_INFO in STOP_COPY: %s", strerror(errno));

	rest = mig_read_all(fd, s + pre, STREAM_BUF - pre, 64, &err);
	EXPECT_EQ(0, err) TH_LOG("STOP_COPY read ended with %s", strerror(err));
	n = read(fd, s, 16);
	EXPECT_EQ(0, n) TH_LOG("read after EOF: %zd (%s)", n, strerror(errno));

	TH_LOG("MIG_DATA_SIZE %llu in RUNNING, %llu in PRE_COPY after the initial data;"
	       " read %zu in PRE_COPY + %zu in STOP_COPY = %zu",
	       (unsigned long long)size_running, (unsigned long long)size_pre,
	       pre, rest, pre + rest);
	EXPECT_LE(rest, size_pre) TH_LOG("MIG_DATA_SIZE underestimates STOP_COPY");
	EXPECT_LE(pre + rest, size_running + pre)
		TH_LOG("MIG_DATA_SIZE in RUNNING underestimates the stream");
	EXPECT_LT(0, rest);
	EXPECT_LT(0, mig_stream_parse(s, pre + rest, recs, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("stream of %zu bytes: %s", pre + rest, why);

	reach(_metadata, &c->dev, S_STOP, NULL);
	expect_enodev_read(_metadata, fd, "saving fd after STOP_COPY -> STOP");
	close(fd);
	reach(_metadata, &c->dev, S_RUNNING, NULL);
	exchange(_metadata, c, &c->drv, 4);
}

/* RUNNING -> STOP_COPY directly: a new fd, the whole stream, EOF. */
TEST_F_TIMEOUT(mig, stopcopy_direct, 120)
{
	struct mig_ctx *c = &self->c;
	struct mig_rec recs[MIG_MAX_RECS];
	uint64_t size = 0;
	char why[128];
	size_t len;
	int fd, err;

	drv_up(_metadata, c);
	ASSERT_EQ(0, vfio_mig_data_size(&c->dev, &size)) TH_LOG("%s", vfio_errmsg());
	reach(_metadata, &c->dev, S_STOP_COPY, &fd);
	ASSERT_LE(0, fd);
	EXPECT_NE(0, vfio_mig_precopy_info(fd, &(uint64_t){0}, &(uint64_t){0}));
	EXPECT_EQ(EINVAL, errno) TH_LOG("PRECOPY_INFO in STOP_COPY: %s", strerror(errno));
	len = mig_read_all(fd, c->buf, STREAM_BUF, 1, &err);	/* byte by byte */
	EXPECT_EQ(0, err) TH_LOG("%s", strerror(err));
	TH_LOG("stop-copy stream %zu bytes, MIG_DATA_SIZE %llu", len,
	       (unsigned long long)size);
	EXPECT_LE(len, size);
	EXPECT_LT(0, mig_stream_parse(c->buf, len, recs, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("%s", why);
	reach(_metadata, &c->dev, S_RUNNING, NULL);
	expect_enodev_read(_metadata, fd, "saving fd after -> RUNNING");
	close(fd);
	exchange(_metadata, c, &c->drv, 4);
}

/* Abandoned pre-copy: back to RUNNING kills the fd; a new one works. */
TEST_F_TIMEOUT(mig, precopy_abandoned, 120)
{
	struct mig_ctx *c = &self->c;
	uint8_t b[64];
	int fd, fd2;

	drv_up(_metadata, c);
	reach(_metadata, &c->dev, S_PRE_COPY, &fd);
	ASSERT_LE(0, fd);
	reach(_metadata, &c->dev, S_RUNNING, NULL);
	expect_enodev_read(_metadata, fd, "pre-copy fd after PRE_COPY -> RUNNING");
	EXPECT_NE(0, vfio_mig_precopy_info(fd, &(uint64_t){0}, &(uint64_t){0}));
	exchange(_metadata, c, &c->drv, 4);

	reach(_metadata, &c->dev, S_PRE_COPY, &fd2);
	ASSERT_LE(0, fd2);
	EXPECT_LT(0, read(fd2, b, sizeof(b))) TH_LOG("second pre-copy fd: %s", strerror(errno));
	expect_enodev_read(_metadata, fd, "first pre-copy fd");
	close(fd);
	/* Through PRE_COPY_P2P and back: same fd, the VF runs again. */
	reach(_metadata, &c->dev, S_PRE_COPY_P2P, NULL);
	reach(_metadata, &c->dev, S_PRE_COPY, NULL);
	EXPECT_EQ(0, vfio_mig_precopy_info(fd2, &(uint64_t){0}, &(uint64_t){0}))
		TH_LOG("%s", vfio_errmsg());
	exchange(_metadata, c, &c->drv, 4);
	reach(_metadata, &c->dev, S_RUNNING, NULL);
	close(fd2);
	exchange(_metadata, c, &c->drv, 4);
}

TEST_F_TIMEOUT(mig, fd_dead_after_reset, 120)
{
	struct mig_ctx *c = &self->c;
	uint8_t b[16];
	int fd;

	reach(_metadata, &c->dev, S_STOP_COPY, &fd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, read(fd, b, 8));
	reset_running(_metadata, &c->dev);
	expect_enodev_read(_metadata, fd, "STOP_COPY fd after VFIO_DEVICE_RESET");
	close(fd);

	reach(_metadata, &c->dev, S_PRE_COPY, &fd);
	ASSERT_LE(0, fd);
	reset_running(_metadata, &c->dev);
	expect_enodev_read(_metadata, fd, "PRE_COPY fd after VFIO_DEVICE_RESET");
	EXPECT_NE(0, vfio_mig_precopy_info(fd, &(uint64_t){0}, &(uint64_t){0}));
	close(fd);
	check_usable(_metadata, c);
}

/* Closing the device kills its data fds (they outlive it as files only). */
TEST_F_TIMEOUT(mig, fd_dead_after_close, 120)
{
	struct mig_ctx *c = &self->c;
	int fd, rfd, ret;

	reach(_metadata, &c->dev, S_STOP_COPY, &fd);
	ASSERT_LE(0, fd);
	vfio_dev_close(&c->dev);
	c->opened = false;
	expect_enodev_read(_metadata, fd, "saving fd after the device was closed");
	close(fd);

	ret = vfio_dev_open(&c->dev, c->bdf, VFIO_MODE_CDEV_IOMMUFD);
	ASSERT_EQ(0, ret) TH_LOG("reopen: %s", vfio_errmsg());
	c->opened = true;
	EXPECT_EQ(S_RUNNING, get_state(c)) TH_LOG("a reopened device starts RUNNING");
	reach(_metadata, &c->dev, S_RESUMING, &rfd);
	ASSERT_LE(0, rfd);
	vfio_dev_close(&c->dev);
	c->opened = false;
	expect_enodev_write(_metadata, rfd, "resuming fd after the device was closed");
	close(rfd);
	ret = vfio_dev_open(&c->dev, c->bdf, VFIO_MODE_CDEV_IOMMUFD);
	ASSERT_EQ(0, ret) TH_LOG("reopen: %s", vfio_errmsg());
	c->opened = true;
	check_usable(_metadata, c);
}

/*
 * What is in the stream: header for an 82576 VF, every record, and the queue
 * records carrying exactly what the registers held while stopped.
 */
TEST_F_TIMEOUT(mig, stream_contents, 120)
{
	struct mig_ctx *c = &self->c;
	struct mig_rec recs[MIG_MAX_RECS];
	struct vfio_dev *d = &c->dev;
	const uint8_t *s = c->buf, *rx, *tx;
	uint32_t reg[12];
	char why[128];
	int n, i, fd, err;
	size_t len;

	drv_up(_metadata, c);
	exchange(_metadata, c, &c->drv, 5);	/* move the ring positions off 0 */
	reach(_metadata, d, S_STOP, NULL);
	reg[0] = vfio_bar0_read32(d, IGBVF_RDBAL);
	reg[1] = vfio_bar0_read32(d, IGBVF_RDBAH);
	reg[2] = vfio_bar0_read32(d, IGBVF_RDLEN);
	reg[3] = vfio_bar0_read32(d, IGBVF_RDH);
	reg[4] = vfio_bar0_read32(d, IGBVF_RDT);
	reg[5] = vfio_bar0_read32(d, IGBVF_SRRCTL);
	reg[6] = vfio_bar0_read32(d, IGBVF_TDBAL);
	reg[7] = vfio_bar0_read32(d, IGBVF_TDBAH);
	reg[8] = vfio_bar0_read32(d, IGBVF_TDLEN);
	reg[9] = vfio_bar0_read32(d, IGBVF_TDH);
	reg[10] = vfio_bar0_read32(d, IGBVF_TDT);
	EXPECT_EQ(0, vfio_bar0_read32(d, IGBVF_RXDCTL) & IGBVF_QUEUE_ENABLE)
		TH_LOG("STOP: the RX queue must be disabled");
	EXPECT_EQ(0, vfio_bar0_read32(d, IGBVF_TXDCTL) & IGBVF_QUEUE_ENABLE)
		TH_LOG("STOP: the TX queue must be disabled");
	reach(_metadata, d, S_STOP_COPY, &fd);
	ASSERT_LE(0, fd);
	len = mig_read_all(fd, c->buf, STREAM_BUF, 4096, &err);
	close(fd);
	ASSERT_EQ(0, err);
	n = mig_stream_parse(s, len, recs, MIG_MAX_RECS, why, sizeof(why));
	ASSERT_LT(0, n) TH_LOG("%s", why);
	TH_LOG("stream: %zu bytes, %d records", len, n);
	for (i = 0; i < n; i++)
		TH_LOG("  record 0x%04x flags 0x%x len %u @%zu", recs[i].tag,
		       recs[i].flags, recs[i].len, recs[i].off);
	EXPECT_EQ(IGBVF_IS_IXGBE ? MIG_FAMILY_IXGBE : MIG_FAMILY_IGB, s[MIG_OFF_FAMILY]);
	EXPECT_EQ(IGBVF_VENDOR, mig_get16(s + MIG_OFF_VENDOR));
	EXPECT_EQ(IGBVF_DEVICE, mig_get16(s + MIG_OFF_DEVICE));
	/* Queue pairs in the VF's BAR (pure/hw/family.rs): 82576 2, 82599 8. */
	EXPECT_EQ(VF_QUEUES, s[MIG_OFF_RXQ]) TH_LOG("%s: %d RX queues", igbvf_map()->name, VF_QUEUES);
	EXPECT_EQ(VF_QUEUES, s[MIG_OFF_TXQ]) TH_LOG("%s: %d TX queues", igbvf_map()->name, VF_QUEUES);
	{
		static const uint16_t need[] = {
			MIG_TAG_COMPAT, MIG_TAG_DEV_REGS, MIG_TAG_MAILBOX,
			MIG_TAG_PF_CTX, MIG_TAG_RX_QUEUE, MIG_TAG_RX_QUEUE | 1,
			MIG_TAG_TX_QUEUE, MIG_TAG_TX_QUEUE | 1, MIG_TAG_END,
		};

		for (i = 0; i < (int)(sizeof(need) / sizeof(need[0])); i++) {
			int k = mig_stream_find(recs, n, need[i]);

			EXPECT_LE(0, k) TH_LOG("record 0x%04x missing", need[i]);
			if (k >= 0) {
				EXPECT_EQ(MIG_FLAG_MANDATORY, recs[k].flags);
			}
		}
	}
	i = mig_stream_find(recs, n, MIG_TAG_RX_QUEUE);
	ASSERT_LE(0, i);
	ASSERT_EQ(32, recs[i].len) TH_LOG("RX queue record layout (pure/mig/image.rs)");
	rx = s + recs[i].payload;
	i = mig_stream_find(recs, n, MIG_TAG_TX_QUEUE);
	ASSERT_LE(0, i);
	ASSERT_EQ(36, recs[i].len) TH_LOG("TX queue record layout (pure/mig/image.rs)");
	tx = s + recs[i].payload;
	/* RX: RDBAL RDBAH RDLEN RDH RDT RXDCTL SRRCTL DCA_RXCTRL */
	EXPECT_EQ(reg[0], mig_get32(rx + 0));
	EXPECT_EQ(reg[1], mig_get32(rx + 4));
	EXPECT_EQ(reg[2], mig_get32(rx + 8));
	EXPECT_EQ(reg[3], mig_get32(rx + 12)) TH_LOG("RDH");
	EXPECT_EQ(reg[4], mig_get32(rx + 16)) TH_LOG("RDT");
	EXPECT_TRUE(mig_get32(rx + 20) & IGBVF_QUEUE_ENABLE)
		TH_LOG("saved RXDCTL 0x%x: the guest's enable is folded back", mig_get32(rx + 20));
	EXPECT_EQ(reg[5], mig_get32(rx + 24)) TH_LOG("SRRCTL");
	/* TX: TDBAL TDBAH TDLEN TDH TDT TXDCTL TDWBAL TDWBAH DCA_TXCTRL */
	EXPECT_EQ(reg[6], mig_get32(tx + 0));
	EXPECT_EQ(reg[7], mig_get32(tx + 4));
	EXPECT_EQ(reg[8], mig_get32(tx + 8));
	EXPECT_EQ(reg[9], mig_get32(tx + 12)) TH_LOG("TDH");
	EXPECT_EQ(reg[10], mig_get32(tx + 16)) TH_LOG("TDT");
	EXPECT_TRUE(mig_get32(tx + 20) & IGBVF_QUEUE_ENABLE)
		TH_LOG("saved TXDCTL 0x%x", mig_get32(tx + 20));
	TH_LOG("RDH %u RDT %u TDH %u TDT %u", reg[3], reg[4], reg[9], reg[10]);
	i = mig_stream_find(recs, n, MIG_TAG_PF_CTX);
	if (i >= 0 && recs[i].len >= 14) {
		EXPECT_EQ(0, memcmp(s + recs[i].payload + 8, c->drv.mac, 6))
			TH_LOG("PF context MAC %s, VF uses %s",
			       mig_mac_str(s + recs[i].payload + 8), mig_mac_str(c->drv.mac));
	}
	reach(_metadata, d, S_RUNNING, NULL);
	exchange(_metadata, c, &c->drv, 4);
}

/* ---- resuming fd: hostile streams -------------------------------------- */

enum fail_at {
	AT_WRITE,	/* the write that completes the bad bytes */
	AT_STOP,	/* RESUMING -> STOP */
	AT_EITHER,
};

/*
 * Resumes s (len bytes, written in chunk-sized writes) into the fixture's VF
 * after a reset and expects a failure with err1 or err2. A failed write
 * leaves the device RESUMING, a failed RESUMING -> STOP leaves it in ERROR;
 * either way a reset brings it back to RUNNING with a working VF.
 */
static void resume_bad(struct __test_metadata *_metadata, struct mig_ctx *c,
		       const char *what, const uint8_t *s, size_t len,
		       size_t chunk, enum fail_at at, int err1, int err2)
{
	int fd = -1, ret, st;

	reset_running(_metadata, &c->dev);
	reach(_metadata, &c->dev, S_RESUMING, &fd);
	ASSERT_LE(0, fd);
	ret = mig_write_all(fd, s, len, chunk);
	if (ret) {
		EXPECT_NE(AT_STOP, at) TH_LOG("%s: write failed (%s), expected it to pass"
					      " and RESUMING -> STOP to fail", what,
					      strerror(-ret));
		EXPECT_TRUE(-ret == err1 || -ret == err2)
			TH_LOG("%s: write failed with %s, expected %s%s%s", what,
			       strerror(-ret), strerror(err1), err2 ? " or " : "",
			       err2 ? strerror(err2) : "");
		st = get_state(c);
		EXPECT_EQ(S_RESUMING, st) TH_LOG("%s: after a failed write: %s", what, sn(st));
	} else {
		EXPECT_NE(AT_WRITE, at) TH_LOG("%s: write accepted, expected %s at write time",
					       what, strerror(err1));
		ret = vfio_mig_set_state(&c->dev, S_STOP, NULL);
		EXPECT_TRUE(-ret == err1 || (err2 && -ret == err2))
			TH_LOG("%s: RESUMING -> STOP %s, expected %s%s%s", what,
			       ret ? strerror(-ret) : "succeeded", strerror(err1),
			       err2 ? " or " : "", err2 ? strerror(err2) : "");
		st = get_state(c);
		if (ret) {
			EXPECT_EQ(S_ERROR, st) TH_LOG("%s: after a failed RESUMING -> STOP: %s",
						      what, sn(st));
		}
	}
	close(fd);
	reset_running(_metadata, &c->dev);
	/* The reset device works again: driver up from scratch, frames both ways. */
	drv_up(_metadata, c);
	exchange(_metadata, c, &c->drv, 2);
}

/* Copy of the fixture's stream in c->buf, parsed. */
static int edit_start(struct __test_metadata *_metadata, struct mig_ctx *c,
		      struct mig_rec *recs)
{
	char why[128];
	int n;

	memcpy(c->buf, c->stream, c->stream_len);
	n = mig_stream_parse(c->buf, c->stream_len, recs, MIG_MAX_RECS, why, sizeof(why));
	if (n <= 0)
		TH_LOG("%s", why);
	return n;
}

FIXTURE(resume) {
	struct mig_ctx c;
	struct mig_rec recs[MIG_MAX_RECS];
	int n;
};

FIXTURE_SETUP(resume)
{
	const char *bdf = getenv("VF_BDF");

	self->c.peer.fd = -1;
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	if (ctx_open(_metadata, &self->c, bdf, VFIO_MODE_CDEV_IOMMUFD))
		SKIP(return, "%s has no MIGRATION feature (ENOTTY): driver %s does not migrate",
		     bdf, getenv("MIG_DRIVER") ?: "?");
	save_running(_metadata, &self->c);
	self->n = edit_start(_metadata, &self->c, self->recs);
	ASSERT_LT(0, self->n);
}

FIXTURE_TEARDOWN(resume)
{
	ctx_close(&self->c);
}

#define REC(tag) ({							\
	int __k = mig_stream_find(self->recs, self->n, (tag));		\
	ASSERT_LE(0, __k) TH_LOG("record 0x%04x not in the stream", (tag)); \
	&self->recs[__k];						\
})

/* The untouched stream loads (control for every test below). */
TEST_F_TIMEOUT(resume, valid_stream_loads, 120)
{
	struct mig_ctx *c = &self->c;
	int fd;

	reset_running(_metadata, &c->dev);
	reach(_metadata, &c->dev, S_RESUMING, &fd);
	ASSERT_EQ(0, mig_write_all(fd, c->stream, c->stream_len, 13));
	reach(_metadata, &c->dev, S_STOP, NULL);
	close(fd);
	reach(_metadata, &c->dev, S_RUNNING, NULL);
	check_usable(_metadata, c);
}

/*
 * Streams across kernels (scripts/xkernel.sh): with MIG_XSTREAM_OUT set, the fixture's stream
 * (a running VF's state) is written to that file; with MIG_XSTREAM_IN, the stream in that file,
 * saved by the module on another kernel, is loaded like valid_stream_loads loads its own. SKIP
 * without either (the suite's normal run).
 */
TEST_F_TIMEOUT(resume, external_stream, 120)
{
	const char *out = getenv("MIG_XSTREAM_OUT"), *in = getenv("MIG_XSTREAM_IN");
	struct mig_ctx *c = &self->c;
	ssize_t len;
	int fd;

	if ((!out || !*out) && (!in || !*in))
		SKIP(return, "MIG_XSTREAM_OUT/MIG_XSTREAM_IN not set (scripts/xkernel.sh sets them)");
	if (out && *out) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", out, strerror(errno));
		ASSERT_EQ(0, mig_write_all(fd, c->stream, c->stream_len, MIG_MAX_STREAM));
		close(fd);
		TH_LOG("saved %zu bytes to %s", c->stream_len, out);
	}
	if (!in || !*in)
		return;
	fd = open(in, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", in, strerror(errno));
	len = read(fd, c->buf, STREAM_BUF);
	close(fd);
	ASSERT_LT(0, len) TH_LOG("%s: %s", in, len < 0 ? strerror(errno) : "empty");
	ASSERT_GE(MIG_MAX_STREAM, len) TH_LOG("%s: %zd bytes", in, len);
	reset_running(_metadata, &c->dev);
	reach(_metadata, &c->dev, S_RESUMING, &fd);
	ASSERT_EQ(0, mig_write_all(fd, c->buf, len, 4096)) TH_LOG("write: %s", strerror(errno));
	/* RESUMING -> STOP validates the whole stream before anything reaches the VF. */
	reach(_metadata, &c->dev, S_STOP, NULL);
	close(fd);
	reach(_metadata, &c->dev, S_RUNNING, NULL);
	check_usable(_metadata, c);
	TH_LOG("loaded %zd bytes from %s", len, in);
}

/* Header fields: refused by the write that completes the 32 header bytes. */
struct hdr_case {
	const char *what;
	unsigned int off;
	uint8_t val;
};

/* Values filled in by the VF's family (no real case uses them). */
#define HDR_OTHER	0xF0	/* the other family, or a model of it */
#define HDR_SIBLING	0xF1	/* another model of the same family */
#define HDR_MORE	0xF2	/* one queue more than the VF has */

static const struct hdr_case hdr_cases[] = {
	{ "magic", 0, 'X' },
	{ "magic last byte", 7, '2' },
	{ "version 2", MIG_OFF_VERSION, 2 },
	{ "version 0x101", MIG_OFF_VERSION + 1, 1 },
	{ "header_len 33", MIG_OFF_HDR_LEN, 33 },
	{ "family: the other one", MIG_OFF_FAMILY, HDR_OTHER },
	{ "family 7", MIG_OFF_FAMILY, 7 },
	{ "header flags", MIG_OFF_HFLAGS, 1 },
	{ "vendor", MIG_OFF_VENDOR, 0x87 },
	{ "device: another model of the family", MIG_OFF_DEVICE, HDR_SIBLING },
	{ "device: a model of the other family", MIG_OFF_DEVICE, HDR_OTHER },
	{ "rx queues: one more than the VF has", MIG_OFF_RXQ, HDR_MORE },
	{ "tx queues 9", MIG_OFF_TXQ, 9 },
	{ "reserved byte", MIG_OFF_RESERVED + 5, 1 },
};

TEST_F_TIMEOUT(resume, bad_header_at_write, 180)
{
	struct mig_ctx *c = &self->c;

	for (unsigned int i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *h = &hdr_cases[i];

		memcpy(c->buf, c->stream, c->stream_len);
		if (h->off == MIG_OFF_DEVICE) {
			/* 82576 -> I350 or 82599; 82599 -> X540 or 82576 */
			uint16_t dev = IGBVF_IS_IXGBE ? (h->val == HDR_SIBLING ? 0x1515 : 0x10ca) :
							(h->val == HDR_SIBLING ? 0x1520 : 0x10ed);

			c->buf[h->off] = dev & 0xff;
			c->buf[h->off + 1] = dev >> 8;
		} else if (h->val == HDR_OTHER) {	/* family */
			c->buf[h->off] = IGBVF_IS_IXGBE ? MIG_FAMILY_IGB : MIG_FAMILY_IXGBE;
		} else if (h->val == HDR_MORE) {
			c->buf[h->off] = VF_QUEUES + 1;
		} else {
			c->buf[h->off] = h->val;
		}
		/* CRC fixed: only the header check may refuse it. */
		mig_stream_fix(c->buf, c->stream_len);
		resume_bad(_metadata, c, h->what, c->buf, c->stream_len,
			   c->stream_len, AT_WRITE, EINVAL, 0);
		/* Exactly the 32 header bytes in one write: refused right there. */
		resume_bad(_metadata, c, h->what, c->buf, MIG_HDR_LEN, MIG_HDR_LEN,
			   AT_WRITE, EINVAL, 0);
	}
	check_usable(_metadata, c);
}

/* Byte by byte: the refusal comes no later than the 32nd byte. */
TEST_F_TIMEOUT(resume, bad_header_bytewise, 120)
{
	struct mig_ctx *c = &self->c;
	int fd, failed_at = -1;

	memcpy(c->buf, c->stream, c->stream_len);
	c->buf[MIG_OFF_DEVICE] ^= 0x01;
	reset_running(_metadata, &c->dev);
	reach(_metadata, &c->dev, S_RESUMING, &fd);
	for (int i = 0; i < MIG_INITIAL_LEN; i++) {
		if (write(fd, c->buf + i, 1) != 1) {
			failed_at = i;
			EXPECT_EQ(EINVAL, errno) TH_LOG("byte %d: %s", i, strerror(errno));
			break;
		}
	}
	EXPECT_LE(MIG_OFF_DEVICE, failed_at);
	EXPECT_GT(MIG_HDR_LEN, failed_at) TH_LOG("bad device id refused at byte %d", failed_at);
	close(fd);
	reset_running(_metadata, &c->dev);
	check_usable(_metadata, c);
}

/* The compat record (the rest of the PRE_COPY initial data). */
TEST_F_TIMEOUT(resume, bad_compat, 180)
{
	struct mig_ctx *c = &self->c;
	static const struct { const char *what; unsigned int off; uint8_t val; int err; } k[] = {
		{ "msix vectors", MIG_OFF_COMPAT + 0, 5, EINVAL },
		{ "rss", MIG_OFF_COMPAT + 1, 1, EINVAL },
		{ "mailbox words", MIG_OFF_COMPAT + 2, 8, EINVAL },
		{ "compat pad", MIG_OFF_COMPAT + 3, 1, EINVAL },
		{ "compat flags", MIG_HDR_LEN + 2, 0, EINVAL },
		{ "compat tag", MIG_HDR_LEN, 2, EINVAL },
	};

	for (unsigned int i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		memcpy(c->buf, c->stream, c->stream_len);
		c->buf[k[i].off] = k[i].val;
		mig_stream_fix(c->buf, c->stream_len);
		resume_bad(_metadata, c, k[i].what, c->buf, c->stream_len,
			   c->stream_len, AT_EITHER, k[i].err, 0);
	}
	/* Announced length over the 64 KiB limit: a memory bound, ENOMEM. */
	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + MIG_OFF_STREAM_LEN, MIG_MAX_STREAM + 4);
	mig_put32(c->buf + c->stream_len - 4,
		  mig_crc32(c->buf, c->stream_len - MIG_END_LEN));
	resume_bad(_metadata, c, "stream_len > 64 KiB", c->buf, c->stream_len,
		   c->stream_len, AT_EITHER, ENOMEM, 0);
	/* Announced length != real length (CRC fixed) */
	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + MIG_OFF_STREAM_LEN, (uint32_t)c->stream_len + 4);
	mig_put32(c->buf + c->stream_len - 4,
		  mig_crc32(c->buf, c->stream_len - MIG_END_LEN));
	resume_bad(_metadata, c, "stream_len too long", c->buf, c->stream_len,
		   c->stream_len, AT_STOP, EINVAL, 0);
	mig_put32(c->buf + MIG_OFF_STREAM_LEN, (uint32_t)c->stream_len - 4);
	mig_put32(c->buf + c->stream_len - 4,
		  mig_crc32(c->buf, c->stream_len - MIG_END_LEN));
	resume_bad(_metadata, c, "stream_len too short", c->buf, c->stream_len,
		   c->stream_len, AT_EITHER, EINVAL, ENOMEM);
	check_usable(_metadata, c);
}

/* Prefixes of a valid stream: every write passes, RESUMING -> STOP refuses. */
TEST_F_TIMEOUT(resume, truncated, 180)
{
	struct mig_ctx *c = &self->c;
	const struct mig_rec *pf = REC(MIG_TAG_PF_CTX);
	const size_t cuts[] = {
		0, 1, MIG_HDR_LEN, MIG_INITIAL_LEN, MIG_INITIAL_LEN + 3,
		pf->off + 20, c->stream_len - MIG_END_LEN, c->stream_len - 4,
		c->stream_len - 1,
	};

	for (unsigned int i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "first %zu of %zu bytes", cuts[i],
			 c->stream_len);
		resume_bad(_metadata, c, what, c->stream, cuts[i], 64, AT_STOP,
			   EINVAL, 0);
	}
	check_usable(_metadata, c);
}

/*
 * One flipped bit anywhere is caught (CRC, or the structure check before
 * it). Every byte of the initial data and of every record header, and the
 * first, middle and last byte of every payload.
 */
TEST_F_TIMEOUT(resume, flipped_bit, 600)
{
	struct mig_ctx *c = &self->c;
	unsigned char *pick = calloc(c->stream_len, 1);
	unsigned int tried = 0;

	ASSERT_NE(NULL, pick);
	for (size_t i = 0; i < MIG_INITIAL_LEN; i++)
		pick[i] = 1;
	for (int r = 1; r < self->n; r++) {
		const struct mig_rec *rec = &self->recs[r];

		for (size_t i = rec->off; i < rec->payload; i++)
			pick[i] = 1;
		if (rec->len) {
			pick[rec->payload] = 1;
			pick[rec->payload + rec->len / 2] = 1;
			pick[rec->payload + rec->len - 1] = 1;
		}
	}
	for (size_t i = 0; i < c->stream_len; i++) {
		bool len_field = false;
		char what[96];

		if (!pick[i])
			continue;
		/* A length field may grow past the record limit: ENOMEM. */
		if (i >= MIG_OFF_STREAM_LEN && i < MIG_OFF_STREAM_LEN + 4)
			len_field = true;
		for (int r = 0; r < self->n; r++)
			if (i >= self->recs[r].off + 4 && i < self->recs[r].off + 8)
				len_field = true;
		memcpy(c->buf, c->stream, c->stream_len);
		c->buf[i] ^= (i & 1) ? 0x80 : 0x01;
		snprintf(what, sizeof(what), "bit flipped in byte %zu of %zu", i,
			 c->stream_len);
		resume_bad(_metadata, c, what, c->buf, c->stream_len, c->stream_len,
			   AT_EITHER, EINVAL, len_field ? ENOMEM : 0);
		tried++;
	}
	TH_LOG("%u positions tried", tried);
	free(pick);
	check_usable(_metadata, c);
}

/* Valid CRC, invalid structure or meaning. */
TEST_F_TIMEOUT(resume, bad_records, 300)
{
	struct mig_ctx *c = &self->c;
	const struct mig_rec *dev = REC(MIG_TAG_DEV_REGS);
	const struct mig_rec *mbx = REC(MIG_TAG_MAILBOX);
	const struct mig_rec *end = REC(MIG_TAG_END);
	const struct mig_rec *rx0 = REC(MIG_TAG_RX_QUEUE);
	const struct mig_rec *tx0 = REC(MIG_TAG_TX_QUEUE);
	const struct mig_rec *pf = REC(MIG_TAG_PF_CTX);
	uint8_t pay[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t len;

	/* unknown mandatory record */
	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_insert(c->buf, c->stream_len, STREAM_BUF, end->off, 0x0777,
				MIG_FLAG_MANDATORY, pay, 8);
	resume_bad(_metadata, c, "unknown mandatory record", c->buf, len, len,
		   AT_STOP, EOPNOTSUPP, 0);

	/* the same record in front of the others */
	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_insert(c->buf, c->stream_len, STREAM_BUF, dev->off, 0x0777,
				MIG_FLAG_MANDATORY, pay, 8);
	resume_bad(_metadata, c, "unknown mandatory record first", c->buf, len, len,
		   AT_STOP, EOPNOTSUPP, 0);

	/* duplicate: the device register record twice */
	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_insert(c->buf, c->stream_len, STREAM_BUF, end->off,
				MIG_TAG_DEV_REGS, MIG_FLAG_MANDATORY,
				c->stream + dev->payload, dev->len);
	resume_bad(_metadata, c, "duplicate DEV_REGS", c->buf, len, len, AT_STOP,
		   EINVAL, 0);

	/* duplicate compat record */
	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_insert(c->buf, c->stream_len, STREAM_BUF, end->off,
				MIG_TAG_COMPAT, MIG_FLAG_MANDATORY,
				c->stream + MIG_OFF_COMPAT, MIG_COMPAT_LEN);
	resume_bad(_metadata, c, "duplicate COMPAT", c->buf, len, len, AT_STOP,
		   EINVAL, 0);

	/* missing mailbox record */
	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_cut(c->buf, c->stream_len, mbx->off, mbx->end);
	resume_bad(_metadata, c, "missing MAILBOX", c->buf, len, len, AT_STOP,
		   EINVAL, 0);

	/* missing RX queue 1 */
	{
		const struct mig_rec *rx1 = REC(MIG_TAG_RX_QUEUE | 1);

		memcpy(c->buf, c->stream, c->stream_len);
		len = mig_stream_cut(c->buf, c->stream_len, rx1->off, rx1->end);
		resume_bad(_metadata, c, "missing RX queue 1", c->buf, len, len,
			   AT_STOP, EINVAL, 0);
	}

	/* a queue the header does not carry (RX queue 5 of 2) */
	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_insert(c->buf, c->stream_len, STREAM_BUF, end->off,
				MIG_TAG_RX_QUEUE | 5, MIG_FLAG_MANDATORY,
				c->stream + rx0->payload, rx0->len);
	resume_bad(_metadata, c, "RX queue 5 on a 2-queue VF", c->buf, len, len,
		   AT_STOP, EINVAL, 0);

	/* known record not marked mandatory */
	memcpy(c->buf, c->stream, c->stream_len);
	mig_put16(c->buf + dev->off + 2, 0);
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "DEV_REGS without the mandatory flag", c->buf,
		   c->stream_len, c->stream_len, AT_STOP, EINVAL, 0);

	/* unknown record flag */
	memcpy(c->buf, c->stream, c->stream_len);
	mig_put16(c->buf + mbx->off + 2, MIG_FLAG_MANDATORY | 0x8000);
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "record flag 0x8000", c->buf, c->stream_len,
		   c->stream_len, AT_STOP, EINVAL, 0);

	/* payload of a known record one word short (well-formed otherwise) */
	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + dev->off + 4, dev->len - 4);
	len = mig_stream_cut(c->buf, c->stream_len, dev->end - 4, dev->end);
	resume_bad(_metadata, c, "DEV_REGS one word short", c->buf, len, len,
		   AT_STOP, EINVAL, 0);

	/* nonzero padding after an odd-length optional record */
	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_insert(c->buf, c->stream_len, STREAM_BUF, end->off, 0x0778,
				0, pay, 3);
	c->buf[end->off + MIG_REC_HDR_LEN + 3] = 0x5a;
	mig_stream_fix(c->buf, len);
	resume_bad(_metadata, c, "nonzero record padding", c->buf, len, len,
		   AT_STOP, EINVAL, 0);

	/* record longer than MAX_RECORD_LEN: a memory bound */
	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + mbx->off + 4, MIG_MAX_RECORD + 4);
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "record len 4100", c->buf, c->stream_len,
		   c->stream_len, AT_EITHER, ENOMEM, 0);

	/* END not last: bytes after it (announced length kept) */
	memcpy(c->buf, c->stream, c->stream_len);
	memset(c->buf + c->stream_len, 0, 8);
	resume_bad(_metadata, c, "8 bytes after END", c->buf, c->stream_len + 8,
		   c->stream_len + 8, AT_EITHER, EINVAL, ENOMEM);

	/* register values no 82576 can hold, CRC fixed */
	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + rx0->payload + 8, 1000);	/* RDLEN % 128 */
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "RDLEN 1000", c->buf, c->stream_len, c->stream_len,
		   AT_STOP, EINVAL, 0);

	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + rx0->payload + 12,
		  mig_get32(c->stream + rx0->payload + 8) / 16 + 3);	/* RDH */
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "RDH past the ring", c->buf, c->stream_len,
		   c->stream_len, AT_STOP, EINVAL, 0);

	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + rx0->payload + 0,
		  mig_get32(c->stream + rx0->payload) | 0x40);	/* RDBAL */
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "RDBAL not 128-byte aligned", c->buf,
		   c->stream_len, c->stream_len, AT_STOP, EINVAL, 0);

	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + tx0->payload + 16,
		  mig_get32(c->stream + tx0->payload + 8) / 16);	/* TDT */
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "TDT == ring size", c->buf, c->stream_len,
		   c->stream_len, AT_STOP, EINVAL, 0);

	memcpy(c->buf, c->stream, c->stream_len);
	mig_put32(c->buf + pf->payload, 2);	/* PF ctx ABI */
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "PF context ABI 2", c->buf, c->stream_len,
		   c->stream_len, AT_STOP, EINVAL, 0);

	memcpy(c->buf, c->stream, c->stream_len);
	c->buf[pf->payload + 8] |= 1;	/* MAC: group bit */
	mig_stream_fix(c->buf, c->stream_len);
	resume_bad(_metadata, c, "PF context multicast MAC", c->buf, c->stream_len,
		   c->stream_len, AT_STOP, EINVAL, 0);

	check_usable(_metadata, c);
}

/* Writes beyond 64 KiB are refused with ENOMEM, in one write or many. */
TEST_F_TIMEOUT(resume, oversize, 120)
{
	struct mig_ctx *c = &self->c;
	size_t big = MIG_MAX_STREAM + 1;
	uint8_t *b = calloc(1, big + 4096);
	int fd, ret;
	size_t total;

	ASSERT_NE(NULL, b);
	memcpy(b, c->stream, c->stream_len);
	resume_bad(_metadata, c, "one write of 64 KiB + 1", b, big, big, AT_WRITE,
		   ENOMEM, 0);

	/* Many writes: refused at the latest when the total passes 64 KiB. */
	reset_running(_metadata, &c->dev);
	reach(_metadata, &c->dev, S_RESUMING, &fd);
	ASSERT_EQ(0, mig_write_all(fd, c->stream, MIG_INITIAL_LEN, MIG_INITIAL_LEN));
	total = MIG_INITIAL_LEN;
	ret = 0;
	while (total <= MIG_MAX_STREAM + 4096) {
		ssize_t n = write(fd, b + MIG_INITIAL_LEN, 4096);

		if (n < 0) {
			ret = errno;
			break;
		}
		total += n;
	}
	EXPECT_EQ(ENOMEM, ret) TH_LOG("chunked writes: %s after %zu bytes",
				      strerror(ret), total);
	EXPECT_GE(MIG_MAX_STREAM, total) TH_LOG("accepted %zu bytes", total);
	close(fd);
	free(b);
	reset_running(_metadata, &c->dev);
	check_usable(_metadata, c);
}

/*
 * An unknown optional record is skipped: the stream loads into the same VF
 * after a reset and the VF carries on with the state it had.
 */
TEST_F_TIMEOUT(resume, unknown_optional_record_accepted, 120)
{
	struct mig_ctx *c = &self->c;
	const struct mig_rec *end = REC(MIG_TAG_END);
	const struct mig_rec *mbx = REC(MIG_TAG_MAILBOX);
	uint8_t pay[5] = { 0xde, 0xad, 0xbe, 0xef, 0x42 };
	char why[128];
	struct mig_rec r2[MIG_MAX_RECS];
	size_t len;
	int fd, ret;

	memcpy(c->buf, c->stream, c->stream_len);
	len = mig_stream_insert(c->buf, c->stream_len, STREAM_BUF, end->off, 0x0abc,
				0, pay, sizeof(pay));
	len = mig_stream_insert(c->buf, len, STREAM_BUF, mbx->off, 0x7abc, 0, pay, 0);
	ASSERT_LT(0, mig_stream_parse(c->buf, len, r2, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("%s", why);

	ASSERT_EQ(0, vfio_reset(&c->dev));
	reach(_metadata, &c->dev, S_RESUMING, &fd);
	ret = mig_write_all(fd, c->buf, len, len);
	ASSERT_EQ(0, ret) TH_LOG("write: %s", strerror(-ret));
	ret = vfio_mig_set_state(&c->dev, S_STOP, NULL);
	ASSERT_EQ(0, ret) TH_LOG("RESUMING -> STOP with 2 unknown optional records: %s",
				 strerror(-ret));
	close(fd);
	ASSERT_EQ(0, vfio_enable_bus_master(&c->dev));
	reach(_metadata, &c->dev, S_RUNNING, NULL);
	/* the same driver state, no re-init */
	exchange(_metadata, c, &c->drv, 8);
}

/* ---- concurrency ------------------------------------------------------ */

struct churn {
	int device_fd;
	volatile int stop;
	int handoff;		/* a dup()ed data fd for the reader, or -1 */
	unsigned long resets, gets, reads;
};

/* Raw ioctls only: vfio_util's error buffer is not thread-safe. */
static void *churn_resetter(void *arg)
{
	struct churn *ch = arg;
	uint64_t buf[4];
	struct vfio_device_feature *f = (void *)buf;
	unsigned int r = 1;

	while (!ch->stop) {
		if (!ioctl(ch->device_fd, VFIO_DEVICE_RESET))
			ch->resets++;
		memset(buf, 0, sizeof(buf));
		f->argsz = sizeof(*f) + sizeof(struct vfio_device_feature_mig_state);
		f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
		if (!ioctl(ch->device_fd, VFIO_DEVICE_FEATURE, f))
			ch->gets++;
		f->argsz = sizeof(*f) + sizeof(struct vfio_device_feature_mig_data_size);
		f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
		ioctl(ch->device_fd, VFIO_DEVICE_FEATURE, f);
		r = r * 1103515245u + 12345u;
		usleep(15000 + (r >> 16) % 20000);
	}
	return NULL;
}

static void *churn_reader(void *arg)
{
	struct churn *ch = arg;
	uint8_t b[256];

	while (!ch->stop) {
		int fd = __atomic_exchange_n(&ch->handoff, -1, __ATOMIC_ACQ_REL);

		if (fd < 0) {
			usleep(500);
			continue;
		}
		for (int i = 0; i < 20; i++) {
			struct vfio_precopy_info info = { .argsz = sizeof(info) };

			if (read(fd, b, 16) > 0)
				ch->reads++;
			ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
			usleep(200);
		}
		close(fd);
	}
	return NULL;
}

/*
 * State changes and data fd I/O racing with VFIO_DEVICE_RESET and state
 * queries from other threads: no hang (bounded by the harness timeout), no
 * lockdep report, and afterwards a reset gives a working RUNNING VF.
 * Resets are kept to a few dozen: under multi-threaded TCG, QEMU 10.0 can
 * abort in iotlb_to_section() when a VF reset remaps memory while another
 * vCPU does MMIO (an emulator race, not the driver's; -accel tcg,thread=single
 * avoids it).
 */
TEST_F_TIMEOUT(mig, concurrent_reset_and_transitions, 180)
{
	static const uint32_t seq[] = {
		S_PRE_COPY, S_PRE_COPY_P2P, S_STOP_COPY, S_STOP, S_RESUMING, S_STOP,
		S_RUNNING, S_RUNNING_P2P, S_PRE_COPY_P2P, S_PRE_COPY, S_RUNNING,
		S_STOP_COPY, S_RESUMING, S_RUNNING,
	};
	struct mig_ctx *c = &self->c;
	struct churn ch = { .device_fd = c->dev.device_fd, .handoff = -1 };
	pthread_t resetter, reader;
	unsigned long ok = 0, failed = 0, errors = 0, own_resets = 0;
	int other_errno = 0;
	uint64_t end;
	int st, left;

	drv_up(_metadata, c);
	c->stream_len = save_stream(_metadata, &c->dev, c->stream);
	ASSERT_EQ(0, pthread_create(&resetter, NULL, churn_resetter, &ch));
	ASSERT_EQ(0, pthread_create(&reader, NULL, churn_reader, &ch));
	end = now_ms() + 3000;
	for (unsigned int i = 0; now_ms() < end; i++) {
		uint32_t want = seq[i % (sizeof(seq) / sizeof(seq[0]))];
		struct vfio_device_feature_mig_state m = { .device_state = want, .data_fd = -1 };
		uint64_t buf[4] = {};
		struct vfio_device_feature *f = (void *)buf;

		f->argsz = sizeof(*f) + sizeof(m);
		f->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
		memcpy(f->data, &m, sizeof(m));
		if (ioctl(c->dev.device_fd, VFIO_DEVICE_FEATURE, f)) {
			int err = errno;

			failed++;
			if (err != EINVAL && err != ENODEV && !other_errno)
				other_errno = err;
			/* A half-written stream left it in ERROR: reset from here too. */
			if (get_state(c) == S_ERROR && !ioctl(c->dev.device_fd, VFIO_DEVICE_RESET))
				own_resets++;
			usleep(500);
			continue;
		}
		ok++;
		memcpy(&m, f->data, sizeof(m));
		if (m.data_fd < 0)
			continue;
		if (want == S_RESUMING) {
			/* Half a stream, or all of it: either may lose to a reset. */
			if (write(m.data_fd, c->stream, i & 1 ? c->stream_len : 40) < 0 &&
			    errno != ENODEV)
				errors++;
		} else {
			int dup_fd = dup(m.data_fd), old;

			old = __atomic_exchange_n(&ch.handoff, dup_fd, __ATOMIC_ACQ_REL);
			if (old >= 0)
				close(old);
		}
		close(m.data_fd);
		usleep(1000);
	}
	ch.stop = 1;
	pthread_join(resetter, NULL);
	pthread_join(reader, NULL);
	left = __atomic_exchange_n(&ch.handoff, -1, __ATOMIC_ACQ_REL);
	if (left >= 0)
		close(left);
	TH_LOG("%lu transitions done, %lu refused (racing resets, ERROR), %lu + %lu resets, "
	       "%lu state queries, %lu data reads", ok, failed, ch.resets, own_resets,
	       ch.gets, ch.reads);
	EXPECT_EQ(0, errors) TH_LOG("resume writes failed with something else than ENODEV");
	EXPECT_EQ(0, other_errno) TH_LOG("a transition failed with %s", strerror(other_errno));
	EXPECT_LT(0, ok);
	EXPECT_LT(0, ch.resets);
	st = get_state(c);
	EXPECT_LE(0, st) TH_LOG("GET state after the churn: %s", vfio_errmsg());
	reset_running(_metadata, &c->dev);
	check_usable(_metadata, c);
}

/* ---- migration under traffic ------------------------------------------ */

#define NREGS 13
#define RING_REGS { \
	IGBVF_RDBAL, IGBVF_RDBAH, IGBVF_RDLEN, IGBVF_SRRCTL, IGBVF_RDH, IGBVF_RDT, \
	IGBVF_TDBAL, IGBVF_TDBAH, IGBVF_TDLEN, IGBVF_TDH, IGBVF_TDT, \
	IGBVF_TDWBAL, IGBVF_TDWBAH, \
}

static uint32_t ring_reg(int i)
{
	const uint32_t regs[NREGS] = RING_REGS;

	return regs[i];
}
static const char *const ring_reg_names[NREGS] = {
	"RDBAL", "RDBAH", "RDLEN", "SRRCTL", "RDH", "RDT",
	"TDBAL", "TDBAH", "TDLEN", "TDH", "TDT", "TDWBAL", "TDWBAH",
};

struct migration {
	/* what to do */
	struct vfio_dev *src, *dst;
	struct mig_traffic *t;	/* pumped while the source still runs */
	unsigned int precopy_ms;
	/* called with the source in PRE_COPY_P2P (the guest runs, no DMA) */
	void (*in_p2p)(struct __test_metadata *_metadata, struct migration *m);
	/* what happened */
	size_t pre_len, len;
	uint64_t init_bytes, dirty_bytes, data_size;
	uint64_t t_stop, t_run;		/* quiesce started / dst RUNNING (ns) */
	uint32_t src_regs[NREGS], dst_regs[NREGS];
};

/*
 * The QEMU sequence: RUNNING -> PRE_COPY (initial data, PRECOPY_INFO, the VM
 * keeps running), -> PRE_COPY_P2P -> STOP_COPY (the rest), source reset
 * (its PF filters go), destination RUNNING -> STOP -> RESUMING, write,
 * -> STOP, bus master (QEMU restores config space), -> RUNNING.
 * src == dst is the "save, reset, restore" path.
 */
static void migrate(struct __test_metadata *_metadata, struct migration *m,
		    uint8_t *buf)
{
	struct mig_rec recs[MIG_MAX_RECS];
	char why[128];
	int fd, nfd, rfd, err, ret;
	size_t rest;

	reach(_metadata, m->src, S_PRE_COPY, &fd);
	ASSERT_LE(0, fd) TH_LOG("RUNNING -> PRE_COPY: no data fd");
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &m->init_bytes, &m->dirty_bytes))
		TH_LOG("%s", vfio_errmsg());
	m->pre_len = mig_read_all(fd, buf, STREAM_BUF, 1 << 20, &err);
	ASSERT_EQ(ENOMSG, err) TH_LOG("pre-copy read: %s", strerror(err));
	ASSERT_EQ(0, vfio_mig_data_size(m->src, &m->data_size)) TH_LOG("%s", vfio_errmsg());
	if (m->t) {
		ret = mig_traffic_pump(m->t, m->precopy_ms);
		ASSERT_EQ(0, ret) TH_LOG("%s", m->t->err);
	}

	m->t_stop = now_ns();
	ASSERT_EQ(0, vfio_mig_set_state(m->src, S_PRE_COPY_P2P, &nfd))
		TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(-1, nfd);
	for (int i = 0; i < NREGS; i++)
		m->src_regs[i] = vfio_bar0_read32(m->src, ring_reg(i));
	if (m->in_p2p)
		m->in_p2p(_metadata, m);
	ASSERT_EQ(0, vfio_mig_set_state(m->src, S_STOP_COPY, &nfd))
		TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(-1, nfd) TH_LOG("PRE_COPY_P2P -> STOP_COPY must continue the pre-copy fd");
	rest = mig_read_all(fd, buf + m->pre_len, STREAM_BUF - m->pre_len, 1 << 20, &err);
	ASSERT_EQ(0, err) TH_LOG("stop-copy read: %s", strerror(err));
	close(fd);
	m->len = m->pre_len + rest;
	ASSERT_LT(0, mig_stream_parse(buf, m->len, recs, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("saved stream: %s", why);
	EXPECT_LE(rest, m->data_size) TH_LOG("MIG_DATA_SIZE %llu, STOP_COPY gave %zu",
					     (unsigned long long)m->data_size, rest);

	/* The source is done: reset it (QEMU closes it); the PF forgets it. */
	reach(_metadata, m->src, S_STOP, NULL);
	reset_running(_metadata, m->src);

	reach(_metadata, m->dst, S_RESUMING, &rfd);
	ASSERT_LE(0, rfd) TH_LOG("-> RESUMING: no data fd");
	ret = mig_write_all(rfd, buf, m->len, m->pre_len ? m->pre_len : m->len);
	ASSERT_EQ(0, ret) TH_LOG("resume write: %s", strerror(-ret));
	ASSERT_EQ(0, vfio_mig_set_state(m->dst, S_STOP, NULL))
		TH_LOG("RESUMING -> STOP: %s", vfio_errmsg());
	close(rfd);
	for (int i = 0; i < NREGS; i++)
		m->dst_regs[i] = vfio_bar0_read32(m->dst, ring_reg(i));
	ASSERT_EQ(0, vfio_enable_bus_master(m->dst)) TH_LOG("%s", vfio_errmsg());
	reach(_metadata, m->dst, S_RUNNING, NULL);
	m->t_run = now_ns();
}

static void check_regs(struct __test_metadata *_metadata, const struct migration *m)
{
	for (int i = 0; i < NREGS; i++) {
		EXPECT_EQ(m->src_regs[i], m->dst_regs[i])
			TH_LOG("%s: source 0x%x, destination 0x%x", ring_reg_names[i],
			       m->src_regs[i], m->dst_regs[i]);
	}
	EXPECT_TRUE(vfio_bar0_read32(m->dst, IGBVF_RXDCTL) & IGBVF_QUEUE_ENABLE)
		TH_LOG("destination RX queue not enabled in RUNNING");
	EXPECT_TRUE(vfio_bar0_read32(m->dst, IGBVF_TXDCTL) & IGBVF_QUEUE_ENABLE)
		TH_LOG("destination TX queue not enabled in RUNNING");
	TH_LOG("ring positions carried: RDH %u RDT %u TDH %u TDT %u",
	       m->dst_regs[4], m->dst_regs[5], m->dst_regs[9], m->dst_regs[10]);
}

/* Slack for frames in flight around the stop window (TCG is slow). */
#define WINDOW_SLACK_NS	300000000ull

static void check_traffic(struct __test_metadata *_metadata,
			  const struct mig_traffic *t, const struct migration *m,
			  const struct mig_counts *before)
{
	struct mig_counts k;

	mig_traffic_count(t, m->t_stop, m->t_run, WINDOW_SLACK_NS, &k);
	TH_LOG("stop window %.1f ms (quiesce -> destination RUNNING)",
	       (m->t_run - m->t_stop) / 1e6);
	TH_LOG("peer -> VF: sent %u, received %u, lost %u (%u outside the window), "
	       "duplicated %u, stray %u, corrupted %u; after the window %u of %u",
	       k.p_sent, k.vf_recv, k.vf_lost, k.vf_lost_outside, k.vf_dup,
	       t->vf_stray, t->vf_bad, k.vf_recv_after, k.p_sent_after);
	TH_LOG("VF -> peer: sent %u, received %u, lost %u, duplicated %u, corrupted %u",
	       k.v_sent, k.peer_recv, k.peer_lost, k.peer_dup, t->peer_bad);
	EXPECT_EQ(0, t->p_err) TH_LOG("peer sendto: %s", strerror(t->p_err));
	EXPECT_LT(0, before->vf_recv) TH_LOG("no frames reached the VF before migrating");
	EXPECT_LT(0, before->peer_recv) TH_LOG("no frames from the VF before migrating");
	EXPECT_EQ(0, k.vf_dup);
	EXPECT_EQ(0, k.peer_dup);
	EXPECT_EQ(0, t->vf_bad);
	EXPECT_EQ(0, t->peer_bad);
	EXPECT_EQ(0, k.vf_lost_outside) TH_LOG("peer -> VF frames lost outside the stop window");
	EXPECT_EQ(0, k.peer_lost) TH_LOG("VF -> peer frames are never lost (the VF only "
					 "sends while running)");
	EXPECT_LT(0, k.p_sent_after);
	EXPECT_EQ(k.p_sent_after, k.vf_recv_after)
		TH_LOG("peer -> VF frames after the migration must all arrive");
	EXPECT_LT(k.v_sent, t->max) TH_LOG("frame budget exhausted");
}

FIXTURE(mig2) {
	struct mig_ctx c;	/* VF0: source */
	struct vfio_dev dev1;	/* VF1: destination, same IOAS */
	bool opened1;
	uint8_t *buf;
	const char *pf_if;
	int vlan;		/* VLAN joined by a test, to leave */
};

FIXTURE_SETUP(mig2)
{
	const char *bdf = getenv("VF_BDF"), *bdf1 = getenv("VF_BDF2");
	uint64_t flags;
	int ret;

	self->c.peer.fd = -1;
	if (!bdf || !*bdf || !bdf1 || !*bdf1)
		SKIP(return, "VF_BDF/VF_BDF2 not set: need two VFs");
	if (ctx_open(_metadata, &self->c, bdf, VFIO_MODE_CDEV_IOMMUFD))
		SKIP(return, "%s has no MIGRATION feature (ENOTTY): driver %s does not migrate",
		     bdf, getenv("MIG_DRIVER") ?: "?");
	ret = vfio_dev_open_shared(&self->dev1, bdf1, &self->c.dev);
	ASSERT_EQ(0, ret) TH_LOG("open %s on %s's IOAS: %s", bdf1, bdf, vfio_errmsg());
	self->opened1 = true;
	ASSERT_EQ(0, vfio_mig_flags(&self->dev1, &flags)) TH_LOG("%s", vfio_errmsg());
	self->buf = calloc(1, STREAM_BUF);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(mig2)
{
	/* The driver's rings may live on either VF now: stop both. */
	if (self->c.drv_up && self->opened1) {
		vfio_bar0_write32(&self->dev1, IGBVF_RXDCTL, 0);
		vfio_bar0_write32(&self->dev1, IGBVF_TXDCTL, 0);
	}
	if (self->c.t_on)
		mig_traffic_free(&self->c.t);
	self->c.t_on = false;
	if (self->c.drv_up) {
		igbvf_move(&self->c.drv, &self->c.dev);
		igbvf_fini(&self->c.drv);
		self->c.drv_up = false;
	}
	if (self->opened1)
		vfio_dev_close(&self->dev1);
	ctx_close(&self->c);
	free(self->buf);
}

/* Both VFs see the driver's memory at the same IOVAs. */
TEST_F(mig2, shared_ioas)
{
	struct mig_ctx *c = &self->c;

	EXPECT_EQ(c->dev.iommufd, self->dev1.iommufd);
	EXPECT_EQ(c->dev.ioas_id, self->dev1.ioas_id);
	EXPECT_EQ(S_RUNNING, get_state(c));
	/* A second mapping at the same IOVA through VF1 must clash. */
	drv_up(_metadata, c);
	EXPECT_NE(0, vfio_dma_map(&self->dev1, c->drv.mem.va, IOVA_DRV, 4096));
}

static void traffic_migration(struct __test_metadata *_metadata,
			      FIXTURE_DATA(mig2) *self, struct vfio_dev *dst,
			      const uint8_t *group, uint16_t vlan)
{
	const char *peer_if = getenv("PEER_IF");
	struct mig_ctx *c = &self->c;
	struct mig_traffic *t = &c->t;
	struct migration m = { .src = &c->dev, .dst = dst, .t = t, .precopy_ms = 300 };
	/* A group with another MTA hash; a VLAN the VF did not join. */
	static const uint8_t other_group[6] = { 0x01, 0x00, 0x5e, 0x12, 0xa5, 0x3c };
	struct mig_counts before;
	const uint8_t *ctl_dst;
	uint16_t ctl_vlan = vlan ? vlan + 100 : 0;
	uint8_t mac[6];
	int ret, ctl = 0;

	if (!peer_if || !*peer_if)
		SKIP(return, "PEER_IF not set: no traffic peer");
	drv_up(_metadata, c);
	memcpy(mac, c->drv.mac, 6);
	ctl_dst = group ? other_group : c->drv.mac;
	if (vlan) {
		ret = igbvf_set_vlan(&c->drv, vlan, true);
		ASSERT_EQ(0, ret) TH_LOG("VLAN %u: %s", vlan, c->drv.err);
	}
	if (group) {
		ret = igbvf_set_multicast(&c->drv, (const uint8_t (*)[6])group, 1);
		ASSERT_EQ(0, ret) TH_LOG("multicast %s: %s", mig_mac_str(group), c->drv.err);
	}

	t->vf = &c->drv;
	t->peer_if = peer_if;
	memcpy(t->vf_dst, group ? group : mac, 6);
	t->vlan = vlan;
	t->frame_len = 128;
	t->peer_period_us = 5000;
	t->vf_period_us = 5000;
	t->max = 4000;
	ret = mig_traffic_start(t);
	c->t_on = true;
	ASSERT_EQ(0, ret) TH_LOG("%s", t->err);
	ret = mig_traffic_pump(t, 800);
	ASSERT_EQ(0, ret) TH_LOG("%s", t->err);
	mig_traffic_count(t, 0, 0, 0, &before);
	TH_LOG("before: peer -> VF %u/%u, VF -> peer %u/%u", before.vf_recv,
	       before.p_sent, before.peer_recv, before.v_sent);
	ASSERT_LT(0, before.vf_recv) TH_LOG("nothing reaches the VF (dst %s vlan %u)",
					    mig_mac_str(t->vf_dst), vlan);
	if (vlan)
		TH_LOG("VF RX VLAN tag seen: 0x%x", t->last_vlan);
	if (vlan || group) {
		/* Frames the VF did not ask for: does the device filter them? */
		ctl = mig_traffic_control(t, ctl_dst, ctl_vlan, 10, 300);
		ASSERT_LE(0, ctl) TH_LOG("%s", t->err);
		if (ctl)
			TH_LOG("control: %d of 10 frames to %s vlan %u reached the VF: the "
			       "device model does not filter them, so only delivery (not "
			       "filtering) is checked across the migration",
			       ctl, mig_mac_str(ctl_dst), ctl_vlan);
		else
			TH_LOG("control: frames to %s vlan %u are filtered out before the "
			       "migration", mig_mac_str(ctl_dst), ctl_vlan);
	}

	migrate(_metadata, &m, self->buf);
	TH_LOG("%s -> %s: stream %zu bytes (%zu pre-copy, initial_bytes %llu, "
	       "dirty_bytes %llu), MIG_DATA_SIZE %llu", c->dev.bdf, dst->bdf, m.len,
	       m.pre_len, (unsigned long long)m.init_bytes,
	       (unsigned long long)m.dirty_bytes, (unsigned long long)m.data_size);
	igbvf_move(&c->drv, dst);	/* same rings, same memory, same MAC */
	check_regs(_metadata, &m);

	ret = mig_traffic_pump(t, 1500);
	ASSERT_EQ(0, ret) TH_LOG("%s", t->err);
	if ((vlan || group) && !ctl) {
		int after = mig_traffic_control(t, ctl_dst, ctl_vlan, 10, 300);

		ASSERT_LE(0, after) TH_LOG("%s", t->err);
		EXPECT_EQ(0, after) TH_LOG("after the migration %d of 10 frames to %s vlan %u "
					   "reach the VF: the destination filters less than "
					   "the source did", after, mig_mac_str(ctl_dst),
					   ctl_vlan);
	}
	ret = mig_traffic_stop(t, 1500);
	ASSERT_EQ(0, ret) TH_LOG("%s", t->err);
	check_traffic(_metadata, t, &m, &before);
	EXPECT_EQ(0, memcmp(mac, c->drv.mac, 6));
}

/* VF0 -> VF1 while frames flow both ways. */
TEST_F_TIMEOUT(mig2, migrate_under_traffic, 180)
{
	traffic_migration(_metadata, self, &self->dev1, NULL, 0);
}

/* Same, with the VF in a multicast group: the PF must filter it to VF1. */
TEST_F_TIMEOUT(mig2, migrate_multicast, 180)
{
	static const uint8_t group[6] = { 0x01, 0x00, 0x5e, 0x4d, 0x49, 0x47 };

	traffic_migration(_metadata, self, &self->dev1, group, 0);
}

/* Same, with the VF in VLAN 100 and the peer sending tagged frames. */
TEST_F_TIMEOUT(mig2, migrate_vlan, 180)
{
	traffic_migration(_metadata, self, &self->dev1, NULL, 100);
}

/* Save, VFIO_DEVICE_RESET, resume into the same VF ("save VM"), under traffic. */
TEST_F_TIMEOUT(mig2, save_reset_restore_same_vf, 180)
{
	traffic_migration(_metadata, self, &self->c.dev, NULL, 0);
}

/* And back: VF0 -> VF1 -> VF0. */
TEST_F_TIMEOUT(mig2, migrate_there_and_back, 240)
{
	const char *peer_if = getenv("PEER_IF");
	struct mig_ctx *c = &self->c;
	struct migration m1 = { .src = &c->dev, .dst = &self->dev1 };
	struct migration m2 = { .src = &self->dev1, .dst = &c->dev };

	if (!peer_if || !*peer_if)
		SKIP(return, "PEER_IF not set: no traffic peer");
	drv_up(_metadata, c);
	exchange(_metadata, c, &c->drv, 6);
	migrate(_metadata, &m1, self->buf);
	igbvf_move(&c->drv, &self->dev1);
	check_regs(_metadata, &m1);
	exchange(_metadata, c, &c->drv, 6);
	migrate(_metadata, &m2, self->buf);
	igbvf_move(&c->drv, &c->dev);
	check_regs(_metadata, &m2);
	exchange(_metadata, c, &c->drv, 6);
}

/*
 * The PF-held context of an ixgbe VF includes the mailbox API it negotiated
 * (intel_vf_mig_ctx.mbx_api): the destination PF must answer as the source
 * did. GET_QUEUES tells: the ixgbe PF NACKs it under API 1.0, which is what
 * a VF has after a reset, so the destination answering it is the API carried.
 */
#define IXGBE_API_13	4	/* ixgbe_mbox_api_13 */
TEST_F_TIMEOUT(mig2, ixgbe_mailbox_api_carried, 180)
{
	struct mig_ctx *c = &self->c;
	struct migration m = { .src = &c->dev, .dst = &self->dev1 };
	uint32_t q[4], q1[4];
	int ret;

	if (!IGBVF_IS_IXGBE)
		SKIP(return, "%s: the mailbox API is negotiated by ixgbe VFs only",
		     igbvf_map()->name);
	drv_up(_metadata, c);
	ret = igbvf_ixgbe_get_queues(&c->drv, q);
	ASSERT_EQ(-EPERM, ret) TH_LOG("GET_QUEUES under API 1.0 must be refused: %d %s",
				      ret, c->drv.err);
	ASSERT_EQ(0, igbvf_ixgbe_api(&c->drv, IXGBE_API_13)) TH_LOG("%s", c->drv.err);
	ASSERT_EQ(0, igbvf_ixgbe_get_queues(&c->drv, q)) TH_LOG("%s", c->drv.err);
	TH_LOG("source under API 1.3: %u TX / %u RX queues, transparent VLAN %u, default queue %u",
	       q[0], q[1], q[2], q[3]);
	exchange(_metadata, c, &c->drv, 4);
	migrate(_metadata, &m, self->buf);
	igbvf_move(&c->drv, &self->dev1);
	ret = igbvf_ixgbe_get_queues(&c->drv, q1);
	ASSERT_EQ(0, ret) TH_LOG("destination PF: %s (the negotiated API was not restored)",
				 c->drv.err);
	EXPECT_EQ(0, memcmp(q, q1, sizeof(q)))
		TH_LOG("destination: %u TX / %u RX queues, VLAN %u, default %u", q1[0], q1[1],
		       q1[2], q1[3]);
	exchange(_metadata, c, &c->drv, 4);
}

/* ---- the mailbox across the switch-over --------------------------------- */

/*
 * The mailbox is driven by hand here, as a guest driver would, so that the
 * test chooses exactly which events are pending when the device stops.
 * V2PMAILBOX bits (82576 datasheet 8.14.x): REQ/ACK/VFU written by the VF,
 * PFSTS/PFACK/RSTD set by the PF side and cleared by a read.
 */
#define T_MBX_REQ	0x01
#define T_MBX_ACK	0x02
#define T_MBX_VFU	0x04
#define T_MBX_PFSTS	0x10
#define T_MBX_PFACK	0x20
#define T_MSG_SET_MC1	0x00010003u	/* E1000_VF_SET_MULTICAST, one hash */
#define T_MSG_ACK	0x80000000u
#define T_MSG_CTS	0x20000000u

/* VF_SET_MULTICAST with one hash, sent without waiting for the PF. */
static void mbx_post_request(struct __test_metadata *_metadata, struct vfio_dev *d)
{
	vfio_bar0_write32(d, IGBVF_V2PMAILBOX, T_MBX_VFU);
	ASSERT_TRUE(vfio_bar0_read32(d, IGBVF_V2PMAILBOX) & T_MBX_VFU)
		TH_LOG("mailbox buffer not granted");
	vfio_bar0_write32(d, IGBVF_VMBMEM, T_MSG_SET_MC1);
	for (int i = 1; i < 16; i++)
		vfio_bar0_write32(d, IGBVF_VMBMEM + 4 * i, i == 1 ? 0x0123 : 0);
	vfio_bar0_write32(d, IGBVF_V2PMAILBOX, T_MBX_REQ);
}

/* Reads the mailbox control until `bits` were all seen (they clear on read). */
static uint32_t mbx_collect(struct vfio_dev *d, uint32_t bits, unsigned int ms)
{
	uint64_t end = now_ns() + ms * 1000000ull;
	uint32_t seen = 0;

	do {
		seen |= vfio_bar0_read32(d, IGBVF_V2PMAILBOX);
		if ((seen & bits) == bits)
			break;
		usleep(2000);
	} while (now_ns() < end);
	return seen;
}

/* The PF's reply to mbx_post_request() is in mailbox memory: consume it. */
static void expect_mc_reply(struct __test_metadata *_metadata, struct vfio_dev *d,
			    const char *where)
{
	uint32_t w0 = vfio_bar0_read32(d, IGBVF_VMBMEM);

	EXPECT_EQ(T_MSG_SET_MC1 | T_MSG_ACK | T_MSG_CTS, w0)
		TH_LOG("%s: reply 0x%x in mailbox memory", where, w0);
	vfio_bar0_write32(d, IGBVF_V2PMAILBOX, T_MBX_ACK);
}

/* PFACK and PFSTS are back in d's mailbox control, with the reply in mailbox memory. */
static void expect_events_back(struct __test_metadata *_metadata, struct vfio_dev *d,
			       const char *where)
{
	uint32_t seen = vfio_bar0_read32(d, IGBVF_V2PMAILBOX);

	TH_LOG("%s mailbox in RUNNING: 0x%x", where, seen);
	EXPECT_EQ(T_MBX_PFACK | T_MBX_PFSTS, seen & (T_MBX_PFACK | T_MBX_PFSTS))
		TH_LOG("PF events the save read were lost");
	expect_mc_reply(_metadata, d, where);
}

static void request_in_p2p(struct __test_metadata *_metadata, struct migration *m)
{
	uint32_t seen;

	mbx_post_request(_metadata, m->src);
	/* The source PF must leave it unanswered: the VF is quiesced. */
	usleep(200000);
	seen = vfio_bar0_read32(m->src, IGBVF_V2PMAILBOX);
	ASSERT_EQ(0, seen & (T_MBX_PFACK | T_MBX_PFSTS))
		TH_LOG("the PF answered a quiesced VF (mailbox 0x%x)", seen);
}

/*
 * A request the guest raised after the source stopped answering (PRE_COPY_P2P)
 * is answered by the destination's PF once the destination runs. Without the
 * replay it stays latched in the source PF and the guest waits forever.
 */
TEST_F_TIMEOUT(mig2, mailbox_request_while_quiesced, 120)
{
	struct mig_ctx *c = &self->c;
	struct migration m = { .src = &c->dev, .dst = &self->dev1, .in_p2p = request_in_p2p };
	uint32_t seen;

	drv_up(_metadata, c);
	migrate(_metadata, &m, self->buf);
	seen = mbx_collect(&self->dev1, T_MBX_PFACK | T_MBX_PFSTS, 2000);
	TH_LOG("destination mailbox after RUNNING: 0x%x", seen);
	ASSERT_EQ(T_MBX_PFACK | T_MBX_PFSTS, seen & (T_MBX_PFACK | T_MBX_PFSTS))
		TH_LOG("the request raised while quiesced was never answered");
	expect_mc_reply(_metadata, &self->dev1, "destination");
}

/* Index of VF bdf under the PF (its virtfnN link), or -1. */
static int vf_index(const char *pf, const char *bdf)
{
	char path[256], target[256];

	for (int i = 0; i < 64; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d", pf, i);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		if (!strcmp(strrchr(target, '/') ? strrchr(target, '/') + 1 : target, bdf))
			return i;
	}
	return -1;
}

/*
 * The ixgbe PF pings a VF (IXGBE_PF_CONTROL_MSG in its mailbox memory, PFSTS)
 * when the admin changes the VF's link state. While the VF is quiesced the
 * PF patch holds the ping back (it would overwrite a request the PF has not
 * read), the saved context says so (INTEL_VF_MIG_MBX_PING) and the
 * destination's PF sends it when the destination runs. Without that the
 * guest never learns of the change. On the 82576 the only triggers are a PF
 * link change and a PF reset, which the rig cannot cause without resetting
 * the VFs, so this runs on the 82599 only.
 */
static void ping_in_p2p(struct __test_metadata *_metadata, struct migration *m)
{
	const char *pf = getenv("PF_BDF"), *pf_if = getenv("PF_IF"), *ip = getenv("IP");
	char cmd[256];
	uint32_t seen;
	int vf = vf_index(pf, m->src->bdf);

	ASSERT_LE(0, vf) TH_LOG("%s is not a VF of %s", m->src->bdf, pf);
	snprintf(cmd, sizeof(cmd), "%s link set dev %s vf %d state auto", ip ?: "/sbin/ip",
		 pf_if, vf);
	ASSERT_EQ(0, system(cmd)) TH_LOG("%s failed", cmd);
	usleep(200000);
	seen = vfio_bar0_read32(m->src, IGBVF_V2PMAILBOX);
	ASSERT_EQ(0, seen & T_MBX_PFSTS)
		TH_LOG("the PF pinged a quiesced VF (mailbox 0x%x)", seen);
}

#define T_MSG_PF_CONTROL	0x0100	/* IXGBE_PF_CONTROL_MSG */
TEST_F_TIMEOUT(mig2, ixgbe_ping_held_while_quiesced, 120)
{
	struct mig_ctx *c = &self->c;
	struct migration m = { .src = &c->dev, .dst = &self->dev1, .in_p2p = ping_in_p2p };
	uint32_t seen, w0;

	if (!IGBVF_IS_IXGBE)
		SKIP(return, "%s: no PF ping the rig can cause without resetting the VF",
		     igbvf_map()->name);
	if (!getenv("PF_BDF") || !getenv("PF_IF"))
		SKIP(return, "PF_BDF/PF_IF not set");
	drv_up(_metadata, c);
	migrate(_metadata, &m, self->buf);
	seen = mbx_collect(&self->dev1, T_MBX_PFSTS, 2000);
	w0 = vfio_bar0_read32(&self->dev1, IGBVF_VMBMEM);
	TH_LOG("destination mailbox after RUNNING: 0x%x, message 0x%x", seen, w0);
	ASSERT_TRUE(seen & T_MBX_PFSTS) TH_LOG("the ping held while quiesced never arrived");
	EXPECT_EQ(T_MSG_PF_CONTROL, w0 & 0xffff) TH_LOG("not the PF's control message");
	vfio_bar0_write32(&self->dev1, IGBVF_V2PMAILBOX, T_MBX_ACK);
}

/* Sends the request while running and waits for the reply without reading the control. */
static void request_answered_unread(struct __test_metadata *_metadata, struct vfio_dev *d)
{
	uint64_t end = now_ns() + 2000000000ull;

	mbx_post_request(_metadata, d);
	while (!(vfio_bar0_read32(d, IGBVF_VMBMEM) & T_MSG_ACK) && now_ns() < end)
		usleep(2000);
	ASSERT_TRUE(vfio_bar0_read32(d, IGBVF_VMBMEM) & T_MSG_ACK)
		TH_LOG("the PF did not answer a running VF");
	usleep(50000);
}

/*
 * The PF answered while the guest was running, but the guest had not read the
 * mailbox control yet when it stopped: PFACK and PFSTS, which the save's read
 * clears, must be there on the destination.
 */
TEST_F_TIMEOUT(mig2, mailbox_reply_unread_at_switchover, 120)
{
	struct mig_ctx *c = &self->c;
	struct migration m = { .src = &c->dev, .dst = &self->dev1 };

	drv_up(_metadata, c);
	request_answered_unread(_metadata, &c->dev);
	migrate(_metadata, &m, self->buf);
	expect_events_back(_metadata, &self->dev1, "destination");
}

/* The same events when the migration is abandoned after STOP_COPY: the source gets them back. */
TEST_F_TIMEOUT(mig, mailbox_events_back_after_abandoned_save, 120)
{
	struct mig_ctx *c = &self->c;

	drv_up(_metadata, c);
	request_answered_unread(_metadata, &c->dev);
	save_stream(_metadata, &c->dev, c->stream);	/* ... -> STOP_COPY -> RUNNING */
	expect_events_back(_metadata, &c->dev, "source");
}

/* ---- legacy uAPI ------------------------------------------------------- */

/* Migration does not depend on how the device was opened. */
TEST_F_TIMEOUT(mig_group, save_reset_restore, 120)
{
	struct mig_ctx *c = &self->c;
	struct migration m = { .src = &c->dev, .dst = &c->dev };

	drv_up(_metadata, c);
	exchange(_metadata, c, &c->drv, 4);
	migrate(_metadata, &m, c->buf);
	check_regs(_metadata, &m);
	exchange(_metadata, c, &c->drv, 8);
}

TEST_HARNESS_MAIN
