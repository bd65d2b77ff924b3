// SPDX-License-Identifier: GPL-2.0
/*
 * Migration numbers for an 82576 VF under vfio_ixgbevf_mig:
 *   1. stop-copy state size (bytes read in STOP_COPY, MIG_DATA_SIZE);
 *   2. RUNNING -> STOP_COPY + reading the whole stream (median of N);
 *   3. writing the stream in RESUMING + RESUMING -> RUNNING (median of N);
 *   4. frames lost by a VF0 -> VF1 migration while the peer sends at a fixed
 *      rate, and the stop window (source quiesced -> destination RUNNING).
 * Not a *_test: the rig copies it to /tests but does not run it unasked;
 * run it with rig/run-vm.sh --cmd vfio_mig_bench. Prints TAP (results as
 * "# " lines) so the runner can account for it.
 *
 *   vfio_mig_bench [-n runs] [-p peer_period_us]
 * env: VF_BDF, VF_BDF2, PEER_IF (as in rig/init.sh)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "igbvf_drv.h"
#include "kselftest.h"
#include "mig_util.h"
#include "vfio_util.h"

#define IOVA_DRV	0x10000000ull
#define BUF		(2 * MIG_MAX_STREAM)

static uint8_t stream[BUF];

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void stats(uint64_t *v, int n, uint64_t *med, uint64_t *min, uint64_t *max)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	*min = v[0];
	*max = v[n - 1];
	*med = n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int set(struct vfio_dev *d, uint32_t st, int *fd)
{
	int tmp, ret = vfio_mig_set_state(d, st, fd ? fd : &tmp);

	if (!ret && !fd && tmp >= 0)
		close(tmp);
	if (ret)
		ksft_print_msg("%s\n", vfio_errmsg());
	return ret;
}

/* RUNNING -> STOP_COPY, whole stream; returns its length or 0. */
static size_t save(struct vfio_dev *d, uint8_t *buf, uint64_t *ns)
{
	uint64_t t0 = now_ns();
	size_t len;
	int fd, err;

	if (set(d, VFIO_DEVICE_STATE_STOP_COPY, &fd) || fd < 0)
		return 0;
	len = mig_read_all(fd, buf, BUF, 1 << 20, &err);
	*ns = now_ns() - t0;
	close(fd);
	if (err) {
		ksft_print_msg("STOP_COPY read: %s\n", strerror(err));
		return 0;
	}
	return len;
}

static int bench_save_resume(struct vfio_dev *d, int runs)
{
	uint64_t *sv = calloc(runs, 8), *rs = calloc(runs, 8), size = 0;
	uint64_t med, min, max;
	size_t len = 0;
	char why[128];
	struct mig_rec recs[MIG_MAX_RECS];

	if (!sv || !rs)
		return -ENOMEM;
	if (vfio_mig_data_size(d, &size))
		ksft_print_msg("%s\n", vfio_errmsg());
	for (int i = 0; i < runs; i++) {
		len = save(d, stream, &sv[i]);
		if (!len || set(d, VFIO_DEVICE_STATE_RUNNING, NULL))
			return -EIO;
	}
	if (mig_stream_parse(stream, len, recs, MIG_MAX_RECS, why, sizeof(why)) < 0) {
		ksft_print_msg("stream: %s\n", why);
		return -EINVAL;
	}
	ksft_print_msg("stop-copy state size: %zu bytes (MIG_DATA_SIZE in RUNNING: %llu)\n",
		       len, (unsigned long long)size);
	ksft_test_result_pass("state_size\n");

	stats(sv, runs, &med, &min, &max);
	ksft_print_msg("RUNNING -> STOP_COPY + read %zu bytes: median %.1f us (min %.1f, max %.1f) over %d runs\n",
		       len, med / 1e3, min / 1e3, max / 1e3, runs);
	ksft_test_result_pass("save_time\n");

	for (int i = 0; i < runs; i++) {
		uint64_t t0;
		int fd;

		if (set(d, VFIO_DEVICE_STATE_RESUMING, &fd) || fd < 0)
			return -EIO;
		t0 = now_ns();
		if (mig_write_all(fd, stream, len, len)) {
			ksft_print_msg("resume write: %s\n", strerror(errno));
			close(fd);
			return -EIO;
		}
		if (set(d, VFIO_DEVICE_STATE_RUNNING, NULL)) {
			close(fd);
			return -EIO;
		}
		rs[i] = now_ns() - t0;
		close(fd);
	}
	stats(rs, runs, &med, &min, &max);
	ksft_print_msg("RESUMING write %zu bytes + -> RUNNING: median %.1f us (min %.1f, max %.1f) over %d runs\n",
		       len, med / 1e3, min / 1e3, max / 1e3, runs);
	ksft_test_result_pass("resume_time\n");
	free(sv);
	free(rs);
	return 0;
}

/* VF0 -> VF1 under traffic; prints the loss. */
static int bench_migration(struct vfio_dev *d0, struct vfio_dev *d1,
			   struct igbvf *drv, const char *peer_if,
			   unsigned int period_us)
{
	struct mig_traffic t = {
		.vf = drv, .peer_if = peer_if, .frame_len = 128,
		.peer_period_us = period_us, .vf_period_us = period_us,
		.max = 60000,
	};
	struct mig_counts k;
	uint64_t t_stop, t_saved, t_reset, t_run, init, dirty, first, last;
	uint32_t in_window = 0;
	size_t pre, rest;
	int fd, rfd, err, ret = -EIO;

	memcpy(t.vf_dst, drv->mac, 6);
	if (mig_traffic_start(&t)) {
		ksft_print_msg("%s\n", t.err);
		goto out;
	}
	if (mig_traffic_pump(&t, 1000))
		goto terr;
	if (set(d0, VFIO_DEVICE_STATE_PRE_COPY, &fd) || fd < 0)
		goto out;
	vfio_mig_precopy_info(fd, &init, &dirty);
	pre = mig_read_all(fd, stream, BUF, 1 << 20, &err);
	if (mig_traffic_pump(&t, 300))
		goto terr;

	t_stop = now_ns();
	if (set(d0, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL) ||
	    set(d0, VFIO_DEVICE_STATE_STOP_COPY, NULL))
		goto out;
	rest = mig_read_all(fd, stream + pre, BUF - pre, 1 << 20, &err);
	close(fd);
	t_saved = now_ns();
	if (err) {
		ksft_print_msg("STOP_COPY read: %s\n", strerror(err));
		goto out;
	}
	/* One host: the source must let go of the MAC before the destination
	 * takes it (QEMU would close the source device, which resets it).
	 */
	if (set(d0, VFIO_DEVICE_STATE_STOP, NULL) || vfio_reset(d0))
		goto out;
	t_reset = now_ns();
	if (set(d1, VFIO_DEVICE_STATE_RESUMING, &rfd) || rfd < 0)
		goto out;
	if (mig_write_all(rfd, stream, pre + rest, pre + rest) ||
	    set(d1, VFIO_DEVICE_STATE_STOP, NULL)) {
		close(rfd);
		goto out;
	}
	close(rfd);
	vfio_enable_bus_master(d1);
	if (set(d1, VFIO_DEVICE_STATE_RUNNING, NULL))
		goto out;
	t_run = now_ns();
	igbvf_move(drv, d1);

	if (mig_traffic_pump(&t, 2000) || mig_traffic_stop(&t, 1500))
		goto terr;
	mig_traffic_count(&t, t_stop, t_run, 0, &k);
	first = t.p_time[0];
	last = t.p_time[t.p_sent - 1];
	for (uint32_t s = 0; s < t.p_sent; s++)
		if (t.p_time[s] >= t_stop && t.p_time[s] <= t_run)
			in_window++;
	ksft_print_msg("migration VF0 -> VF1: stop window %.2f ms = save (quiesce, STOP_COPY, read) %.2f"
		       " + source STOP and reset %.2f + destination resume to RUNNING %.2f\n",
		       (t_run - t_stop) / 1e6, (t_saved - t_stop) / 1e6,
		       (t_reset - t_saved) / 1e6, (t_run - t_reset) / 1e6);
	ksft_print_msg("  peer rate: every %u us asked, %.0f frames/s achieved; %u frames sent inside the window\n",
		       period_us, t.p_sent > 1 ? (t.p_sent - 1) / ((last - first) / 1e9) : 0.0,
		       in_window);
	ksft_print_msg("  peer -> VF: %u sent, %u received, %u lost (%u sent outside the window), %u duplicated\n",
		       k.p_sent, k.vf_recv, k.vf_lost, k.vf_lost_outside, k.vf_dup);
	ksft_print_msg("  VF -> peer: %u sent, %u received, %u lost, %u duplicated\n",
		       k.v_sent, k.peer_recv, k.peer_lost, k.peer_dup);
	ksft_print_msg("  frames lost: %u\n", k.vf_lost);
	ret = 0;
	goto out;
terr:
	ksft_print_msg("traffic: %s\n", t.err);
out:
	mig_traffic_free(&t);
	return ret;
}

int main(int argc, char **argv)
{
	const char *bdf = getenv("VF_BDF"), *bdf1 = getenv("VF_BDF2");
	const char *peer_if = getenv("PEER_IF");
	unsigned int period_us = 1000;
	struct vfio_dev d0, d1;
	struct igbvf drv;
	uint64_t flags;
	int runs = 21, opt, ret;

	while ((opt = getopt(argc, argv, "n:p:")) != -1) {
		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 'p':
			period_us = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-n runs] [-p peer_period_us]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	ksft_print_header();
	if (!bdf || !*bdf)
		ksft_exit_skip("VF_BDF not set\n");
	if (vfio_dev_open(&d0, bdf, VFIO_MODE_CDEV_IOMMUFD))
		ksft_exit_fail_msg("open %s: %s\n", bdf, vfio_errmsg());
	ret = vfio_mig_flags(&d0, &flags);
	if (ret == -ENOTTY)
		ksft_exit_skip("%s: no MIGRATION feature (driver does not migrate)\n", bdf);
	if (ret)
		ksft_exit_fail_msg("%s\n", vfio_errmsg());
	ksft_set_plan(4);

	ret = igbvf_init(&drv, &d0, IOVA_DRV);
	if (ret)
		ksft_exit_fail_msg("igbvf_init: %s\n", drv.err);
	if (bench_save_resume(&d0, runs))
		ksft_exit_fail_msg("save/resume benchmark failed\n");

	if (!bdf1 || !*bdf1 || !peer_if || !*peer_if) {
		ksft_test_result_skip("frames_lost (needs VF_BDF2 and PEER_IF)\n");
	} else if (vfio_dev_open_shared(&d1, bdf1, &d0)) {
		ksft_test_result_fail("frames_lost: open %s: %s\n", bdf1, vfio_errmsg());
	} else {
		if (bench_migration(&d0, &d1, &drv, peer_if, period_us))
			ksft_test_result_fail("frames_lost\n");
		else
			ksft_test_result_pass("frames_lost\n");
		vfio_bar0_write32(&d1, IGBVF_RXDCTL, 0);
		vfio_bar0_write32(&d1, IGBVF_TXDCTL, 0);
		igbvf_move(&drv, &d0);
		igbvf_fini(&drv);
		vfio_dev_close(&d1);
		vfio_dev_close(&d0);
		ksft_finished();
	}
	igbvf_fini(&drv);
	vfio_dev_close(&d0);
	ksft_finished();
}
