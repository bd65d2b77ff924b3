// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile guest against vfio_ixgbevf_mig's software dirty tracking. The
 * userspace VF driver programs RX rings the way no sane driver would while
 * DMA logging is on, and posts them through the trapped RX tail (RDT):
 *
 *  garbage_ring_base   RDBAL/RDBAH on an unmapped IOVA, and on an IOVA that
 *                      is mapped but outside every logged range
 *  garbage_buffers     a logged ring whose buffer addresses are null,
 *                      unmapped, unlogged, near 2^64, straddling a range end
 *                      or a page; a reserved descriptor type on top
 *  tail_out_of_range   RDT at or past the ring size, 0xffffffff, high bits,
 *                      RDH outside the ring
 *  max_ring_laps       the largest ring the walker takes, tails lapping the
 *                      head over and over: worst trap time, REPORT time
 *  refused_ring_runs   a ring length the walker refuses but the device runs
 *                      (the emulated igb keeps RDLEN 16-byte granular): the
 *                      driver must then report everything logged
 *  usable_after        a short version of the above, then an FLR, a correct
 *                      ring and real frames: every page written is reported
 *  long_write_across_rdt  a pwrite() from the mmapped page below (or from
 *                      RDH) running through RDT: EINVAL, nothing written
 *  wide_write_over_rdt 8- and 16-byte writes with RDT inside, 1-, 2- and
 *                      unaligned 4-byte writes to RDT: EINVAL, RDT unchanged
 *  ioeventfd_on_rdt    VFIO_DEVICE_IOEVENTFD touching the RX register page:
 *                      EINVAL; elsewhere in BAR0 the core's behaviour
 *  aligned_rdt_write   an aligned 32-bit write still goes through the trap
 *
 * The host driver must cope: every trapped write and every REPORT returns,
 * the debugfs counters (<debugfs>/vfio_ixgbevf_mig/<bdf>/stats) show the
 * skipped and refused work, a walk never reads more than the ring, and no
 * page the device may write is missing from a report. An RDT the walker
 * cannot place (outside the ring) is forwarded to the device as written,
 * counted in walks_refused, and makes every logged page dirty (dirty.rs:
 * trap_tail, pure/dirty/ring.rs: RxRing::walk_all).
 *
 * While the rings are garbage the queue stays disabled (RXDCTL.ENABLE off):
 * the walker reads the registers regardless, and the emulated device must
 * not DMA where the test points it.
 *
 * Environment (see rig/init.sh): VF_BDF, PEER_IF (usable_after and
 * refused_ring_runs; else SKIP), MIG_DRIVER: anything but vfio_ixgbevf_mig
 * (vfio-pci) SKIPs, as does a kernel without debugfs.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dirty_util.h"
#include "igbvf_drv.h"
#include "kselftest_harness.h"
#include "mig_util.h"
#include "vfio_util.h"

#define MIG_DRIVER_NAME	"vfio_ixgbevf_mig"
#define STATS_DIR	DSTATS_DIR

/* IOVA layout */
#define IOVA_DRV	0x10000000ull	/* igbvf_drv: TX ring, its RX ring, buffers */
#define IOVA_LOG	0x40000000ull	/* logged: [guard][ring area][buffers] */
#define LOG_SIZE	(8ull << 20)
#define RING_OFF	(64ull << 10)	/* the guard: written by nothing but straddlers */
#define RING_AREA	(1ull << 20)	/* room for the largest ring */
#define BUF_OFF		(RING_OFF + RING_AREA)
#define BUF_PAGES	((LOG_SIZE - BUF_OFF) / DPAGE)
#define IOVA_RING	(IOVA_LOG + RING_OFF)
#define IOVA_BUF	(IOVA_LOG + BUF_OFF)
#define IOVA_UNLOG	0x80000000ull	/* mapped, never logged */
#define UNLOG_SIZE	(2ull << 20)
#define IOVA_DRX	0x50000000ull	/* usable_after: a correct ring (dirty_util) */
#define DRX_SIZE	(4ull << 20)
#define DRX_N		256
#define IOVA_HOLE	0xC0000000ull	/* nothing is ever mapped here */

/* What pure/dirty/ring.rs bounds a ring and a walk to. */
#define WALK_MAX_RING_LEN	0x000FFF80u	/* MAX_RING_LEN: RDLEN bits 19:7 */
#define WALK_MAX_DESCS		(WALK_MAX_RING_LEN / 16)	/* 65528 */
#define WALK_PER_CALL		8192u		/* MAX_WALK_DESCS */

#define SRRCTL_DROP_EN		IGBVF_SRRCTL_DROP_EN
#define SRRCTL_ONEBUF		0x02000000u
#define SRRCTL_1BUF_2K		(SRRCTL_DROP_EN | SRRCTL_ONEBUF | 2)
#define RXD_STAT_DD		0x1u

/*
 * Longest a single trapped RDT write may take, in the kernel (trap_max_ns)
 * and seen from userspace. The worst legal walk (65527 descriptors of the
 * largest ring) took 36-44 ms in the TCG rig VM on a 2-core host shared with
 * a CI run (max_ring_laps prints the figures); a vCPU descheduled by the
 * host inflates a wall-clock measurement, so the bound leaves a wide margin.
 * A walk that does not stop at the ring runs into it, one that loops into
 * the test timeout.
 */
#define TRAP_BOUND_NS		(1000ull * 1000 * 1000)
#define WRITE_BOUND_NS		(2000ull * 1000 * 1000)

/* ---- debugfs statistics --------------------------------------------------- */

enum {
	S_TAIL_WRITES, S_TRAP_WRITES, S_WALKED, S_SKIPPED, S_TRUNCATED, S_REFUSED,
	S_TRAP_MAX, S_TRAP_TOTAL, S_REPORTS, S_RESETS, NSTATS
};

static const char *const stat_names[NSTATS] = {
	"tail_writes", "trap_writes", "descs_walked", "descs_skipped", "walks_truncated",
	"walks_refused", "trap_max_ns", "trap_total_ns", "log_reports", "reset_count",
};

#define D(k)	((unsigned long long)(b[k] - a[k]))

/* ---- fixture ---------------------------------------------------------------- */

#define NR_MAX	3

FIXTURE(hostile) {
	struct vfio_dev dev;
	bool opened;
	struct igbvf vf;
	bool vf_up;
	struct vfio_dma_buf logm, unlogm;
	struct drx rx;
	bool rx_up;
	struct mig_peer peer;
	bool logging;
	unsigned int nr;
	struct dlog_range r[NR_MAX];
	struct pset rep[NR_MAX], truth[NR_MAX];
	uint64_t *bm;
	uint64_t rdt_writes, rdt_ns, rdt_max_ns;	/* RDT writes by the test */
	uint64_t reports, report_max_ns;		/* REPORT ioctls */
	uint32_t nonce, seq;
};

FIXTURE_VARIANT(hostile) {
	enum vfio_mode mode;
};

FIXTURE_VARIANT_ADD(hostile, cdev) {
	.mode = VFIO_MODE_CDEV_IOMMUFD,
};

FIXTURE_VARIANT_ADD(hostile, group) {
	.mode = VFIO_MODE_GROUP_CONTAINER,
};

FIXTURE_SETUP(hostile)
{
	const char *drv = getenv("MIG_DRIVER"), *bdf = getenv("VF_BDF");
	char path[256];
	int ret;

	self->peer.fd = -1;
	if (!drv || strcmp(drv, MIG_DRIVER_NAME))
		SKIP(return, "MIG_DRIVER=%s: the hostile-guest checks need %s's DMA logging",
		     drv ?: "", MIG_DRIVER_NAME);
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	if (access(STATS_DIR, R_OK))
		SKIP(return, STATS_DIR ": %s (no debugfs)", strerror(errno));
	snprintf(path, sizeof(path), STATS_DIR "/%s/stats", bdf);
	ASSERT_EQ(0, access(path, R_OK)) TH_LOG("%s: %s", path, strerror(errno));
	ret = vfio_dev_open(&self->dev, bdf, variant->mode);
	ASSERT_EQ(0, ret) TH_LOG("open %s via %s: %s", bdf, vfio_mode_name(variant->mode),
				 vfio_errmsg());
	self->opened = true;
	ASSERT_EQ(1, dlog_probe(&self->dev)) TH_LOG("no DMA_LOGGING feature on %s", bdf);
	ret = igbvf_init(&self->vf, &self->dev, IOVA_DRV);
	self->vf_up = true;
	ASSERT_EQ(0, ret) TH_LOG("igbvf_init: %s", self->vf.err);
	ASSERT_EQ(0, vfio_dma_alloc(&self->dev, LOG_SIZE, IOVA_LOG, &self->logm))
		TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(0, vfio_dma_alloc(&self->dev, UNLOG_SIZE, IOVA_UNLOG, &self->unlogm))
		TH_LOG("%s", vfio_errmsg());
	self->r[0].iova = IOVA_DRV;
	self->r[0].length = (self->vf.mem.size + DPAGE - 1) / DPAGE * DPAGE;
	self->r[1].iova = IOVA_LOG;
	self->r[1].length = LOG_SIZE;
	self->nr = 2;
	self->bm = calloc(1, LOG_SIZE / DPAGE / 8 + 64);
	ASSERT_NE(NULL, self->bm);
	self->nonce = (uint32_t)now_ns() | 1;
}

FIXTURE_TEARDOWN(hostile)
{
	if (self->logging)
		dlog_stop(&self->dev);
	mig_peer_close(&self->peer);
	/* Stop DMA before the memory it targets goes away. */
	if (self->vf_up)
		igbvf_rings_disable(&self->vf);
	if (self->rx_up)
		drx_free(&self->rx);
	if (self->logm.va)
		vfio_dma_free(&self->dev, &self->logm);
	if (self->unlogm.va)
		vfio_dma_free(&self->dev, &self->unlogm);
	if (self->vf_up)
		igbvf_fini(&self->vf);
	for (int i = 0; i < NR_MAX; i++) {
		pset_free(&self->rep[i]);
		pset_free(&self->truth[i]);
	}
	free(self->bm);
	if (self->opened)
		vfio_dev_close(&self->dev);
}

/* ---- helpers ---------------------------------------------------------------- */

static void log_start(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	uint64_t ps = DPAGE;
	int ret;

	for (unsigned int i = 0; i < self->nr; i++) {
		pset_free(&self->rep[i]);
		pset_free(&self->truth[i]);
		ASSERT_EQ(0, pset_init(&self->rep[i], self->r[i].iova, self->r[i].length));
		ASSERT_EQ(0, pset_init(&self->truth[i], self->r[i].iova, self->r[i].length));
	}
	ret = dlog_start(&self->dev, &ps, self->r, self->nr);
	ASSERT_EQ(0, ret) TH_LOG("DMA_LOGGING_START: %s", strerror(-ret));
	ASSERT_EQ(DPAGE, ps);
	self->logging = true;
}

/* REPORT of every range into self->rep[]; each one must return 0. */
/*
 * The "may write" truth of these tests is every posted buffer. A report while
 * the device runs carries only what the device finished (the slot table,
 * docs/dirty-tracking.md); the rest is due at the latest in a report while the
 * device is quiesced, as at a migration's end. So every report() is followed by
 * one in RUNNING_P2P, OR-ed into rep[], and the device runs again.
 */
static void quiesced_report(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	ASSERT_EQ(0, vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL))
		TH_LOG("RUNNING_P2P: %s", vfio_errmsg());
	for (unsigned int i = 0; i < self->nr; i++) {
		uint64_t n = self->r[i].length / DPAGE;
		int ret;

		memset(self->bm, 0, n / 8 + 8);
		ret = dlog_report(&self->dev, self->r[i].iova, self->r[i].length, DPAGE,
				  self->bm);
		self->reports++;
		ASSERT_EQ(0, ret) TH_LOG("quiesced REPORT: %s", strerror(-ret));
		for (uint64_t p = 0; p < n; p++)
			self->rep[i].on[p] |= !!(self->bm[p / 64] & (1ull << (p % 64)));
	}
	ASSERT_EQ(0, vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_RUNNING, NULL))
		TH_LOG("RUNNING: %s", vfio_errmsg());
}

static void report(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	for (unsigned int i = 0; i < self->nr; i++) {
		uint64_t t0, dt;
		int ret;

		memset(self->bm, 0, self->r[i].length / DPAGE / 8 + 8);
		t0 = now_ns();
		ret = dlog_report(&self->dev, self->r[i].iova, self->r[i].length, DPAGE,
				  self->bm);
		dt = now_ns() - t0;
		self->reports++;
		if (dt > self->report_max_ns)
			self->report_max_ns = dt;
		ASSERT_EQ(0, ret) TH_LOG("REPORT [0x%llx, +0x%llx): %s",
					 (unsigned long long)self->r[i].iova,
					 (unsigned long long)self->r[i].length, strerror(-ret));
		pset_from_bitmap(&self->rep[i], self->bm);
	}
	quiesced_report(_metadata, self);
}

/* Ranges whose every page the last report() set. */
static unsigned int full_ranges(FIXTURE_DATA(hostile) *self)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < self->nr; i++)
		n += pset_count(&self->rep[i]) == self->rep[i].npages;
	return n;
}

/* Pages of truth[] missing from rep[] (logged, at most 8). */
static uint64_t missed(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
		       const char *what)
{
	uint64_t fn = 0, nt = 0, nr = 0;

	for (unsigned int i = 0; i < self->nr; i++) {
		for (uint64_t p = 0; p < self->truth[i].npages; p++) {
			nt += self->truth[i].on[p];
			nr += self->rep[i].on[p];
			if (self->truth[i].on[p] && !self->rep[i].on[p] && fn++ < 8)
				TH_LOG("%s: page 0x%llx may be written by the device, not reported",
				       what, (unsigned long long)(self->truth[i].iova + p * DPAGE));
		}
	}
	ksft_print_msg("%s: %llu pages the device may write, %llu reported, %llu missed\n",
		       what, (unsigned long long)nt, (unsigned long long)nr,
		       (unsigned long long)fn);
	return fn;
}

static void clear_truth(FIXTURE_DATA(hostile) *self)
{
	for (unsigned int i = 0; i < self->nr; i++)
		pset_clear(&self->truth[i]);
}

static void truth_mark(FIXTURE_DATA(hostile) *self, uint64_t iova, uint64_t len)
{
	for (unsigned int i = 0; i < self->nr; i++)
		pset_mark(&self->truth[i], iova, len);
}

/* A buffer the walker marks: bit 0 may be a flag, both readings count. */
static void truth_buf(FIXTURE_DATA(hostile) *self, uint64_t addr, uint64_t len)
{
	truth_mark(self, addr & ~1ull, len + (addr & 1));
}

static void snap(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
		 uint64_t v[NSTATS])
{
	char text[4096];
	int ret = dstats_read(self->dev.bdf, stat_names, NSTATS, v, text, sizeof(text));

	ASSERT_EQ(0, ret) TH_LOG(STATS_DIR "/%s/stats: %s", self->dev.bdf, strerror(-ret));
}

static void wr(FIXTURE_DATA(hostile) *self, uint64_t off, uint32_t v)
{
	vfio_bar0_write32(&self->dev, off, v);
}

static uint32_t rd(FIXTURE_DATA(hostile) *self, uint64_t off)
{
	return vfio_bar0_read32(&self->dev, off);
}

/* One trapped RDT write, timed; it must succeed whatever the value. */
static void rdt(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self, uint32_t v)
{
	uint64_t t0, dt;
	int ret;

	__sync_synchronize();
	t0 = now_ns();
	ret = vfio_bar0_write32_rw(&self->dev, IGBVF_RDT, v);
	dt = now_ns() - t0;
	ASSERT_EQ(0, ret) TH_LOG("RDT = 0x%x: %s", v, vfio_errmsg());
	self->rdt_writes++;
	self->rdt_ns += dt;
	if (dt > self->rdt_max_ns)
		self->rdt_max_ns = dt;
}

/*
 * Queue 0's RX ring registers, queue disabled, RDH = 0 (which makes the next
 * RDT write walk from the head).
 */
static void rx_prog(FIXTURE_DATA(hostile) *self, uint64_t base, uint32_t rdlen,
		    uint32_t srrctl)
{
	wr(self, IGBVF_RXDCTL, 0);
	wr(self, IGBVF_RDBAL, (uint32_t)base);
	wr(self, IGBVF_RDBAH, (uint32_t)(base >> 32));
	wr(self, IGBVF_RDLEN, rdlen);
	wr(self, IGBVF_SRRCTL, srrctl);
	wr(self, IGBVF_RDH, 0);
}

static volatile uint8_t *ring_va(FIXTURE_DATA(hostile) *self)
{
	return (volatile uint8_t *)self->logm.va + RING_OFF;
}

static void desc_put(volatile uint8_t *ring, unsigned int i, uint64_t pkt, uint64_t hdr)
{
	volatile uint64_t *d = (volatile uint64_t *)(ring + (uint64_t)i * 16);

	d[0] = htole64(pkt);
	d[1] = htole64(hdr);
}

/* Page k of the logged buffer area (wrapping), plus off. */
static uint64_t buf_iova(uint64_t k, uint64_t off)
{
	return IOVA_BUF + (k % BUF_PAGES) * DPAGE + off;
}

static size_t frame_len(uint32_t seq)
{
	return 60 + (seq * 397u) % (IGBVF_MAX_FRAME - 60 + 1);
}

static void send_frames(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
			unsigned int n)
{
	uint8_t f[IGBVF_MAX_FRAME];

	for (unsigned int i = 0; i < n; i++) {
		uint32_t seq = self->seq++;
		size_t len = frame_len(seq);
		int ret;

		mig_frame(f, len, self->vf.mac, self->peer.mac, 0, self->nonce, seq);
		ret = mig_peer_send(&self->peer, f, len);
		ASSERT_EQ(0, ret) TH_LOG("peer send: %s", strerror(-ret));
		if (i % 32 == 31)
			usleep(2000);
	}
}

static void peer_up(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	const char *peer_if = getenv("PEER_IF");
	int ret;

	ASSERT_TRUE(peer_if && *peer_if);
	ret = mig_peer_open(peer_if, &self->peer);
	ASSERT_EQ(0, ret) TH_LOG("peer %s: %s", peer_if, strerror(-ret));
	ASSERT_TRUE(igbvf_wait_link(&self->vf, IGBVF_WAIT_MS)) TH_LOG("VF link down");
}

/* ---- garbage ring bases ----------------------------------------------------- */

TEST_F_TIMEOUT(hostile, garbage_ring_base, 300)
{
	static const unsigned int steps[] = { 1, 7, 100, 1000, 4095, 2048, 4094, 3 };
	static const unsigned int steps2[] = { 1023, 5, 500, 300, 1000, 17, 2, 700 };
	const unsigned int n = 4096, n2 = 1024, writes = 64;
	volatile uint8_t *uring = self->unlogm.va;
	uint64_t a[NSTATS], b[NSTATS], posted = 0, outside = 0;
	unsigned int t = 0;

	log_start(_metadata, self);

	/* 1. The ring on an IOVA nothing is mapped at: every descriptor skipped. */
	snap(_metadata, self, a);
	rx_prog(self, IOVA_HOLE, n * 16, SRRCTL_1BUF_2K);
	for (unsigned int k = 0; k < writes; k++) {
		unsigned int nt = (t + steps[k % 8]) % n;

		rdt(_metadata, self, nt);
		posted += (nt + n - t) % n;
		t = nt;
	}
	report(_metadata, self);
	snap(_metadata, self, b);
	ksft_print_msg("unmapped ring base 0x%llx: %u RDT writes posted %llu descriptors; walked %llu, skipped %llu, truncated %llu, refused %llu\n",
		       IOVA_HOLE, writes, (unsigned long long)posted, D(S_WALKED), D(S_SKIPPED),
		       D(S_TRUNCATED), D(S_REFUSED));
	EXPECT_EQ(writes, D(S_TRAP_WRITES));
	EXPECT_LE(posted, D(S_WALKED));
	EXPECT_EQ(D(S_WALKED), D(S_SKIPPED)) TH_LOG("a descriptor of an unmapped ring was not skipped");
	EXPECT_EQ(0, D(S_REFUSED));
	EXPECT_EQ(0, D(S_TRUNCATED));

	/*
	 * 2. The ring mapped but outside every logged range; its even descriptors
	 * point into a logged range (reported), its odd ones outside (skipped).
	 */
	for (unsigned int i = 0; i < n2; i++)
		desc_put(uring, i, i % 2 ? IOVA_UNLOG + (64 << 10) + (uint64_t)i * 1024
					 : buf_iova(i / 2, 64), 0);
	clear_truth(self);
	snap(_metadata, self, a);
	rx_prog(self, IOVA_UNLOG, n2 * 16, SRRCTL_1BUF_2K);
	t = 0;
	posted = 0;
	for (unsigned int k = 0; k < 32; k++) {
		unsigned int nt = (t + steps2[k % 8]) % n2;

		for (unsigned int j = t; j != nt; j = (j + 1) % n2) {
			if (j % 2)
				outside++;
			else
				truth_mark(self, buf_iova(j / 2, 64), 2048);
			posted++;
		}
		rdt(_metadata, self, nt);
		t = nt;
	}
	report(_metadata, self);
	snap(_metadata, self, b);
	ksft_print_msg("unlogged ring base 0x%llx: 32 RDT writes posted %llu descriptors (%llu buffers outside the ranges); walked %llu, skipped %llu, refused %llu\n",
		       IOVA_UNLOG, (unsigned long long)posted, (unsigned long long)outside,
		       D(S_WALKED), D(S_SKIPPED), D(S_REFUSED));
	EXPECT_EQ(0, missed(_metadata, self, "buffers of an unlogged ring"));
	EXPECT_LE(posted, D(S_WALKED));
	EXPECT_LE(outside, D(S_SKIPPED));
	EXPECT_EQ(0, D(S_REFUSED));
	EXPECT_EQ(0, full_ranges(self)) TH_LOG("nothing here is a reason to mark everything");
}

/* ---- garbage buffer addresses ----------------------------------------------- */

struct gkind {
	const char *what;
	unsigned int skips;	/* walker skips (null, wrapping) + marks outside the ranges */
	bool in;		/* marks pages of the logged ranges */
};

enum { G_NULL, G_HOLE, G_UNLOG, G_NEAR_MAX, G_END_MAX, G_2_63, G_HIGH, G_STRADDLE_END,
       G_STRADDLE_START, G_STRADDLE_PAGE, G_NSE, G_GOOD, G_KINDS };

static const struct gkind gkinds[G_KINDS] = {
	[G_NULL] = { "null", 1, false },
	[G_HOLE] = { "unmapped", 1, false },
	[G_UNLOG] = { "mapped, not logged", 1, false },
	[G_NEAR_MAX] = { "2^64 - 0x100: wraps", 2, false },
	[G_END_MAX] = { "ends at 2^64", 2, false },
	[G_2_63] = { "2^63", 1, false },
	[G_HIGH] = { "0xdeadbeef in the high word", 1, false },
	[G_STRADDLE_END] = { "across the end of a logged range", 0, true },
	[G_STRADDLE_START] = { "across the start of a logged range", 0, true },
	[G_STRADDLE_PAGE] = { "across a page end", 0, true },
	[G_NSE] = { "bit 0 set", 0, true },
	[G_GOOD] = { "plain", 0, true },
};

/* Address of kind k for descriptor i. */
static uint64_t gaddr(unsigned int k, unsigned int i)
{
	switch (k) {
	case G_NULL:		return 0;
	case G_HOLE:		return IOVA_HOLE + (uint64_t)i * DPAGE;
	case G_UNLOG:		return IOVA_UNLOG + (uint64_t)i * 2048;
	case G_NEAR_MAX:	return ~0ull - 0x100 + 1 + (i & 0x7e);
	case G_END_MAX:		return 0ull - 2048;
	case G_2_63:		return 1ull << 63;
	case G_HIGH:		return 0xdeadbeef00000000ull | ((uint64_t)i << 12);
	case G_STRADDLE_END:	return IOVA_LOG + LOG_SIZE - 1024;
	case G_STRADDLE_START:	return IOVA_LOG - 1024;
	case G_STRADDLE_PAGE:	return buf_iova(100 + i, DPAGE - 1024);
	case G_NSE:		return buf_iova(300 + i, 128) | 1;
	default:		return buf_iova(500 + i, 0);
	}
}

TEST_F_TIMEOUT(hostile, garbage_buffers, 300)
{
	static const unsigned int tails[] = { 5, 17, 40, 63 };
	const unsigned int n = 64;
	volatile uint8_t *ring = ring_va(self);
	uint64_t a[NSTATS], b[NSTATS], skips = 0;
	uint32_t srrctl;
	int desctype;

	log_start(_metadata, self);

	/* 1. One-buffer descriptors, 2 KiB buffers: the packet address is garbage. */
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = i % G_KINDS;

		desc_put(ring, i, gaddr(k, i), 0);
		if (i < n - 1) {
			skips += gkinds[k].skips;
			if (gkinds[k].in)
				truth_buf(self, gaddr(k, i), 2048);
		}
	}
	snap(_metadata, self, a);
	rx_prog(self, IOVA_RING, n * 16, SRRCTL_1BUF_2K);
	for (unsigned int k = 0; k < 4; k++)
		rdt(_metadata, self, tails[k]);
	report(_metadata, self);
	snap(_metadata, self, b);
	ksft_print_msg("%u garbage buffer addresses of %u kinds: walked %llu, skipped %llu (at least %llu expected), refused %llu\n",
		       n - 1, G_KINDS, D(S_WALKED), D(S_SKIPPED), (unsigned long long)skips,
		       D(S_REFUSED));
	EXPECT_EQ(0, missed(_metadata, self, "one-buffer garbage"));
	EXPECT_LE(n - 1, D(S_WALKED));
	EXPECT_LE(skips, D(S_SKIPPED));
	EXPECT_EQ(0, D(S_REFUSED));
	EXPECT_EQ(0, full_ranges(self));

	/*
	 * 2. A reserved descriptor type (7) with zero buffer sizes: the walker
	 * takes both quadwords as buffers of the largest size (16 KiB); both
	 * are garbage of different kinds.
	 */
	clear_truth(self);
	srrctl = (7u << 25) | SRRCTL_DROP_EN;
	skips = 0;
	for (unsigned int i = 0; i < n; i++)
		desc_put(ring, i, gaddr(i % G_KINDS, i), gaddr((i + 5) % G_KINDS, i + 1000));
	snap(_metadata, self, a);
	rx_prog(self, IOVA_RING, n * 16, srrctl);
	desctype = (rd(self, IGBVF_SRRCTL) >> 25) & 7;
	ksft_print_msg("SRRCTL 0x%x reads back 0x%x (DESCTYPE %d)\n", srrctl,
		       rd(self, IGBVF_SRRCTL), desctype);
	for (unsigned int i = 0; i < n - 1; i++) {
		unsigned int kp = i % G_KINDS, kh = (i + 5) % G_KINDS;

		if (gkinds[kp].in)
			truth_buf(self, gaddr(kp, i), 1024);
		if (desctype == 7) {
			skips += gkinds[kp].skips + gkinds[kh].skips;
			if (gkinds[kh].in)
				truth_buf(self, gaddr(kh, i + 1000), 16384);
		} else {
			skips += gkinds[kp].skips;
		}
	}
	rdt(_metadata, self, n - 1);
	report(_metadata, self);
	snap(_metadata, self, b);
	ksft_print_msg("reserved descriptor type, both quadwords garbage: walked %llu, skipped %llu (at least %llu expected), refused %llu\n",
		       D(S_WALKED), D(S_SKIPPED), (unsigned long long)skips, D(S_REFUSED));
	EXPECT_EQ(0, missed(_metadata, self, "reserved-type garbage"));
	EXPECT_LE(n - 1, D(S_WALKED));
	EXPECT_LE(skips, D(S_SKIPPED));
	EXPECT_EQ(0, D(S_REFUSED));
}

/* ---- tails outside the ring ------------------------------------------------- */

/*
 * Documented (dirty.rs trap_tail, pure/dirty/ring.rs RxRing::walk): RDT is masked
 * with 0xffff like the hardware does; an index still outside the ring is
 * refused (walks_refused), every logged page becomes dirty, and the write is
 * forwarded to the device unchanged. The first write after it walks from that
 * unknown tail and is refused the same way; then the walk is back to normal.
 */
static void expect_all(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
		       const char *what)
{
	report(_metadata, self);
	EXPECT_EQ(self->nr, full_ranges(self)) TH_LOG("%s: not every logged page reported", what);
}

TEST_F_TIMEOUT(hostile, tail_out_of_range, 300)
{
	const unsigned int n = 64;
	volatile uint8_t *ring = ring_va(self);
	uint64_t a[NSTATS], b[NSTATS];
	uint32_t back;

	for (unsigned int i = 0; i < n; i++)
		desc_put(ring, i, buf_iova(i, 0), 0);
	log_start(_metadata, self);
	rx_prog(self, IOVA_RING, n * 16, SRRCTL_1BUF_2K);
	rdt(_metadata, self, 10);
	report(_metadata, self);
	EXPECT_EQ(0, full_ranges(self));

	/* RDT = n + 3: refused, forwarded as written, everything dirty. */
	snap(_metadata, self, a);
	rdt(_metadata, self, n + 3);
	snap(_metadata, self, b);
	back = rd(self, IGBVF_RDT);
	ksft_print_msg("RDT = %u on a ring of %u: walks refused +%llu, RDT reads back %u\n",
		       n + 3, n, D(S_REFUSED), back);
	EXPECT_EQ(1, D(S_REFUSED));
	EXPECT_EQ(n + 3, back) TH_LOG("the write was not forwarded as written");
	expect_all(_metadata, self, "RDT past the ring");
	/* From the tail outside the ring: refused as well. */
	snap(_metadata, self, a);
	rdt(_metadata, self, 20);
	snap(_metadata, self, b);
	EXPECT_EQ(1, D(S_REFUSED));
	expect_all(_metadata, self, "RDT back in the ring from outside");
	/* And back to normal: 20..30 walked, not everything dirty. */
	clear_truth(self);
	for (unsigned int i = 20; i < 30; i++)
		truth_mark(self, buf_iova(i, 0), 2048);
	snap(_metadata, self, a);
	rdt(_metadata, self, 30);
	report(_metadata, self);
	snap(_metadata, self, b);
	EXPECT_EQ(0, D(S_REFUSED));
	EXPECT_LE(10, D(S_WALKED));
	EXPECT_EQ(0, missed(_metadata, self, "RDT 20 -> 30"));
	EXPECT_GT(self->nr, full_ranges(self)) TH_LOG("still everything dirty after a sane walk");

	/* RDT = n exactly (one past the last index), then 0xffffffff. */
	snap(_metadata, self, a);
	rdt(_metadata, self, n);
	snap(_metadata, self, b);
	EXPECT_EQ(1, D(S_REFUSED));
	expect_all(_metadata, self, "RDT = ring size");
	snap(_metadata, self, a);
	rdt(_metadata, self, 0xffffffffu);
	snap(_metadata, self, b);
	ksft_print_msg("RDT = 0xffffffff: walks refused +%llu, RDT reads back 0x%x\n",
		       D(S_REFUSED), rd(self, IGBVF_RDT));
	EXPECT_LE(1, D(S_REFUSED));
	expect_all(_metadata, self, "RDT = 0xffffffff");

	/* RDH outside the ring: the next walk starts there, refused. */
	wr(self, IGBVF_RDH, n + 5);
	snap(_metadata, self, a);
	rdt(_metadata, self, 10);
	snap(_metadata, self, b);
	ksft_print_msg("RDH = %u (reads back %u), RDT = 10: walks refused +%llu\n", n + 5,
		       rd(self, IGBVF_RDH), D(S_REFUSED));
	EXPECT_LE(1, D(S_REFUSED));
	expect_all(_metadata, self, "RDH past the ring");

	/* High bits of RDT are ignored, as by the hardware: 0x1000c posts 0..12. */
	wr(self, IGBVF_RDH, 0);
	report(_metadata, self);
	clear_truth(self);
	for (unsigned int i = 0; i < 12; i++)
		truth_mark(self, buf_iova(i, 0), 2048);
	snap(_metadata, self, a);
	rdt(_metadata, self, 0x10000 | 12);
	report(_metadata, self);
	snap(_metadata, self, b);
	ksft_print_msg("RDT = 0x1000c: walked %llu, refused %llu, RDT reads back 0x%x\n",
		       D(S_WALKED), D(S_REFUSED), rd(self, IGBVF_RDT));
	EXPECT_EQ(0, D(S_REFUSED));
	EXPECT_LE(12, D(S_WALKED));
	EXPECT_EQ(0, missed(_metadata, self, "RDT with high bits"));
	EXPECT_GT(self->nr, full_ranges(self));
}

/* ---- the largest ring, tails lapping the head ---------------------------------- */

TEST_F_TIMEOUT(hostile, max_ring_laps, 600)
{
	const unsigned int n = WALK_MAX_DESCS, writes = 64;
	volatile uint8_t *ring = ring_va(self);
	uint64_t a[NSTATS], b[NSTATS], posted = 0, beyond = 0, reports0;
	uint32_t reg_max, bal, t = 0, rdh = 0;
	uint64_t burst;

	log_start(_metadata, self);

	/* What RDLEN and RDBAL hold when written all ones. */
	rx_prog(self, IOVA_RING, n * 16, SRRCTL_1BUF_2K);
	wr(self, IGBVF_RDLEN, 0xffffffffu);
	reg_max = rd(self, IGBVF_RDLEN);
	wr(self, IGBVF_RDBAL, (uint32_t)IOVA_RING | 0x7f);
	bal = rd(self, IGBVF_RDBAL);
	ksft_print_msg("RDLEN = 0xffffffff reads back 0x%x (%u descriptors); RDBAL = 0x%llx reads back 0x%x; the walker takes rings up to 0x%x bytes (%u descriptors), 128-byte aligned\n",
		       reg_max, reg_max / 16, (unsigned long long)(IOVA_RING | 0x7f), bal,
		       WALK_MAX_RING_LEN, WALK_MAX_DESCS);
	if (reg_max > WALK_MAX_RING_LEN || reg_max % 128 || bal % 128) {
		/* Registers the walker refuses: each tail write is counted, none walks. */
		snap(_metadata, self, a);
		for (unsigned int k = 0; k < 8; k++)
			rdt(_metadata, self, k * 8191);
		report(_metadata, self);
		snap(_metadata, self, b);
		ksft_print_msg("8 RDT writes on that ring: walked %llu, refused %llu\n",
			       D(S_WALKED), D(S_REFUSED));
		EXPECT_LE(8, D(S_REFUSED));
		EXPECT_EQ(0, D(S_WALKED));
	}

	/*
	 * The largest ring the walker takes, every descriptor mapped, buffers
	 * scattered over the logged range (every other one across a page end,
	 * every 16th unmapped).
	 */
	for (unsigned int i = 0; i < n; i++)
		desc_put(ring, i, i % 16 == 15 ? IOVA_HOLE + (uint64_t)i * 64
				  : buf_iova((uint64_t)i * 7, i % 2 ? 3072 : 0), 0);
	rx_prog(self, IOVA_RING, n * 16, SRRCTL_1BUF_2K);
	ASSERT_EQ(n * 16, rd(self, IGBVF_RDLEN));
	report(_metadata, self);
	reports0 = self->reports;
	self->rdt_writes = self->rdt_ns = self->rdt_max_ns = 0;
	self->report_max_ns = 0;
	snap(_metadata, self, a);
	burst = now_ns();
	for (unsigned int k = 0; k < writes; k++) {
		uint32_t nt;

		switch (k % 8) {
		case 0:	nt = (t + n - 1) % n; break;		/* lap: n - 1 posted */
		case 1:	nt = rdh; break;			/* tail = head */
		case 2:	nt = (t + n / 3) % n; break;		/* around the ring */
		case 3:	nt = n + (k / 8) % (0x10000 - n); beyond++; break; /* past the ring */
		case 4:	nt = (rdh + n - 1) % n; break;		/* head - 1 */
		case 5:	nt = 0xffff0000u | ((t + 1000) % n); break;	/* high bits */
		case 6:	nt = t; break;	/* same tail (after high bits: from the head) */
		default: nt = (t + n - 2) % n; break;		/* almost a lap */
		}
		rdt(_metadata, self, nt);
		if ((nt & 0xffff) < n && t < n)
			posted += ((nt & 0xffff) + n - t) % n;
		t = nt & 0xffff;
		if (k % 8 == 7)
			report(_metadata, self);
	}
	burst = now_ns() - burst;
	snap(_metadata, self, b);
	ksft_print_msg("ring of %u descriptors (RDLEN 0x%x), %u RDT writes lapping the head in %llu ms (with %llu REPORTs):\n",
		       n, n * 16, writes, (unsigned long long)(burst / 1000000),
		       (unsigned long long)(self->reports - reports0));
	ksft_print_msg("  worst trap: %llu ns (trap_max_ns, device lifetime), mean trap %llu ns\n",
		       (unsigned long long)b[S_TRAP_MAX],
		       D(S_TRAP_WRITES) ? D(S_TRAP_TOTAL) / D(S_TRAP_WRITES) : 0);
	ksft_print_msg("  per tail write from userspace: mean %llu ns, worst %llu ns\n",
		       (unsigned long long)(self->rdt_ns / writes),
		       (unsigned long long)self->rdt_max_ns);
	ksft_print_msg("  descriptors walked %llu (about %llu posted), skipped %llu; walks truncated %llu, refused %llu\n",
		       D(S_WALKED), (unsigned long long)posted, D(S_SKIPPED), D(S_TRUNCATED),
		       D(S_REFUSED));
	ksft_print_msg("  %llu REPORT ioctls, all returned; worst %llu ns\n",
		       (unsigned long long)(self->reports - reports0),
		       (unsigned long long)self->report_max_ns);
	EXPECT_EQ(writes, D(S_TRAP_WRITES));
	EXPECT_LE(1, D(S_TRUNCATED)) TH_LOG("walks of %u descriptors must be cut at %u", n - 1,
					    WALK_PER_CALL);
	EXPECT_LE(beyond, D(S_REFUSED));
	/* Past the ring, and the next write from there: refused both. */
	EXPECT_LE(2 * beyond, D(S_REFUSED));
	/* A walk never reads more than the ring: per trap, and per report queue. */
	EXPECT_GE((uint64_t)(writes + self->reports - reports0) * (n - 1), D(S_WALKED));
	EXPECT_GT(TRAP_BOUND_NS, b[S_TRAP_MAX]) TH_LOG("a trapped tail write took %llu ns",
						       (unsigned long long)b[S_TRAP_MAX]);
	EXPECT_GT(WRITE_BOUND_NS, self->rdt_max_ns);
	EXPECT_LE(b[S_TRAP_MAX], b[S_TRAP_TOTAL]);
}

/* ---- a ring length the walker refuses ------------------------------------------ */

/*
 * RDLEN must be a multiple of 128 bytes; the walker refuses any other value
 * (walks_refused). QEMU's igb keeps RDLEN (and RDBAL) 16-byte granular and
 * runs such a ring, so the driver cannot know what the device writes and must
 * mark everything logged (found by this test: it used to mark nothing). Only
 * the guest's own migration is at stake: no sane driver programs this.
 */
TEST_F_TIMEOUT(hostile, refused_ring_runs, 300)
{
	const unsigned int n = 255, post = 200, frames = 60;
	volatile uint8_t *ring = ring_va(self);
	uint64_t a[NSTATS], b[NSTATS], got = 0, fn;
	uint32_t len_back;
	unsigned int next = 0;
	uint64_t end;

	if (!getenv("PEER_IF") || !*getenv("PEER_IF"))
		SKIP(return, "PEER_IF not set: no traffic peer");
	peer_up(_metadata, self);
	log_start(_metadata, self);
	for (unsigned int i = 0; i < n; i++)
		desc_put(ring, i, buf_iova(i, 0), 0);
	rx_prog(self, IOVA_RING, n * 16, SRRCTL_1BUF_2K);
	len_back = rd(self, IGBVF_RDLEN);
	if (len_back % 128)
		ksft_print_msg("RDLEN = 0x%x reads back 0x%x: the device keeps a length the walker refuses\n",
			       n * 16, len_back);
	else
		SKIP(return, "RDLEN = 0x%x reads back 0x%x: the device rounds it like the hardware",
		     n * 16, len_back);
	wr(self, IGBVF_RDT, 0);
	wr(self, IGBVF_RXDCTL, IGBVF_QUEUE_ENABLE);
	snap(_metadata, self, a);
	rdt(_metadata, self, post);
	report(_metadata, self);	/* before any frame: only what is owned now */
	clear_truth(self);
	send_frames(_metadata, self, frames);
	end = now_ms() + IGBVF_WAIT_MS;
	while (next < post && now_ms() < end) {
		volatile uint8_t *d = ring + (uint64_t)next * 16;
		uint32_t st = le32toh(*(volatile uint32_t *)(d + 8));
		uint16_t len;

		if (!(st & RXD_STAT_DD)) {
			usleep(500);
			continue;
		}
		__sync_synchronize();
		len = le16toh(*(volatile uint16_t *)(d + 12));
		truth_mark(self, IOVA_RING + (uint64_t)next * 16, 16);
		truth_mark(self, buf_iova(next, 0), len ? len : 1);
		next++;
		got++;
		if (got == frames)
			break;
	}
	usleep(20000);
	wr(self, IGBVF_RXDCTL, 0);
	report(_metadata, self);
	snap(_metadata, self, b);
	ksft_print_msg("ring of RDLEN 0x%x: %llu frames received, walks refused +%llu, descriptors walked +%llu\n",
		       len_back, (unsigned long long)got, D(S_REFUSED), D(S_WALKED));
	EXPECT_LE(1, D(S_REFUSED));
	fn = got ? missed(_metadata, self, "ring the walker refuses") : 0;
	EXPECT_EQ(0, fn) TH_LOG("%llu pages written by the device through a ring of RDLEN 0x%x not reported",
				(unsigned long long)fn, len_back);
}

/* ---- still usable afterwards ------------------------------------------------------ */

/*
 * n frames from the peer into the correct ring (dirty_util's drx), every page
 * they write recorded as ground truth; a few may be dropped under TCG.
 */
static void drx_frames(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
		       unsigned int n)
{
	uint64_t want = self->rx.frames + n;
	int ret;

	send_frames(_metadata, self, n);
	ret = drx_wait(&self->rx, &self->truth[2], want, IGBVF_WAIT_MS, true);
	if (ret == -ETIMEDOUT)
		ksft_print_msg("got %llu of %llu frames (some dropped)\n",
			       (unsigned long long)self->rx.frames, (unsigned long long)want);
	else
		ASSERT_EQ(0, ret) TH_LOG("%s", self->rx.err);
	usleep(20000);
	ASSERT_LE(0, drx_poll(&self->rx, &self->truth[2], DRX_N, true)) TH_LOG("%s", self->rx.err);
}

TEST_F_TIMEOUT(hostile, usable_after, 600)
{
	const unsigned int n = WALK_MAX_DESCS;
	volatile uint8_t *ring = ring_va(self);
	uint64_t a[NSTATS], b[NSTATS];
	int ret;

	if (!getenv("PEER_IF") || !*getenv("PEER_IF"))
		SKIP(return, "PEER_IF not set: no traffic peer");
	ret = drx_alloc(&self->rx, &self->vf, IOVA_DRX, DRX_SIZE, DRX_N, 30, self->nonce);
	self->rx_up = true;
	ASSERT_EQ(0, ret) TH_LOG("%s", self->rx.err);
	self->r[2].iova = IOVA_DRX;
	self->r[2].length = DRX_SIZE;
	self->nr = 3;
	log_start(_metadata, self);
	snap(_metadata, self, a);

	/* The hostility, short: unmapped base, garbage buffers, laps, bad tails. */
	rx_prog(self, IOVA_HOLE, n * 16, SRRCTL_1BUF_2K);
	rdt(_metadata, self, n - 1);
	rdt(_metadata, self, n / 2);
	rdt(_metadata, self, n + 1);
	for (unsigned int i = 0; i < n; i++)
		desc_put(ring, i, gaddr(i % G_KINDS, i), gaddr((i + 3) % G_KINDS, i));
	rx_prog(self, IOVA_RING, n * 16, (7u << 25));
	rdt(_metadata, self, n - 1);
	rdt(_metadata, self, 0);
	rdt(_metadata, self, n - 2);
	rdt(_metadata, self, 0xffffffffu);
	wr(self, IGBVF_RDLEN, 0xffffffffu);
	rdt(_metadata, self, 5);
	report(_metadata, self);

	/* A reset and a re-init, as a guest driver would after a hang. */
	ASSERT_EQ(0, vfio_reset(&self->dev)) TH_LOG("VFIO_DEVICE_RESET: %s", vfio_errmsg());
	ASSERT_EQ(0, vfio_enable_bus_master(&self->dev)) TH_LOG("%s", vfio_errmsg());
	ret = igbvf_reset(&self->vf);
	ASSERT_EQ(0, ret) TH_LOG("igbvf_reset after the hostility: %s", self->vf.err);
	peer_up(_metadata, self);

	/* A correct ring, real frames: every page written must be reported. */
	report(_metadata, self);
	clear_truth(self);
	ASSERT_EQ(0, drx_setup(&self->rx, DRX_N - 1, false)) TH_LOG("%s", self->rx.err);
	drx_frames(_metadata, self, 150);
	ASSERT_LT(0, self->rx.frames) TH_LOG("no frame reached the VF after the hostility");
	report(_metadata, self);
	EXPECT_EQ(0, missed(_metadata, self, "after hostility and FLR"));

	/* A new logging session works the same. */
	ASSERT_EQ(0, dlog_stop(&self->dev));
	self->logging = false;
	log_start(_metadata, self);
	drx_frames(_metadata, self, 100);
	report(_metadata, self);
	EXPECT_EQ(0, missed(_metadata, self, "second session"));
	snap(_metadata, self, b);
	ksft_print_msg("%llu frames received after the hostility; resets +%llu, walks refused +%llu, descriptors walked +%llu, skipped +%llu\n",
		       (unsigned long long)self->rx.frames, D(S_RESETS), D(S_REFUSED),
		       D(S_WALKED), D(S_SKIPPED));
	EXPECT_LE(1, D(S_RESETS));
}

/* ---- writes that must not get past the RX tail trap ------------------------------ */

/*
 * The driver's contract (docs/dirty-tracking.md, "Closed bypasses"): a write()
 * to BAR0 that touches a page left out of the sparse mmap (queue 0's RX
 * registers, 0x2000) and is not exactly one aligned 32-bit register fails
 * with EINVAL and writes nothing, whether logging or not; an aligned 32-bit
 * write goes through the trap as before. VFIO_DEVICE_IOEVENTFD on such a page
 * fails with EINVAL: the write it arms would reach RDT without the trap.
 * Otherwise a guest (through QEMU) could move RDT without its buffers being
 * marked: a long write from the page below, a wide one with RDT inside, a
 * byte write, or an ioeventfd.
 */
/* igb: RX queues 0x2000, interrupts below; ixgbe: RX queues 0x1000, CTRL/mailbox/EITR below. */
#define TRAP_PAGE	((uint64_t)IGBVF_RDT & ~0xfffull)	/* RX queue registers: not mmapped */
#define BELOW_PAGE	(TRAP_PAGE - 0x1000)			/* mmapped */
/* EITR(0) (igb 0x1680, ixgbe VTEITR(0) 0x0820): a plain register of the page below. */
#define CANARY		(IGBVF_IS_IXGBE ? 0x0820ull : 0x1680ull)

/* The BAR0 layout these tests rely on (vfio_dirty_test region_info checks it). */
static void trap_layout(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	ASSERT_FALSE(vfio_bar0_is_mmapped(&self->dev, TRAP_PAGE))
		TH_LOG("BAR0+0x%llx is mmapped: nothing is trapped", TRAP_PAGE);
	ASSERT_FALSE(vfio_bar0_is_mmapped(&self->dev, IGBVF_RDT));
	ASSERT_TRUE(vfio_bar0_is_mmapped(&self->dev, BELOW_PAGE));
	ASSERT_TRUE(vfio_bar0_is_mmapped(&self->dev, TRAP_PAGE + DPAGE));
}

/* pwrite() on BAR0: bytes written or -errno. */
static ssize_t bar0_pwrite(FIXTURE_DATA(hostile) *self, uint64_t off, const void *buf,
			   size_t len)
{
	ssize_t n = pwrite(self->dev.device_fd, buf, len, self->dev.bar0.offset + off);

	return n < 0 ? -errno : n;
}

/* What the 32-bit registers of [off, off + len) read now (off, len 4-aligned). */
static void bar0_snapshot(FIXTURE_DATA(hostile) *self, uint64_t off, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t v = rd(self, off + i);

		memcpy(buf + i, &v, 4);
	}
}

/* An RDT value the ring accepts that differs from the current one. */
static uint32_t other_tail(FIXTURE_DATA(hostile) *self)
{
	return (rd(self, IGBVF_RDT) + 7) % IGBVF_RING_SIZE;
}

/*
 * A write that touches the trapped page and is not one aligned 32-bit
 * register: -EINVAL, RDT unchanged. buf holds what the registers hold except
 * for the bytes the case changes (RDT's, mostly). If it got through anyway,
 * RDT is put back so that the next case starts from the same ring.
 */
static void expect_refused(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self,
			   const char *what, uint64_t off, const void *buf, size_t len)
{
	static const char *const refused_name[] = { "writes_refused" };
	uint64_t ref0 = 0, ref1 = 0;
	uint32_t rdt0 = rd(self, IGBVF_RDT), rdt1;
	char text[4096];
	bool counted;
	ssize_t n;

	/* The refusals counter, where the driver has one (docs/dirty-tracking.md). */
	counted = !dstats_read(self->dev.bdf, refused_name, 1, &ref0, text, sizeof(text));
	n = bar0_pwrite(self, off, buf, len);
	rdt1 = rd(self, IGBVF_RDT);
	if (counted && !dstats_read(self->dev.bdf, refused_name, 1, &ref1, text, sizeof(text)))
		EXPECT_LT(ref0, ref1) TH_LOG("%s: writes_refused did not count it", what);
	ksft_print_msg("%s%s: %zu bytes at BAR0+0x%llx: %zd (%s), RDT 0x%x -> 0x%x\n",
		       self->logging ? "logging, " : "", what, len, (unsigned long long)off, n,
		       n < 0 ? strerror(-n) : "written", rdt0, rdt1);
	EXPECT_EQ(-EINVAL, n) TH_LOG("%s: pwrite of %zu bytes at BAR0+0x%llx returned %zd",
				     what, len, (unsigned long long)off, n);
	EXPECT_EQ(rdt0, rdt1) TH_LOG("%s: the write reached RDT past the trap (0x%x -> 0x%x)",
				     what, rdt0, rdt1);
	if (rdt1 != rdt0)
		rdt(_metadata, self, rdt0);
}

/*
 * Frames from the peer still reach igbvf_drv's ring (posted through the
 * trapped RDT), after an aligned 32-bit RDT write that must go through.
 */
static void still_usable(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	uint8_t f[IGBVF_BUF_SIZE];
	uint32_t t = rd(self, IGBVF_RDT);
	unsigned int got = 0, other = 0;
	const unsigned int n = 8;
	uint64_t end;

	ASSERT_EQ(0, vfio_bar0_write32_rw(&self->dev, IGBVF_RDT, t)) TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(t, rd(self, IGBVF_RDT));
	if (!getenv("PEER_IF") || !*getenv("PEER_IF")) {
		ksft_print_msg("PEER_IF not set: no frames to check the device with\n");
		return;
	}
	peer_up(_metadata, self);
	send_frames(_metadata, self, n);
	end = now_ms() + IGBVF_WAIT_MS;
	while (got < n && now_ms() < end) {
		int len = igbvf_rx(&self->vf, f, sizeof(f), 200);

		ASSERT_LE(0, len) TH_LOG("%s", self->vf.err);
		if (len && mig_frame_check(f, len, self->nonce) >= 0)
			got++;
		else if (len)
			other++;
	}
	ksft_print_msg("device still usable: %u of %u frames received (%u others), RDT %u\n",
		       got, n, other, rd(self, IGBVF_RDT));
	EXPECT_LE(n / 2, got) TH_LOG("the VF no longer receives");
}

/*
 * Proves: a write starting on the mmapped page below the RX registers (or
 * inside them) and running through RDT is refused as a whole. Such a write
 * never looked like a tail write (its first byte is elsewhere) and went to
 * the device unwalked. The canary, a register of the page below that holds
 * what is written to it, shows that no part of the write landed.
 */
TEST_F(hostile, long_write_across_rdt)
{
	const struct {
		const char *what;
		uint64_t from, to;
	} cases[] = {
		{ "from the last register of the page below through RDT", TRAP_PAGE - 4, IGBVF_RDT + 4 },
		{ "the whole page below and the RX registers through RDT", BELOW_PAGE, IGBVF_RDT + 4 },
		{ "64 bytes from RDH through RDT and RXDCTL", IGBVF_RDH, IGBVF_RDH + 64 },
		{ "across the end of the trapped page (no RDT)", TRAP_PAGE + 0xff0, TRAP_PAGE + 0x1010 },
	};
	static uint8_t buf[2 * 4096];
	uint32_t c0, c1, flip = 0x100;
	bool canary;

	trap_layout(_metadata, self);
	c0 = rd(self, CANARY);
	wr(self, CANARY, c0 ^ flip);
	canary = rd(self, CANARY) == (c0 ^ flip);
	wr(self, CANARY, c0);
	ksft_print_msg("canary BAR0+0x%llx: 0x%x, %s\n", CANARY, c0,
		       canary ? "holds what is written" : "does not hold a changed value: not checked");
	for (int logging = 0; logging < 2; logging++) {
		if (logging)
			log_start(_metadata, self);
		for (unsigned int k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			uint64_t from = cases[k].from, len = cases[k].to - from;
			uint32_t t = other_tail(self);

			ASSERT_GE(sizeof(buf), len);
			bar0_snapshot(self, from, buf, len);
			if (IGBVF_RDT >= from && IGBVF_RDT < cases[k].to)
				memcpy(buf + (IGBVF_RDT - from), &t, 4);
			if (canary && CANARY >= from && CANARY < cases[k].to)
				memcpy(buf + (CANARY - from), &(uint32_t){ c0 ^ flip }, 4);
			expect_refused(_metadata, self, cases[k].what, from, buf, len);
			if (canary) {
				c1 = rd(self, CANARY);
				EXPECT_EQ(c0, c1) TH_LOG("%s: part of the write landed (canary 0x%x -> 0x%x)",
							 cases[k].what, c0, c1);
				if (c1 != c0)
					wr(self, CANARY, c0);
			}
		}
	}
	still_usable(_metadata, self);
}

/*
 * Proves: 8- and 16-byte writes with RDT inside (at either end or in the
 * middle, where neither the first nor the last byte is RDT's), and 1-, 2-
 * and unaligned 4-byte writes touching RDT are refused and leave RDT as it
 * was; before, they reached the device (a 16-byte write without any walk).
 */
TEST_F(hostile, wide_write_over_rdt)
{
	uint8_t buf[16];

	trap_layout(_metadata, self);
	for (int logging = 0; logging < 2; logging++) {
		uint32_t t;

		if (logging)
			log_start(_metadata, self);

		t = other_tail(self);
		bar0_snapshot(self, IGBVF_RDT, buf, 8);
		memcpy(buf, &t, 4);
		expect_refused(_metadata, self, "8 bytes: RDT and the next register", IGBVF_RDT,
			       buf, 8);

		t = other_tail(self);
		bar0_snapshot(self, IGBVF_RDT - 4, buf, 8);
		memcpy(buf + 4, &t, 4);
		expect_refused(_metadata, self, "8 bytes: the register before and RDT",
			       IGBVF_RDT - 4, buf, 8);

		t = other_tail(self);
		bar0_snapshot(self, IGBVF_RDH, buf, 16);
		memcpy(buf + 8, &t, 4);
		expect_refused(_metadata, self, "16 bytes: RDH, RDH + 4, RDT, RDT + 4", IGBVF_RDH,
			       buf, 16);

		t = other_tail(self);
		memcpy(buf, &t, 2);
		expect_refused(_metadata, self, "2 bytes: RDT's low half", IGBVF_RDT, buf, 2);
		buf[0] = 1;
		buf[1] = 0;
		expect_refused(_metadata, self, "2 bytes: RDT's high half", IGBVF_RDT + 2, buf, 2);

		buf[0] = (uint8_t)other_tail(self);
		expect_refused(_metadata, self, "1 byte: RDT's low byte", IGBVF_RDT, buf, 1);
		buf[0] = 1;
		expect_refused(_metadata, self, "1 byte: RDT's second byte", IGBVF_RDT + 1, buf, 1);
		buf[0] = 0xff;
		expect_refused(_metadata, self, "1 byte: RDT's top byte", IGBVF_RDT + 3, buf, 1);

		t = other_tail(self);
		bar0_snapshot(self, IGBVF_RDT - 4, buf, 12);
		memcpy(buf + 4, &t, 3);
		expect_refused(_metadata, self, "4 bytes, unaligned: the byte before RDT and 3 of RDT",
			       IGBVF_RDT - 1, buf + 3, 4);
		bar0_snapshot(self, IGBVF_RDT, buf, 8);
		buf[2] = 1;
		expect_refused(_metadata, self, "4 bytes, unaligned: RDT's high half and the next",
			       IGBVF_RDT + 2, buf + 2, 4);
	}
	still_usable(_metadata, self);
}

static int ioeventfd(FIXTURE_DATA(hostile) *self, uint64_t off, uint32_t size, uint64_t data,
		     int fd)
{
	struct vfio_device_ioeventfd e = {
		.argsz = sizeof(e),
		.flags = size,	/* VFIO_DEVICE_IOEVENTFD_{8,16,32,64} are 1, 2, 4, 8 */
		.offset = self->dev.bar0.offset + off,
		.data = data,
		.fd = fd,
	};

	return ioctl(self->dev.device_fd, VFIO_DEVICE_IOEVENTFD, &e) ? -errno : 0;
}

/* Signals efd and waits (bounded) for the 32-bit register at off to read want. */
static uint32_t kick_and_read(FIXTURE_DATA(hostile) *self, int efd, uint64_t off, uint32_t want)
{
	uint64_t one = 1, end = now_ms() + 1000;
	uint32_t v;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		return rd(self, off);
	do {
		v = rd(self, off);
		if (v == want)
			break;
		usleep(1000);
	} while (now_ms() < end);
	return v;
}

/*
 * Proves: VFIO_DEVICE_IOEVENTFD whose [offset, offset + size) touches the
 * trapped page is refused with EINVAL (an armed RDT ioeventfd lets KVM write
 * the tail with no trap); the same ioctl elsewhere in BAR0 does what the core
 * documents (drivers/vfio/pci/vfio_pci_rdwr.c vfio_pci_ioeventfd(): any BAR
 * offset outside the MSI-X table, sizes 1, 2, 4, 8; fd -1 removes it): it
 * succeeds, a signal writes the register, and it can be removed.
 */
TEST_F(hostile, ioeventfd_on_rdt)
{
	const struct {
		const char *what;
		uint64_t off;
		uint32_t size;
	} cases[] = {
		{ "RDT", IGBVF_RDT, 4 },
		{ "RDT, 8 bytes", IGBVF_RDT, 8 },
		{ "RDT, 2 bytes", IGBVF_RDT, 2 },
		{ "RDT's second byte", IGBVF_RDT + 1, 1 },
		{ "RDH (same page)", IGBVF_RDH, 4 },
		{ "RXDCTL (same page)", IGBVF_RXDCTL, 4 },
		{ "8 bytes from the page below into the trapped one", TRAP_PAGE - 4, 8 },
		{ "8 bytes from the trapped page into the next", TRAP_PAGE + 0xffc, 8 },
	};
	const uint32_t tdbal = 0x55aa5500;
	uint32_t t0, v, old;
	int efd, ret;

	trap_layout(_metadata, self);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd) TH_LOG("eventfd: %s", strerror(errno));
	for (int logging = 0; logging < 2; logging++) {
		if (logging)
			log_start(_metadata, self);
		for (unsigned int k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			uint32_t t = other_tail(self);

			t0 = rd(self, IGBVF_RDT);
			ret = ioeventfd(self, cases[k].off, cases[k].size, t, efd);
			ksft_print_msg("%sioeventfd on %s (BAR0+0x%llx, %u bytes): %d (%s)\n",
				       logging ? "logging, " : "", cases[k].what,
				       (unsigned long long)cases[k].off, cases[k].size, ret,
				       ret ? strerror(-ret) : "armed");
			EXPECT_EQ(-EINVAL, ret) TH_LOG("ioeventfd on %s: %d", cases[k].what, ret);
			if (ret)
				continue;
			if (cases[k].off == IGBVF_RDT && cases[k].size == 4) {
				v = kick_and_read(self, efd, IGBVF_RDT, t);
				ksft_print_msg("signalled: RDT 0x%x -> 0x%x, written without the trap\n",
					       t0, v);
				if (v != t0)
					rdt(_metadata, self, t0);
			}
			EXPECT_EQ(0, ioeventfd(self, cases[k].off, cases[k].size, t, -1));
		}

		/* An untrapped register (TX page, queue off): the core's behaviour. */
		wr(self, IGBVF_TXDCTL, 0);
		old = rd(self, IGBVF_TDBAL);
		ret = ioeventfd(self, IGBVF_TDBAL, 4, tdbal, efd);
		ksft_print_msg("%sioeventfd on TDBAL (mmapped page): %d (%s)\n",
			       logging ? "logging, " : "", ret, ret ? strerror(-ret) : "armed");
		EXPECT_EQ(0, ret) TH_LOG("ioeventfd on an untrapped register: %s", strerror(-ret));
		if (!ret) {
			v = kick_and_read(self, efd, IGBVF_TDBAL, tdbal);
			EXPECT_EQ(tdbal, v) TH_LOG("signalled ioeventfd did not write TDBAL (0x%x)", v);
			EXPECT_EQ(0, ioeventfd(self, IGBVF_TDBAL, 4, tdbal, -1));
			/* Removed: a second removal finds nothing. */
			EXPECT_EQ(-ENODEV, ioeventfd(self, IGBVF_TDBAL, 4, tdbal, -1));
		}
		wr(self, IGBVF_TDBAL, old);
	}
	close(efd);
	ASSERT_EQ(0, igbvf_rings_setup(&self->vf)) TH_LOG("%s", self->vf.err);
	still_usable(_metadata, self);
}

/*
 * Proves: aligned 32-bit writes to the trapped page keep working: RDT (each
 * one a trapped tail write while logging) and another RX register.
 */
TEST_F(hostile, aligned_rdt_write)
{
	uint64_t a[NSTATS], b[NSTATS];
	const uint32_t pat = 0x12345680;
	uint32_t t0, t, v;
	ssize_t n;

	trap_layout(_metadata, self);
	for (int logging = 0; logging < 2; logging++) {
		if (logging)
			log_start(_metadata, self);
		snap(_metadata, self, a);
		t0 = rd(self, IGBVF_RDT);
		t = other_tail(self);
		n = bar0_pwrite(self, IGBVF_RDT, &t, 4);
		EXPECT_EQ(4, n) TH_LOG("RDT = %u: %zd", t, n);
		EXPECT_EQ(t, rd(self, IGBVF_RDT));
		n = bar0_pwrite(self, IGBVF_RDT, &t0, 4);
		EXPECT_EQ(4, n);
		EXPECT_EQ(t0, rd(self, IGBVF_RDT));
		snap(_metadata, self, b);
		ksft_print_msg("%saligned RDT writes: tail_writes +%llu, trap_writes +%llu\n",
			       logging ? "logging, " : "", D(S_TAIL_WRITES), D(S_TRAP_WRITES));
		EXPECT_LE(2, D(S_TAIL_WRITES));
		if (logging)
			EXPECT_LE(2, D(S_TRAP_WRITES));
	}
	/* RDBAL, queue off: a plain register of the trapped page. */
	wr(self, IGBVF_RXDCTL, 0);
	n = bar0_pwrite(self, IGBVF_RDBAL, &pat, 4);
	EXPECT_EQ(4, n);
	v = rd(self, IGBVF_RDBAL);
	EXPECT_EQ(pat, v);
	ASSERT_EQ(0, igbvf_rings_setup(&self->vf)) TH_LOG("%s", self->vf.err);
	still_usable(_metadata, self);
}

TEST_HARNESS_MAIN
