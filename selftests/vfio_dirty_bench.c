// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of software DMA logging under the driver the VF is bound to now:
 *  - RX frames/s with logging off and on (peer floods, VF polls + recycles);
 *  - time per RX tail (RDT) write, logging off and on (the trap + walk);
 *  - REPORT time over a small range vs a 64 GiB range with the same buffers.
 * Not a test: prints figures (one TAP line says they were printed). VF_BDF and
 * PEER_IF from the environment. `make bench-dirty` runs it in the VM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirty_util.h"
#include "igbvf_drv.h"
#include "mig_util.h"
#include "vfio_util.h"

#define IOVA_DRV	0x10000000ull
#define IOVA_BIG	0x40000000ull
#define BIG_SIZE	(32ull << 20)
#define RING_N		512

static struct igbvf vf;
static struct mig_peer peer;
static volatile int stop_flood;
static volatile unsigned long flood_sent;

static void *flood(void *arg)
{
	uint8_t f[IGBVF_MAX_FRAME];
	uint32_t seq = 0;
	size_t len = (size_t)(uintptr_t)arg;

	(void)arg;
	while (!stop_flood) {
		mig_frame(f, len, vf.mac, peer.mac, 0, 0x5eed, seq++);
		if (!mig_peer_send(&peer, f, len))
			flood_sent++;
		else
			usleep(100);
	}
	return NULL;
}

static void rx_rate(struct drx *rx, const char *what, size_t len, unsigned int ms)
{
	uint64_t t0, t1, f0, w0, ns0;
	pthread_t th;

	stop_flood = 0;
	flood_sent = 0;
	drx_poll(rx, NULL, RING_N, true);
	pthread_create(&th, NULL, flood, (void *)(uintptr_t)len);
	usleep(50000);
	f0 = rx->frames;
	w0 = rx->rdt_writes;
	ns0 = rx->rdt_ns;
	t0 = now_ns();
	t1 = t0 + (uint64_t)ms * 1000000;
	while (now_ns() < t1) {
		int n = drx_poll(rx, NULL, RING_N, true);

		if (n < 0)
			break;
	}
	t1 = now_ns();
	stop_flood = 1;
	pthread_join(th, NULL);
	printf("  %-12s %5zu B frames: %8.0f frames/s (%llu in %.2f s, %lu sent), %llu RDT writes posting %.1f buffers each, %.1f us per RDT write\n",
	       what, len, (rx->frames - f0) * 1e9 / (t1 - t0),
	       (unsigned long long)(rx->frames - f0), (t1 - t0) / 1e9, flood_sent,
	       (unsigned long long)(rx->rdt_writes - w0),
	       rx->rdt_writes - w0 ? (double)(rx->frames - f0) / (rx->rdt_writes - w0) : 0.0,
	       rx->rdt_writes - w0 ? (rx->rdt_ns - ns0) / 1e3 / (rx->rdt_writes - w0) : 0.0);
	usleep(100000);
	drx_poll(rx, NULL, RING_N, true);
}

/* Time per RDT write of the same value (nothing new to walk) vs an mmapped register. */
static void rdt_cost(struct vfio_dev *d, struct drx *rx, const char *what)
{
	const unsigned int n = 2000;
	uint64_t t0, same, mm = 0;
	uint32_t tail = rx->tail;

	t0 = now_ns();
	for (unsigned int i = 0; i < n; i++)
		vfio_bar0_write32(d, IGBVF_RDT, tail);
	same = now_ns() - t0;
	/* A non-trapped register for comparison (mmap): TX tail, unchanged. */
	t0 = now_ns();
	for (unsigned int i = 0; i < n; i++)
		vfio_bar0_write32(d, IGBVF_TDT, vfio_bar0_read32(d, IGBVF_TDT));
	mm = now_ns() - t0;
	printf("  %-12s RDT write, same tail (%s): %.2f us; TDT read+write (mmap): %.2f us\n",
	       what, vfio_bar0_is_mmapped(d, IGBVF_RDT) ? "mmap" : "pwrite, trapped",
	       same / 1e3 / n, mm / 1e3 / n);
}

static void report_cost(struct vfio_dev *d, const char *what, uint64_t iova,
			uint64_t len, unsigned int reps)
{
	size_t bmlen = len / DPAGE / 8 + 8;
	uint64_t *bm = calloc(1, bmlen), t0, best = ~0ull, sum = 0, set = 0;

	if (!bm) {
		printf("  %s: no memory for a %zu byte bitmap\n", what, bmlen);
		return;
	}
	for (unsigned int i = 0; i < reps; i++) {
		int ret;

		t0 = now_ns();
		ret = dlog_report(d, iova, len, DPAGE, bm);
		t0 = now_ns() - t0;
		if (ret) {
			printf("  %s: REPORT failed: %s\n", what, strerror(-ret));
			free(bm);
			return;
		}
		sum += t0;
		if (t0 < best)
			best = t0;
	}
	for (size_t i = 0; i < bmlen / 8; i++)
		set += __builtin_popcountll(bm[i]);
	printf("  REPORT %-28s %9.3f ms best, %9.3f ms mean (%u reps), %llu pages set in the last\n",
	       what, best / 1e6, sum / 1e6 / reps, reps, (unsigned long long)set);
	free(bm);
}

int main(void)
{
	const char *bdf = getenv("VF_BDF"), *peer_if = getenv("PEER_IF");
	const char *drvname = getenv("MIG_DRIVER");
	struct dlog_range small[2], huge;
	struct vfio_dev dev;
	struct drx rx;
	uint64_t ps;
	int ret, logging;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..1\n");
	if (!bdf || !peer_if) {
		printf("vfio_dirty_bench: VF_BDF and PEER_IF needed\n");
		return 4;
	}
	ret = vfio_dev_open(&dev, bdf, VFIO_MODE_CDEV_IOMMUFD);
	if (ret) {
		printf("open %s: %s\n", bdf, vfio_errmsg());
		return 1;
	}
	logging = dlog_probe(&dev);
	printf("vfio_dirty_bench: %s under %s, DMA logging %s, RX tail page %s\n", bdf,
	       drvname ?: "?", logging == 1 ? "offered" : "absent",
	       vfio_bar0_is_mmapped(&dev, IGBVF_RDT) ? "mmapped" : "trapped");
	if (igbvf_init(&vf, &dev, IOVA_DRV) || !igbvf_wait_link(&vf, IGBVF_WAIT_MS)) {
		printf("igbvf_init: %s\n", vf.err);
		return 1;
	}
	if (drx_alloc(&rx, &vf, IOVA_BIG, BIG_SIZE, RING_N, 30, 1234) ||
	    drx_setup(&rx, RING_N - 1, false)) {
		printf("rx: %s\n", rx.err);
		return 1;
	}
	ret = mig_peer_open(peer_if, &peer);
	if (ret) {
		printf("peer: %s\n", strerror(-ret));
		return 1;
	}
	small[0] = (struct dlog_range){ IOVA_DRV, (vf.mem.size + DPAGE - 1) / DPAGE * DPAGE };
	small[1] = (struct dlog_range){ IOVA_BIG, BIG_SIZE };
	huge = (struct dlog_range){ 0, 64ull << 30 };

	printf("logging off:\n");
	rdt_cost(&dev, &rx, "off");
	rx_rate(&rx, "off", 1514, 2000);
	rx_rate(&rx, "off", 64, 2000);
	if (logging != 1) {
		printf("ok 1 # SKIP no DMA logging under this driver: nothing more to measure\n");
		return 0;
	}
	ps = DPAGE;
	ret = dlog_start(&dev, &ps, small, 2);
	if (ret) {
		printf("START: %s\n", strerror(-ret));
		return 1;
	}
	printf("logging on (ranges: 0x%llx +%llu KiB, 0x%llx +%llu MiB):\n",
	       (unsigned long long)small[0].iova, (unsigned long long)small[0].length >> 10,
	       (unsigned long long)small[1].iova, (unsigned long long)small[1].length >> 20);
	rdt_cost(&dev, &rx, "on");
	rx_rate(&rx, "on", 1514, 2000);
	rx_rate(&rx, "on", 64, 2000);
	report_cost(&dev, "32 MiB range (after RX)", IOVA_BIG, BIG_SIZE, 1);
	report_cost(&dev, "32 MiB range (idle)", IOVA_BIG, BIG_SIZE, 20);
	report_cost(&dev, "264 KiB range (idle)", small[0].iova, small[0].length, 20);
	dlog_stop(&dev);
	ps = DPAGE;
	ret = dlog_start(&dev, &ps, &huge, 1);
	if (ret) {
		printf("START 64 GiB: %s\n", strerror(-ret));
		return 1;
	}
	printf("logging on (range: 0 +64 GiB, buffers inside):\n");
	rx_rate(&rx, "on, 64 GiB", 1514, 1000);
	report_cost(&dev, "64 GiB range (after RX)", 0, 64ull << 30, 1);
	report_cost(&dev, "64 GiB range (idle)", 0, 64ull << 30, 5);
	report_cost(&dev, "32 MiB window of it (idle)", IOVA_BIG, BIG_SIZE, 20);
	dlog_stop(&dev);
	mig_peer_close(&peer);
	igbvf_rings_disable(&vf);
	drx_free(&rx);
	igbvf_fini(&vf);
	vfio_dev_close(&dev);
	printf("ok 1 - vfio_dirty_bench: figures printed\n");
	return 0;
}
