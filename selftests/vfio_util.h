/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal VFIO userspace helpers for the selftests: open a PCI device either
 * through the cdev + iommufd uAPI or through the legacy group/container uAPI,
 * and hand back one handle so that the tests do not care which was used.
 */
#ifndef VFIO_UTIL_H
#define VFIO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

enum vfio_mode {
	VFIO_MODE_CDEV_IOMMUFD,
	VFIO_MODE_GROUP_CONTAINER,
};

/* Enough for any sane sparse-mmap layout of a 16 KiB VF BAR. */
#define VFIO_MAX_AREAS 16

struct vfio_area {
	uint64_t offset;	/* within the region */
	uint64_t size;
	void *addr;		/* mmap()ed address, NULL if mapping failed */
};

struct vfio_region {
	uint32_t index;
	uint32_t flags;		/* VFIO_REGION_INFO_FLAG_* */
	uint64_t size;
	uint64_t offset;	/* file offset on the device fd */
	bool has_sparse_cap;	/* the region info carried a sparse-mmap cap */
	unsigned int nr_areas;
	struct vfio_area areas[VFIO_MAX_AREAS];
};

struct vfio_dev {
	enum vfio_mode mode;
	char bdf[32];
	int device_fd;

	/* cdev + iommufd */
	int iommufd;
	uint32_t devid;
	uint32_t ioas_id;
	bool iommufd_borrowed;	/* iommufd/IOAS belong to another vfio_dev */

	/* group + container */
	int container_fd;
	int group_fd;
	int group_id;

	struct vfio_device_info info;
	struct vfio_region bar0;
	struct vfio_region cfg;

	/*
	 * Route every vfio_bar0_read32/write32 through pread/pwrite, as if the
	 * driver had trapped the whole BAR: exercises the slow path on drivers
	 * that trap nothing.
	 */
	bool bar0_force_rw;
};

/* Last error with the step that failed; tests print it on failure. */
const char *vfio_errmsg(void);
const char *vfio_mode_name(enum vfio_mode mode);

/* Returns 0 or -errno; on failure everything that was opened is closed. */
int vfio_dev_open(struct vfio_dev *d, const char *bdf, enum vfio_mode mode);
/*
 * cdev + iommufd, bound to share's iommufd and attached to share's IOAS: both
 * devices see the same DMA mappings at the same IOVAs (a VM's two devices).
 * share must stay open at least as long as d.
 */
int vfio_dev_open_shared(struct vfio_dev *d, const char *bdf,
			 const struct vfio_dev *share);
void vfio_dev_close(struct vfio_dev *d);

/*
 * Region info with capability chain. *out is malloc()ed (caller frees) and
 * holds argsz bytes, so caps can be walked with vfio_region_cap().
 */
int vfio_region_info(struct vfio_dev *d, uint32_t index,
		     struct vfio_region_info **out);
const struct vfio_info_cap_header *
vfio_region_cap(const struct vfio_region_info *ri, uint16_t id);

/* Fills r from region info and mmap()s every mmappable area. */
int vfio_region_setup(struct vfio_dev *d, uint32_t index, struct vfio_region *r);
void vfio_region_teardown(struct vfio_region *r);

/* Mapped address for [off, off+len) of r, or NULL if that range is trapped. */
volatile void *vfio_region_ptr(const struct vfio_region *r, uint64_t off,
			       size_t len);

/*
 * BAR0 register access. vfio_bar0_* picks the mmap when the page is in a
 * sparse-mmap area and falls back to pread/pwrite on the device fd otherwise
 * (a variant driver may trap some pages). The _rw/_mmap forms force a path.
 */
uint32_t vfio_bar0_read32(struct vfio_dev *d, uint64_t off);
void vfio_bar0_write32(struct vfio_dev *d, uint64_t off, uint32_t val);
int vfio_bar0_read32_rw(struct vfio_dev *d, uint64_t off, uint32_t *val);
int vfio_bar0_write32_rw(struct vfio_dev *d, uint64_t off, uint32_t val);
bool vfio_bar0_is_mmapped(struct vfio_dev *d, uint64_t off);

/* PCI config space through the config region. Returns 0 or -errno. */
int vfio_cfg_read(struct vfio_dev *d, uint64_t off, void *buf, size_t len);
int vfio_cfg_write(struct vfio_dev *d, uint64_t off, const void *buf,
		   size_t len);
/* Sets PCI_COMMAND memory + bus master so that the device may DMA. */
int vfio_enable_bus_master(struct vfio_dev *d);

int vfio_irq_info(struct vfio_dev *d, uint32_t index,
		  struct vfio_irq_info *out);
int vfio_reset(struct vfio_dev *d);

/* DMA: map an existing buffer at a fixed IOVA, read/write for the device. */
int vfio_dma_map(struct vfio_dev *d, void *vaddr, uint64_t iova, uint64_t size);
int vfio_dma_unmap(struct vfio_dev *d, uint64_t iova, uint64_t size);

struct vfio_dma_buf {
	void *va;
	uint64_t iova;
	size_t size;
};

/* Anonymous, zeroed, page-aligned memory mapped at iova. */
int vfio_dma_alloc(struct vfio_dev *d, size_t size, uint64_t iova,
		   struct vfio_dma_buf *buf);
void vfio_dma_free(struct vfio_dev *d, struct vfio_dma_buf *buf);

/*
 * Migration uAPI (VFIO_DEVICE_FEATURE MIGRATION / MIG_DEVICE_STATE /
 * MIG_DATA_SIZE, VFIO_MIG_GET_PRECOPY_INFO). All return 0 or -errno and leave
 * the failing step in vfio_errmsg().
 */
int vfio_mig_flags(struct vfio_dev *d, uint64_t *flags);
int vfio_mig_get_state(struct vfio_dev *d, uint32_t *state);
/* *data_fd: the fd the kernel returned, or -1. */
int vfio_mig_set_state(struct vfio_dev *d, uint32_t state, int *data_fd);
int vfio_mig_data_size(struct vfio_dev *d, uint64_t *bytes);
int vfio_mig_precopy_info(int data_fd, uint64_t *initial, uint64_t *dirty);
const char *vfio_mig_state_name(uint32_t state);

/* Name of the driver the device is bound to (sysfs "driver" link). */
int pci_driver_name(const char *bdf, char *buf, size_t len);

/* Monotonic milliseconds, for bounded poll loops. */
uint64_t now_ms(void);
/* Monotonic nanoseconds, for measurements. */
uint64_t now_ns(void);

#endif /* VFIO_UTIL_H */
