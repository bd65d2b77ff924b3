// SPDX-License-Identifier: GPL-2.0
/*
 * The RX tail trap against DMA_LOGGING_REPORT, with the race windows widened.
 *
 * vfio_ixgbevf_mig's module parameter debug_race_delay_us makes the RX tail
 * trap sleep between walking (marking the posted buffers) and forwarding the
 * tail write to the device, and REPORT sleep after walking the descriptors
 * the device owns and between report-and-clear and marking those again. The
 * driver must hold the trap's walk and forward and REPORT's steps in one
 * critical section: then the sleeps only slow things down. If the trap
 * forwards outside it, a REPORT landing in the window reads the old tail,
 * reports and clears the buffers just marked and does not mark them again;
 * the device then fills them and no later report has them (a page lost to
 * the migration).
 *
 * report_under_traffic: DMA logging on one range holding an RX ring of ours
 * (dirty_util's drx, buffers scattered over 32 MiB); a reporter thread runs
 * REPORT in a loop, each REPORT followed by a burst of frames from the peer
 * NIC and a short random pause; the main thread consumes written-back
 * descriptors and posts their slots again at once (one trapped RDT write per
 * batch), with only a few buffers outstanding so that new buffers are filled
 * by the next burst. Ground truth: every descriptor written back names the
 * pages the device wrote (ring slot, buffer[0, len)) and the frame that
 * landed there (sequence number in the payload).
 *
 * The check, sound for any correct driver whatever the timing: the device
 * wrote a page at some time w after the frame was sent (t_send) and after the
 * RDT write posting the buffer began; a report that cleared the page after w
 * returned after w. So every written page must be in a report that returned
 * after max(t_send, post start) of its last write; a page never reported, or
 * reported only by reports that returned before, is a false negative. The
 * test prints pages written, reported (union of all reports), false
 * negatives (must be 0) and false positives.
 *
 * Environment (see rig/init.sh): VF_BDF, PEER_IF, MIG_DRIVER (anything but
 * vfio_ixgbevf_mig SKIPs, as does a module without debug_race_delay_us),
 * RACE_DELAY_US (default 5000), RACE_SECS (traffic per variant, default 12).
 * The parameter is set back to 0 at teardown.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirty_util.h"
#include "igbvf_drv.h"
#include "kselftest_harness.h"
#include "mig_util.h"
#include "vfio_util.h"

#define MIG_DRIVER_NAME	"vfio_ixgbevf_mig"
#define DELAY_PARAM	"/sys/module/vfio_ixgbevf_mig/parameters/debug_race_delay_us"
#define IOVA_DRV	0x10000000ull	/* igbvf_drv's rings (not logged) */
#define IOVA_BIG	0x40000000ull	/* our RX ring + scattered buffers (logged) */
#define BIG_SIZE	(32ull << 20)
#define BIG_PAGES	(BIG_SIZE / DPAGE)
#define RING_N		256
#define OUTSTANDING	8	/* buffers posted and not yet written back */
#define BURST		8	/* frames after each REPORT */
#define MAX_SEQ		(1u << 18)
#define MAX_WRITES	(1u << 18)

#define RXD_STAT_DD	0x1u
#define RXD_STAT_EOP	0x2u
#define RXD_ERR_MASK	IGBVF_RXD_ERR_MASK

static unsigned int env_uint(const char *name, unsigned int def)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned int)strtoul(v, NULL, 0) : def;
}

/* 0 or -errno. */
static int param_write(unsigned int v)
{
	char s[32];
	int fd = open(DELAY_PARAM, O_WRONLY | O_CLOEXEC), n, ret = 0;

	if (fd < 0)
		return -errno;
	n = snprintf(s, sizeof(s), "%u\n", v);
	if (write(fd, s, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

static long param_read(void)
{
	char s[32] = "";
	int fd = open(DELAY_PARAM, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, s, sizeof(s) - 1);
	close(fd);
	return n > 0 ? strtol(s, NULL, 10) : -EIO;
}

/* One buffer the device wrote: its pages and the earliest the write can be. */
struct dwrite {
	uint64_t first, last;	/* page indexes in the logged range */
	uint64_t ring;		/* page of its descriptor */
	uint64_t w_lo;		/* ns: write not before this */
};

FIXTURE(race) {
	struct vfio_dev dev;
	bool opened;
	struct igbvf vf;
	bool vf_up;
	struct drx rx;
	bool rx_up;
	struct mig_peer peer;
	bool logging;
	bool param_set;
	uint32_t nonce;
	unsigned int delay_us;

	/* Reporter thread <-> main thread. */
	pthread_t reporter;
	bool reporter_up;
	volatile int stop;
	int report_err;
	int send_err;
	uint64_t reports, report_ns, report_max_ns;
	uint32_t seq;			/* frames sent */
	uint64_t *t_send;		/* per seq: ns before the send */
	uint64_t *last_ret;		/* per page: ns after the last REPORT that had it */
	uint64_t *bm;

	/* Main thread. */
	uint64_t post_ns[RING_N];	/* per descriptor: ns before its RDT write */
	struct dwrite *writes;
	uint64_t nwrites, unknown_frames;
	uint64_t *need;			/* per page: max w_lo of its writes */
};

FIXTURE_VARIANT(race) {
	enum vfio_mode mode;
};

FIXTURE_VARIANT_ADD(race, cdev) {
	.mode = VFIO_MODE_CDEV_IOMMUFD,
};

FIXTURE_VARIANT_ADD(race, group) {
	.mode = VFIO_MODE_GROUP_CONTAINER,
};

FIXTURE_SETUP(race)
{
	const char *drv = getenv("MIG_DRIVER"), *bdf = getenv("VF_BDF");
	const char *peer_if = getenv("PEER_IF");
	int ret;

	self->peer.fd = -1;
	if (!drv || strcmp(drv, MIG_DRIVER_NAME))
		SKIP(return, "MIG_DRIVER=%s: the race needs %s's DMA logging", drv ?: "",
		     MIG_DRIVER_NAME);
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	if (!peer_if || !*peer_if)
		SKIP(return, "PEER_IF not set: no traffic peer");
	if (access(DELAY_PARAM, W_OK))
		SKIP(return, DELAY_PARAM ": %s (module without the debug knob)", strerror(errno));
	ret = vfio_dev_open(&self->dev, bdf, variant->mode);
	ASSERT_EQ(0, ret) TH_LOG("open %s via %s: %s", bdf, vfio_mode_name(variant->mode),
				 vfio_errmsg());
	self->opened = true;
	ASSERT_EQ(1, dlog_probe(&self->dev)) TH_LOG("no DMA_LOGGING feature on %s", bdf);
	self->nonce = (uint32_t)now_ns() | 1;
	ret = igbvf_init(&self->vf, &self->dev, IOVA_DRV);
	self->vf_up = true;
	ASSERT_EQ(0, ret) TH_LOG("igbvf_init: %s", self->vf.err);
	ret = drx_alloc(&self->rx, &self->vf, IOVA_BIG, BIG_SIZE, RING_N, 30, self->nonce);
	self->rx_up = true;
	ASSERT_EQ(0, ret) TH_LOG("%s", self->rx.err);
	ret = mig_peer_open(peer_if, &self->peer);
	ASSERT_EQ(0, ret) TH_LOG("peer %s: %s", peer_if, strerror(-ret));
	ASSERT_TRUE(igbvf_wait_link(&self->vf, IGBVF_WAIT_MS)) TH_LOG("VF link down");
	self->t_send = calloc(MAX_SEQ, sizeof(*self->t_send));
	self->last_ret = calloc(BIG_PAGES, sizeof(*self->last_ret));
	self->need = calloc(BIG_PAGES, sizeof(*self->need));
	self->writes = calloc(MAX_WRITES, sizeof(*self->writes));
	self->bm = calloc(1, BIG_PAGES / 8 + 64);
	ASSERT_TRUE(self->t_send && self->last_ret && self->need && self->writes && self->bm);
}

FIXTURE_TEARDOWN(race)
{
	if (self->reporter_up) {
		self->stop = 1;
		pthread_join(self->reporter, NULL);
	}
	if (self->param_set) {
		int ret = param_write(0);

		if (ret)
			TH_LOG("could not set " DELAY_PARAM " back to 0: %s", strerror(-ret));
	}
	dirty_fixture_teardown(&self->dev, self->opened, self->logging, &self->peer,
			       &self->vf, self->vf_up, &self->rx, self->rx_up);
	free(self->t_send);
	free(self->last_ret);
	free(self->need);
	free(self->writes);
	free(self->bm);
}

static size_t frame_len(uint32_t seq)
{
	return 60 + (seq * 397u) % (IGBVF_MAX_FRAME - 60 + 1);
}

/*
 * One REPORT of the whole range; each page in it gets the time the report
 * had returned by. 0 or -errno.
 */
static int report_once(FIXTURE_DATA(race) *self)
{
	uint64_t t0, t1;
	int ret;

	memset(self->bm, 0, BIG_PAGES / 8);
	t0 = now_ns();
	ret = dlog_report(&self->dev, IOVA_BIG, BIG_SIZE, DPAGE, self->bm);
	t1 = now_ns();
	if (ret)
		return ret;
	for (uint64_t p = 0; p < BIG_PAGES; p++)
		if (bm_test(self->bm, p))
			self->last_ret[p] = t1;
	self->reports++;
	self->report_ns += t1 - t0;
	if (t1 - t0 > self->report_max_ns)
		self->report_max_ns = t1 - t0;
	return 0;
}

/*
 * REPORT, then a burst of frames (sent after the REPORT returned: whatever
 * lands in a buffer that REPORT cleared without marking it again is lost
 * unless a later REPORT has it), then a pause of up to the delay so that the
 * next REPORT lands at every phase of the main thread's trapped writes.
 */
static void *reporter_fn(void *arg)
{
	FIXTURE_DATA(race) *self = arg;
	uint8_t f[IGBVF_MAX_FRAME];
	uint32_t rng = self->nonce;

	while (!self->stop) {
		int ret = report_once(self);

		if (ret) {
			self->report_err = ret;
			break;
		}
		for (unsigned int k = 0; k < BURST && self->seq < MAX_SEQ; k++) {
			uint32_t seq = self->seq;
			size_t len = frame_len(seq);

			mig_frame(f, len, self->vf.mac, self->peer.mac, 0, self->nonce, seq);
			__atomic_store_n(&self->t_send[seq], now_ns(), __ATOMIC_RELEASE);
			__atomic_store_n(&self->seq, seq + 1, __ATOMIC_RELEASE);
			ret = mig_peer_send(&self->peer, f, len);
			if (ret && !self->send_err)
				self->send_err = ret;
		}
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		usleep(rng % (self->delay_us + 1));
	}
	return NULL;
}

static void need_mark(FIXTURE_DATA(race) *self, uint64_t p, uint64_t w_lo)
{
	if (p < BIG_PAGES && self->need[p] < w_lo)
		self->need[p] = w_lo;
}

/*
 * Consumes written-back descriptors (as drx_poll), recording for each the
 * pages written and the earliest time the write can have happened; when
 * recycle, posts the slots again (one RDT write). Frames consumed or -errno.
 */
static int race_poll(struct __test_metadata *_metadata, FIXTURE_DATA(race) *self, bool recycle)
{
	struct drx *r = &self->rx;
	unsigned int got = 0;

	while (r->next != r->tail) {
		unsigned int i = r->next;
		volatile uint8_t *d = r->ring + (uint64_t)i * 16;
		uint32_t st = le32toh(*(volatile uint32_t *)(d + 8));
		uint64_t buf, w_lo;
		struct dwrite *w;
		uint16_t len;
		long seq;

		if (!(st & RXD_STAT_DD))
			break;
		__sync_synchronize();
		len = le16toh(*(volatile uint16_t *)(d + 12));
		if (!(st & RXD_STAT_EOP) || (st & RXD_ERR_MASK) || !len || len > DRX_BUF) {
			snprintf(r->err, sizeof(r->err), "RX desc %u: status 0x%x len %u", i, st,
				 len);
			return -EMSGSIZE;
		}
		buf = r->desc_buf[i];
		seq = mig_frame_check((uint8_t *)r->mem.va + (buf - r->ring_iova), len,
				      self->nonce);
		w_lo = self->post_ns[i];
		if (seq >= 0 && seq < __atomic_load_n(&self->seq, __ATOMIC_ACQUIRE)) {
			uint64_t ts = __atomic_load_n(&self->t_send[seq], __ATOMIC_ACQUIRE);

			if (ts > w_lo)
				w_lo = ts;
		} else {
			self->unknown_frames++;
		}
		if (self->nwrites < MAX_WRITES) {
			w = &self->writes[self->nwrites++];
			w->first = (buf - IOVA_BIG) / DPAGE;
			w->last = (buf + len - 1 - IOVA_BIG) / DPAGE;
			w->ring = (r->ring_iova + (uint64_t)i * 16 - IOVA_BIG) / DPAGE;
			w->w_lo = w_lo;
		}
		for (uint64_t p = (buf - IOVA_BIG) / DPAGE;
		     p <= (buf + len - 1 - IOVA_BIG) / DPAGE; p++)
			need_mark(self, p, w_lo);
		need_mark(self, (r->ring_iova + (uint64_t)i * 16 - IOVA_BIG) / DPAGE, w_lo);
		r->frames++;
		r->bytes += len;
		r->next = (i + 1) % r->n;
		got++;
	}
	if (recycle && got) {
		unsigned int from = r->tail, n;
		uint64_t t = now_ns();

		n = drx_post(r, got);
		for (unsigned int k = 0; k < n; k++)
			self->post_ns[(from + k) % r->n] = t;
	}
	return (int)got;
}

/*
 * Every page the device wrote while logging must be in a REPORT that
 * returned after the write (see the top of the file); the REPORT loop runs
 * against trapped RDT writes and real frames with debug_race_delay_us set.
 */
TEST_F_TIMEOUT(race, report_under_traffic, 240)
{
	unsigned int secs = env_uint("RACE_SECS", 12);
	uint64_t ps = DPAGE, end, rdt0, written = 0, reported = 0, never = 0, stale = 0;
	uint64_t fp = 0, lost_bufs = 0, frames0;
	struct dlog_range range = { IOVA_BIG, BIG_SIZE };
	long back;
	int ret;

	self->delay_us = env_uint("RACE_DELAY_US", 5000);
	ret = param_write(self->delay_us);
	ASSERT_EQ(0, ret) TH_LOG(DELAY_PARAM " = %u: %s", self->delay_us, strerror(-ret));
	self->param_set = true;
	back = param_read();
	ASSERT_EQ((long)self->delay_us, back);

	ret = dlog_start(&self->dev, &ps, &range, 1);
	ASSERT_EQ(0, ret) TH_LOG("DMA_LOGGING_START: %s", strerror(-ret));
	ASSERT_EQ(DPAGE, ps);
	self->logging = true;
	for (unsigned int i = 0; i < RING_N; i++)
		self->post_ns[i] = now_ns();
	ASSERT_EQ(0, drx_setup(&self->rx, OUTSTANDING, false)) TH_LOG("%s", self->rx.err);
	frames0 = self->rx.frames;
	rdt0 = self->rx.rdt_writes;

	ASSERT_EQ(0, pthread_create(&self->reporter, NULL, reporter_fn, self));
	self->reporter_up = true;
	end = now_ms() + secs * 1000ull;
	while (now_ms() < end && !self->report_err) {
		ret = race_poll(_metadata, self, true);
		if (ret < 0)
			break;
		if (!ret)
			usleep(100);
	}
	self->stop = 1;
	pthread_join(self->reporter, NULL);
	self->reporter_up = false;
	ASSERT_LE(0, ret) TH_LOG("%s", self->rx.err);
	ASSERT_EQ(0, self->report_err) TH_LOG("REPORT: %s", strerror(-self->report_err));

	/* Stragglers, then the queue off: nothing more is written after this. */
	usleep(100 * 1000);
	ASSERT_LE(0, race_poll(_metadata, self, false)) TH_LOG("%s", self->rx.err);
	vfio_bar0_write32(&self->dev, IGBVF_RXDCTL, 0);
	usleep(20 * 1000);
	ASSERT_LE(0, race_poll(_metadata, self, false)) TH_LOG("%s", self->rx.err);
	/* The final REPORT (QEMU's last one runs with the device stopped). */
	ASSERT_EQ(0, report_once(self));

	for (uint64_t p = 0; p < BIG_PAGES; p++) {
		written += self->need[p] != 0;
		reported += self->last_ret[p] != 0;
		if (self->need[p] && !self->last_ret[p])
			never++;
		else if (self->need[p] && self->last_ret[p] < self->need[p])
			stale++;
		if (!self->need[p] && self->last_ret[p])
			fp++;
		if (self->need[p] && self->last_ret[p] < self->need[p] && never + stale <= 8)
			TH_LOG("page 0x%llx written at >= %llu ns, last reported %s%llu ns",
			       (unsigned long long)(IOVA_BIG + p * DPAGE),
			       (unsigned long long)self->need[p],
			       self->last_ret[p] ? "at " : "never: ",
			       (unsigned long long)self->last_ret[p]);
	}
	for (uint64_t k = 0; k < self->nwrites; k++) {
		const struct dwrite *w = &self->writes[k];
		bool lost = self->last_ret[w->ring] < w->w_lo;

		for (uint64_t p = w->first; p <= w->last; p++)
			lost |= self->last_ret[p] < w->w_lo;
		lost_bufs += lost;
	}

	ksft_print_msg("%s: debug_race_delay_us=%u, %u s: %llu REPORTs (mean %llu us, max %llu us), %u frames sent, %llu received (%llu not ours), %llu RDT writes (mean %llu us)\n",
		       vfio_mode_name(variant->mode), self->delay_us, secs,
		       (unsigned long long)self->reports,
		       (unsigned long long)(self->reports ? self->report_ns / self->reports / 1000 : 0),
		       (unsigned long long)(self->report_max_ns / 1000), self->seq,
		       (unsigned long long)(self->rx.frames - frames0),
		       (unsigned long long)self->unknown_frames,
		       (unsigned long long)(self->rx.rdt_writes - rdt0),
		       (unsigned long long)(self->rx.rdt_writes - rdt0 ?
					    self->rx.rdt_ns / (self->rx.rdt_writes - rdt0) / 1000 : 0));
	ksft_print_msg("race: %llu pages written, %llu reported, %llu false negatives (%llu never reported, %llu reported only before their write), %llu false positives; %llu of %llu buffers written lost\n",
		       (unsigned long long)written, (unsigned long long)reported,
		       (unsigned long long)(never + stale), (unsigned long long)never,
		       (unsigned long long)stale, (unsigned long long)fp,
		       (unsigned long long)lost_bufs, (unsigned long long)self->nwrites);
	EXPECT_EQ(0, self->send_err) TH_LOG("peer send: %s", strerror(-self->send_err));
	EXPECT_LT(50, self->rx.frames - frames0) TH_LOG("too little traffic to mean much");
	EXPECT_EQ(0, never + stale) TH_LOG("%llu written pages not reported after their write",
					   (unsigned long long)(never + stale));
	EXPECT_EQ(0, lost_bufs);
}

TEST_HARNESS_MAIN
