// SPDX-License-Identifier: GPL-2.0
/*
 * DMA logging uAPI wrappers, page sets and a scattered-buffer RX ring for the
 * dirty tracking tests (see dirty_util.h).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dirty_util.h"

/* Advanced RX descriptor (read format; write-back overlays it). */
#define RXD_STAT_DD		0x1u
#define RXD_STAT_EOP		0x2u
#define SRRCTL_DESCTYPE_ONEBUF	0x02000000u
#define SRRCTL_DESCTYPE_HS	0x04000000u	/* header splitting */
#define SRRCTL_BSIZEPKT_SHIFT	10
#define SRRCTL_BSIZEHDR_SHIFT	2	/* bytes << 2: 64-byte units at bit 8 */
/* Write-back dword 0: HDR_LEN 30:21, SPH 31 (82599 7.1.6.2, 82576 7.1.5.2). */
#define RXD_HDR_LEN(lo)		(((lo) >> 21) & 0x3ffu)
#define RXD_SPH			0x80000000u
#define IXVF_PSRTYPE		0x0300	/* 82599 VFPSRTYPE */
#define PSRTYPE_RQPL_SHIFT	29

/* ---- uAPI --------------------------------------------------------------- */

struct feat_ctl {
	struct vfio_device_feature f;
	struct vfio_device_feature_dma_logging_control c;
} __attribute__((aligned(8)));

struct feat_rep {
	struct vfio_device_feature f;
	struct vfio_device_feature_dma_logging_report r;
} __attribute__((aligned(8)));

int dlog_probe(struct vfio_dev *d)
{
	struct feat_ctl b = {};

	b.f.argsz = sizeof(b);
	b.f.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
		    VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
	if (!ioctl(d->device_fd, VFIO_DEVICE_FEATURE, &b))
		return 1;
	return errno == ENOTTY ? 0 : -errno;
}

int dlog_start_ptr(struct vfio_dev *d, uint64_t *page_size, uint64_t ranges,
		   uint32_t n)
{
	struct feat_ctl b = {};

	b.f.argsz = sizeof(b);
	b.f.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
	b.c.page_size = *page_size;
	b.c.num_ranges = n;
	b.c.ranges = ranges;
	if (ioctl(d->device_fd, VFIO_DEVICE_FEATURE, &b))
		return -errno;
	*page_size = b.c.page_size;
	return 0;
}

int dlog_start(struct vfio_dev *d, uint64_t *page_size,
	       const struct dlog_range *r, uint32_t n)
{
	_Static_assert(sizeof(struct dlog_range) ==
		       sizeof(struct vfio_device_feature_dma_logging_range),
		       "range layout");
	return dlog_start_ptr(d, page_size, (uintptr_t)r, n);
}

int dlog_stop(struct vfio_dev *d)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
	};

	return ioctl(d->device_fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

int dlog_report(struct vfio_dev *d, uint64_t iova, uint64_t length,
		uint64_t page_size, void *bitmap)
{
	struct feat_rep b = {};

	b.f.argsz = sizeof(b);
	b.f.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
	b.r.iova = iova;
	b.r.length = length;
	b.r.page_size = page_size;
	b.r.bitmap = (uintptr_t)bitmap;
	return ioctl(d->device_fd, VFIO_DEVICE_FEATURE, &b) ? -errno : 0;
}

/* ---- page sets ---------------------------------------------------------- */

int pset_init(struct pset *s, uint64_t iova, uint64_t len)
{
	s->iova = iova;
	s->npages = len / DPAGE;
	s->on = calloc(s->npages ? s->npages : 1, 1);
	return s->on ? 0 : -ENOMEM;
}

void pset_free(struct pset *s)
{
	free(s->on);
	s->on = NULL;
	s->npages = 0;
}

void pset_clear(struct pset *s)
{
	memset(s->on, 0, s->npages);
}

uint64_t pset_mark(struct pset *s, uint64_t iova, uint64_t len)
{
	uint64_t n = 0;

	if (!len)
		return 0;
	for (uint64_t p = iova / DPAGE; p <= (iova + len - 1) / DPAGE; p++) {
		uint64_t i = p - s->iova / DPAGE;

		if (p >= s->iova / DPAGE && i < s->npages) {
			s->on[i] = 1;
			n++;
		}
	}
	return n;
}

uint64_t pset_count(const struct pset *s)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < s->npages; i++)
		n += s->on[i];
	return n;
}

void pset_from_bitmap(struct pset *s, const uint64_t *bm)
{
	for (uint64_t i = 0; i < s->npages; i++)
		s->on[i] = bm_test(bm, i);
}

/* ---- RX ring ------------------------------------------------------------ */

static int drx_fail(struct drx *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -err;
}

static uint32_t drx_rand(struct drx *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 17;
	r->rng ^= r->rng << 5;
	return r->rng;
}

int drx_alloc(struct drx *r, struct igbvf *vf, uint64_t iova, size_t size,
	      unsigned int n, unsigned int straddle_pct, uint32_t seed)
{
	uint64_t ring_bytes = (uint64_t)n * 16;
	int ret;

	memset(r, 0, sizeof(*r));
	r->vf = vf;
	r->dev = vf->dev;
	r->n = n;
	r->straddle_pct = straddle_pct;
	r->rng = seed ? seed : 0x9e3779b9u;
	ring_bytes = (ring_bytes + DPAGE - 1) / DPAGE * DPAGE;
	if (n < 8 || n % 8 || n > 4096 || size < ring_bytes + (uint64_t)n * DRX_CELL)
		return drx_fail(r, EINVAL, "ring of %u in %zu bytes", n, size);
	ret = vfio_dma_alloc(r->dev, size, iova, &r->mem);
	if (ret)
		return drx_fail(r, -ret, "DMA alloc %zu at 0x%llx: %s", size,
				(unsigned long long)iova, vfio_errmsg());
	r->ring = r->mem.va;
	r->ring_iova = iova;
	r->cells_iova = iova + ring_bytes;
	r->ncells = (size - ring_bytes) / DRX_CELL;
	r->cell_used = calloc(r->ncells, 1);
	r->desc_cell = calloc(n, sizeof(int));
	r->desc_buf = calloc(n, sizeof(uint64_t));
	r->desc_hcell = calloc(n, sizeof(int));
	r->desc_hdr = calloc(n, sizeof(uint64_t));
	r->post_epoch = calloc(n, sizeof(unsigned int));
	if (!r->cell_used || !r->desc_cell || !r->desc_buf || !r->desc_hcell ||
	    !r->desc_hdr || !r->post_epoch)
		return drx_fail(r, ENOMEM, "calloc");
	for (unsigned int i = 0; i < n; i++)
		r->desc_cell[i] = r->desc_hcell[i] = -1;
	memset((uint8_t *)r->mem.va + ring_bytes, DIRTY_FILL, size - ring_bytes);
	return 0;
}

void drx_free(struct drx *r)
{
	if (r->mem.va)
		vfio_dma_free(r->dev, &r->mem);
	free(r->cell_used);
	free(r->desc_cell);
	free(r->desc_buf);
	free(r->desc_hcell);
	free(r->desc_hdr);
	free(r->post_epoch);
	r->post_epoch = NULL;
	r->cell_used = NULL;
	r->desc_cell = NULL;
	r->desc_buf = NULL;
	r->desc_hcell = NULL;
	r->desc_hdr = NULL;
}

static uint8_t *cell_va(struct drx *r, unsigned int c)
{
	return (uint8_t *)r->mem.va + (r->cells_iova - r->ring_iova) +
	       (uint64_t)c * DRX_CELL;
}

static void wr32(struct drx *r, uint64_t off, uint32_t v)
{
	vfio_bar0_write32(r->dev, off, v);
}

/*
 * Queue r->queue's copy of a queue-0 RX register: queues are 0x40 apart on
 * the 82599 VF, 0x100 on the 82576 VF (queues 0-3 at 0x2800 + 0x100 n).
 */
static uint64_t qreg(const struct drx *r, uint32_t reg0)
{
	return reg0 + (uint64_t)r->queue * (IGBVF_IS_IXGBE ? 0x40 : 0x100);
}

/* A random free cell, taken; *slot's old cell back to the pattern and freed. */
static unsigned int drx_cell(struct drx *r, int *slot)
{
	unsigned int c = drx_rand(r) % r->ncells;

	if (*slot >= 0) {
		/* Back to the pattern so that a later diff sees new writes only. */
		memset(cell_va(r, *slot), DIRTY_FILL, DRX_CELL);
		r->cell_used[*slot] = 0;
	}
	while (r->cell_used[c])
		c = (c + 1) % r->ncells;
	r->cell_used[c] = 1;
	*slot = c;
	return c;
}

/*
 * The header buffer of descriptor i (header split): its own cell, placed in
 * the first page or, straddle_pct of the time, across the page end.
 */
static uint64_t drx_fill_hdr(struct drx *r, unsigned int i)
{
	unsigned int c = drx_cell(r, &r->desc_hcell[i]);
	uint64_t off;

	if (drx_rand(r) % 100 < r->straddle_pct)
		off = DPAGE - r->hdr_size / 2;
	else
		off = (drx_rand(r) % ((DPAGE - r->hdr_size) / 128 + 1)) * 128;
	r->desc_hdr[i] = r->cells_iova + (uint64_t)c * DRX_CELL + off;
	return r->desc_hdr[i];
}

/* A fresh buffer for descriptor i: a random free cell, random placement. */
static void drx_fill(struct drx *r, unsigned int i)
{
	volatile uint64_t *d = (volatile uint64_t *)(r->ring + (uint64_t)i * 16);
	unsigned int c = drx_cell(r, &r->desc_cell[i]);
	uint64_t off;

	if (drx_rand(r) % 100 < r->straddle_pct) {
		/* [3 KiB, 5 KiB) of the cell: across the page end. */
		off = 3 * 1024;
		r->straddlers++;
	} else {
		off = (drx_rand(r) % 17) * 128;	/* 0..2 KiB: within page 0 */
	}
	r->post_epoch[i] = r->epoch;
	r->desc_buf[i] = r->cells_iova + (uint64_t)c * DRX_CELL + off;
	d[0] = htole64(r->desc_buf[i]);
	/* Header address (bit 0, the DD position, clear) or 0: one buffer. */
	d[1] = r->hdr_size ? htole64(drx_fill_hdr(r, i)) : 0;
}

int drx_setup(struct drx *r, unsigned int post, bool skip_tail_zero)
{
	uint32_t v;

	if (post > r->n - 1)
		post = r->n - 1;
	if (r->queue >= igbvf_map()->queues)
		return drx_fail(r, EINVAL, "queue %u: the %s has %u", r->queue,
				igbvf_map()->name, igbvf_map()->queues);
	if (r->hdr_size % 64 || r->hdr_size > 1024 ||
	    (r->hdr_size && r->ncells < 2 * r->n))
		return drx_fail(r, EINVAL, "header buffers of %u bytes, %u cells",
				r->hdr_size, r->ncells);
	wr32(r, qreg(r, IGBVF_RXDCTL), 0);
	memset((void *)r->ring, 0, (size_t)r->n * 16);
	r->next = r->tail = 0;
	wr32(r, qreg(r, IGBVF_RDBAL), (uint32_t)r->ring_iova);
	wr32(r, qreg(r, IGBVF_RDBAH), (uint32_t)(r->ring_iova >> 32));
	wr32(r, qreg(r, IGBVF_RDLEN), r->n * 16);
	wr32(r, qreg(r, IGBVF_SRRCTL), IGBVF_SRRCTL_DROP_EN |
	     (r->hdr_size ? SRRCTL_DESCTYPE_HS : SRRCTL_DESCTYPE_ONEBUF) |
	     r->hdr_size << SRRCTL_BSIZEHDR_SHIFT | (DRX_BUF >> SRRCTL_BSIZEPKT_SHIFT));
	/* DPDK writes RDH = 0 and then RDT = n - 1 only; Linux RDT = 0 too. */
	wr32(r, qreg(r, IGBVF_RDH), 0);
	if (!skip_tail_zero) {
		wr32(r, qreg(r, IGBVF_RDT), 0);
		r->rdt_writes++;
	}
	wr32(r, qreg(r, IGBVF_RXDCTL), IGBVF_RXDCTL_ON);
	v = vfio_bar0_read32(r->dev, qreg(r, IGBVF_RXDCTL));
	if (!(v & IGBVF_QUEUE_ENABLE))
		return drx_fail(r, EIO, "RXDCTL enable did not stick (0x%x)", v);
	drx_post(r, post);
	return 0;
}

void drx_disable(struct drx *r)
{
	wr32(r, qreg(r, IGBVF_RXDCTL), 0);
}

void drx_set_psrtype(struct drx *r, uint32_t split, unsigned int rqpl_bits)
{
	if (IGBVF_IS_IXGBE)
		wr32(r, IXVF_PSRTYPE, split | rqpl_bits << PSRTYPE_RQPL_SHIFT);
}

unsigned int drx_post(struct drx *r, unsigned int count)
{
	unsigned int done = 0;

	/* The slot before next stays empty: tail == head means empty. */
	while (done < count && (r->tail + 1) % r->n != r->next) {
		drx_fill(r, r->tail);
		r->tail = (r->tail + 1) % r->n;
		done++;
	}
	if (done) {
		uint64_t t0;

		__sync_synchronize();
		t0 = now_ns();
		wr32(r, qreg(r, IGBVF_RDT), r->tail);
		r->rdt_ns += now_ns() - t0;
		r->rdt_writes++;
	}
	return done;
}

int drx_poll(struct drx *r, struct pset *truth, unsigned int max, bool recycle)
{
	unsigned int got = 0;

	while (got < max && r->next != r->tail) {
		unsigned int i = r->next;
		volatile uint8_t *d = r->ring + (uint64_t)i * 16;
		uint32_t st = le32toh(*(volatile uint32_t *)(d + 8)), lo;
		uint16_t len, hlen = 0;

		if (!(st & RXD_STAT_DD))
			break;
		__sync_synchronize();
		len = le16toh(*(volatile uint16_t *)(d + 12));
		lo = le32toh(*(volatile uint32_t *)d);
		if (r->hdr_size && RXD_HDR_LEN(lo)) {
			/* HDR_LEN may exceed the buffer (HBO): what fits was written. */
			hlen = RXD_HDR_LEN(lo) < r->hdr_size ? RXD_HDR_LEN(lo) : r->hdr_size;
			r->split_frames += !!(lo & RXD_SPH);
			r->hdr_bytes += hlen;
		}
		if (truth) {
			struct pset *t = truth;

			if (r->truth_old && r->post_epoch[i] != r->epoch)
				t = r->truth_old;
			/* The ring page: marked in both, see vfio_dirty_test. */
			pset_mark(truth, r->ring_iova + (uint64_t)i * 16, 16);
			pset_mark(t, r->desc_buf[i], len);
			pset_mark(t, r->desc_hdr[i], hlen);
		}
		if (!(st & RXD_STAT_EOP) || (st & IGBVF_RXD_ERR_MASK) || len > DRX_BUF)
			return drx_fail(r, EMSGSIZE, "RX desc %u: status 0x%x len %u",
					i, st, len);
		r->frames++;
		r->bytes += len;
		r->next = (i + 1) % r->n;
		got++;
	}
	if (recycle && got)
		drx_post(r, got);
	return (int)got;
}

int drx_wait(struct drx *r, struct pset *truth, uint64_t want,
	     unsigned int timeout_ms, bool recycle)
{
	uint64_t end = now_ms() + timeout_ms;

	while (r->frames < want) {
		int ret = drx_poll(r, truth, r->n, recycle);

		if (ret < 0)
			return ret;
		if (!ret) {
			if (now_ms() >= end)
				return -ETIMEDOUT;
			usleep(200);
		}
	}
	return 0;
}

uint64_t drx_diff(struct drx *r, struct pset *out)
{
	uint64_t n = 0;

	for (unsigned int c = 0; c < r->ncells; c++) {
		for (unsigned int p = 0; p < 2; p++) {
			const uint8_t *v = cell_va(r, c) + p * DPAGE;
			bool changed = false;

			for (unsigned int b = 0; b < DPAGE; b++) {
				if (v[b] != DIRTY_FILL) {
					changed = true;
					break;
				}
			}
			if (changed) {
				n++;
				if (out)
					pset_mark(out, r->cells_iova +
						  (uint64_t)c * DRX_CELL + p * DPAGE, 1);
			}
		}
	}
	return n;
}

int dstats_read(const char *bdf, const char *const *names, size_t n, uint64_t *v,
		char *text, size_t size)
{
	char path[256], name[64];
	unsigned long long val;
	size_t len, seen = 0;
	FILE *f;

	snprintf(path, sizeof(path), DSTATS_DIR "/%s/stats", bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	len = fread(text, 1, size - 1, f);
	text[len] = 0;
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		const char *l = text;

		for (; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			if (sscanf(l, "%63s %llu", name, &val) == 2 && !strcmp(name, names[i])) {
				v[i] = val;
				seen++;
				break;
			}
		}
	}
	return seen == n ? 0 : -EPROTO;
}

void dirty_fixture_teardown(struct vfio_dev *dev, bool opened, bool logging,
			    struct mig_peer *peer, struct igbvf *vf, bool vf_up,
			    struct drx *rx, bool rx_up)
{
	if (logging)
		dlog_stop(dev);
	mig_peer_close(peer);
	if (vf_up)
		igbvf_rings_disable(vf);
	if (rx_up)
		drx_free(rx);
	if (vf_up)
		igbvf_fini(vf);
	if (opened)
		vfio_dev_close(dev);
}
