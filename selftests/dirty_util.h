/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by vfio_dirty_test and vfio_dirty_bench: the VFIO DMA logging uAPI
 * (VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP/REPORT), page sets, and an RX
 * ring of our own whose buffers are scattered over a large DMA region (some
 * straddling page boundaries) so that the test knows exactly which pages the
 * device wrote: every descriptor write-back and every received frame.
 */
#ifndef DIRTY_UTIL_H
#define DIRTY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "igbvf_drv.h"
#include "mig_util.h"
#include "vfio_util.h"

#define DPAGE		4096ull
#define DIRTY_FILL	0xA5	/* buffer pattern: a changed page was written */

/* ---- DMA logging uAPI; 0 or -errno ------------------------------------ */

struct dlog_range {
	uint64_t iova, length;
};

/* 1: DMA_LOGGING offered, 0: not (ENOTTY), -errno otherwise. */
int dlog_probe(struct vfio_dev *d);
/* *page_size in: requested, out: what the driver uses. */
int dlog_start(struct vfio_dev *d, uint64_t *page_size,
	       const struct dlog_range *r, uint32_t n);
/* Same, with a raw ranges pointer (bad-pointer tests). */
int dlog_start_ptr(struct vfio_dev *d, uint64_t *page_size, uint64_t ranges,
		   uint32_t n);
int dlog_stop(struct vfio_dev *d);
/* bitmap: one bit per page_size page of [iova, iova + length). */
int dlog_report(struct vfio_dev *d, uint64_t iova, uint64_t length,
		uint64_t page_size, void *bitmap);
static inline bool bm_test(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

/* ---- the driver's debugfs counters -------------------------------------- */

#define DSTATS_DIR	"/sys/kernel/debug/vfio_ixgbevf_mig"

/*
 * Reads DSTATS_DIR/<bdf>/stats ("name value" lines) into v[i] for each of the
 * n names[i], keeping the file's text in text[size]. Returns 0, -errno of the
 * open, or -EPROTO when a named counter is missing.
 */
int dstats_read(const char *bdf, const char *const *names, size_t n, uint64_t *v,
		char *text, size_t size);

/* ---- page sets over one IOVA range, 4 KiB pages ----------------------- */

struct pset {
	uint64_t iova, npages;
	uint8_t *on;
};

int pset_init(struct pset *s, uint64_t iova, uint64_t len);
void pset_free(struct pset *s);
void pset_clear(struct pset *s);
/* Marks every page of [iova, iova + len) inside s; returns pages marked. */
uint64_t pset_mark(struct pset *s, uint64_t iova, uint64_t len);
uint64_t pset_count(const struct pset *s);
/* Sets s from a report bitmap of s's range (4 KiB pages). */
void pset_from_bitmap(struct pset *s, const uint64_t *bm);

/* ---- our RX ring over a big region -------------------------------------- */

#define DRX_BUF		2048u	/* SRRCTL.BSIZEPKT, bytes per buffer */
#define DRX_CELL	(2 * DPAGE)

struct drx {
	struct igbvf *vf;
	struct vfio_dev *dev;
	/*
	 * Set between drx_alloc() and drx_setup(), 0 by default: the VF's RX
	 * queue the ring replaces (< igbvf_map()->queues), and the header
	 * buffer size for header split (SRRCTL.DESCTYPE 2, a multiple of 64
	 * up to 1024; 0: one buffer per descriptor). With header split each
	 * descriptor gets its header buffer in a cell of its own, so header
	 * and packet buffers never share a page.
	 */
	unsigned int queue;
	unsigned int hdr_size;
	struct vfio_dma_buf mem;	/* [ring pages][buffer cells] */
	unsigned int n;			/* descriptors in the ring */
	uint64_t ring_iova;
	volatile uint8_t *ring;
	uint64_t cells_iova;		/* first cell */
	unsigned int ncells;
	uint8_t *cell_used;
	int *desc_cell;			/* cell per descriptor, -1 none */
	uint64_t *desc_buf;		/* buffer IOVA per descriptor */
	int *desc_hcell;		/* header buffer's cell, -1 none */
	uint64_t *desc_hdr;		/* header buffer IOVA per descriptor */
	unsigned int next;		/* next descriptor to look at */
	unsigned int tail;		/* RDT as last written */
	unsigned int straddle_pct;	/* share of buffers across a page end */
	uint32_t rng;
	/* counters */
	uint64_t frames, bytes, straddlers;
	uint64_t split_frames, hdr_bytes;	/* SPH set; bytes in header buffers */
	uint64_t rdt_writes;
	uint64_t rdt_ns;		/* time spent in drx_post's RDT writes */
	/*
	 * Epochs (e.g. reports done): a frame whose buffer was posted in an
	 * earlier epoch than r->epoch goes to truth_old instead of truth.
	 */
	unsigned int epoch;
	unsigned int *post_epoch;
	struct pset *truth_old;
	char err[256];
};

/*
 * DMA memory at iova: ring of n descriptors (multiple of 8, <= 4096) and
 * size bytes in all. Does not touch the device.
 */
int drx_alloc(struct drx *r, struct igbvf *vf, uint64_t iova, size_t size,
	      unsigned int n, unsigned int straddle_pct, uint32_t seed);
void drx_free(struct drx *r);
/*
 * Replaces the VF's RX ring r->queue with ours (RXDCTL off, base/len/SRRCTL,
 * RDH = 0, RDT = 0 unless skip_tail_zero, enable) and posts `post`
 * descriptors (<= n - 1) with fresh scattered buffers.
 */
int drx_setup(struct drx *r, unsigned int post, bool skip_tail_zero);
/* Queue r->queue off (RXDCTL), before drx_free() of a ring the VF still has. */
void drx_disable(struct drx *r);
/*
 * 82599 VF only (no-op on the 82576): VFPSRTYPE, the pool's PSRTYPE. Which
 * headers header split cuts after (DRX_PSRTYPE_SPLIT) and how many queues
 * RSS spreads the pool's frames over (RQPL: 2^rqpl_bits).
 */
#define DRX_PSRTYPE_SPLIT	0x1330u	/* L2, IPv4, IPv6, TCP, UDP headers */
void drx_set_psrtype(struct drx *r, uint32_t split, unsigned int rqpl_bits);
/* Posts up to `count` more descriptors (never filling the ring), one RDT write. */
unsigned int drx_post(struct drx *r, unsigned int count);
/*
 * Consumes written-back descriptors (at most max). For each, the pages the
 * device wrote (descriptor + buffer[0, len) + header buffer[0, HDR_LEN))
 * go into truth (may be NULL).
 * When recycle, the slot gets a new buffer and RDT moves (one write per
 * call). Returns frames consumed, or -errno on a bad descriptor.
 */
int drx_poll(struct drx *r, struct pset *truth, unsigned int max, bool recycle);
/* Waits until `want` frames were consumed in total or timeout_ms passed. */
int drx_wait(struct drx *r, struct pset *truth, uint64_t want,
	     unsigned int timeout_ms, bool recycle);
/* Pages of the buffer cells that differ from DIRTY_FILL (all cells). */
uint64_t drx_diff(struct drx *r, struct pset *out);

/* ---- fixture teardown --------------------------------------------------- */

/*
 * Teardown of a DMA-logging fixture (vfio_dirty_test, vfio_race_test): logging
 * stopped, the peer closed, the VF's rings disabled before our RX ring's memory
 * goes, then the VF and the device fd. Each step only if its flag says it was
 * set up.
 */
void dirty_fixture_teardown(struct vfio_dev *dev, bool opened, bool logging,
			    struct mig_peer *peer, struct igbvf *vf, bool vf_up,
			    struct drx *rx, bool rx_up);

#endif /* DIRTY_UTIL_H */
