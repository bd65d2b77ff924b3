// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO helpers for the selftests. Two ways into the same device:
 *  - cdev + iommufd: /dev/vfio/devices/vfioN, /dev/iommu, BIND_IOMMUFD,
 *    IOAS_ALLOC, ATTACH_IOMMUFD_PT, IOAS_MAP;
 *  - legacy: /dev/vfio/vfio container + /dev/vfio/<group>, TYPE1v2, MAP_DMA.
 * The variant driver under test must behave identically for both.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>

#include "vfio_util.h"

static char errbuf[512];

const char *vfio_errmsg(void)
{
	return errbuf;
}

/* Records "what: strerror(err)" and returns -err, so callers can return it. */
static int fail(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(errbuf))
		snprintf(errbuf + n, sizeof(errbuf) - n, ": %s", strerror(err));
	return -err;
}

const char *vfio_mode_name(enum vfio_mode mode)
{
	return mode == VFIO_MODE_CDEV_IOMMUFD ? "cdev+iommufd" :
					       "group+container";
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pci_driver_name(const char *bdf, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return fail(errno, "readlink %s", path);
	target[n] = 0;
	snprintf(buf, len, "%s", basename(target));
	return 0;
}

/* /sys/bus/pci/devices/<bdf>/vfio-dev/vfioN -> /dev/vfio/devices/vfioN */
static int open_cdev(const char *bdf)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return fail(errno, "opendir %s (VFIO_DEVICE_CDEV, bound to a vfio driver?)",
			    path);
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, "vfio", 4))
			break;
	}
	if (!de) {
		closedir(dir);
		return fail(ENOENT, "no vfioN under %s", path);
	}
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", de->d_name);
	closedir(dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "open %s", path);
	return fd;
}

static int open_iommufd(struct vfio_dev *d)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int fd;

	fd = open_cdev(d->bdf);
	if (fd < 0)
		return fd;
	d->device_fd = fd;

	d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (d->iommufd < 0)
		return fail(errno, "open /dev/iommu");

	bind.iommufd = d->iommufd;
	if (ioctl(d->device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return fail(errno, "VFIO_DEVICE_BIND_IOMMUFD");
	d->devid = bind.out_devid;

	if (ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return fail(errno, "IOMMU_IOAS_ALLOC");
	d->ioas_id = alloc.out_ioas_id;

	attach.pt_id = d->ioas_id;
	if (ioctl(d->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return fail(errno, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	return 0;
}

/* Same as open_iommufd, but into share's iommufd and IOAS. */
static int open_iommufd_shared(struct vfio_dev *d, const struct vfio_dev *share)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	int fd;

	if (share->mode != VFIO_MODE_CDEV_IOMMUFD || share->iommufd < 0)
		return fail(EINVAL, "shared open needs an open cdev+iommufd device");
	fd = open_cdev(d->bdf);
	if (fd < 0)
		return fd;
	d->device_fd = fd;
	d->iommufd = share->iommufd;
	d->iommufd_borrowed = true;
	d->ioas_id = share->ioas_id;

	bind.iommufd = d->iommufd;
	if (ioctl(d->device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return fail(errno, "VFIO_DEVICE_BIND_IOMMUFD (shared iommufd)");
	d->devid = bind.out_devid;
	attach.pt_id = d->ioas_id;
	if (ioctl(d->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return fail(errno, "VFIO_DEVICE_ATTACH_IOMMUFD_PT (shared IOAS %u)",
			    d->ioas_id);
	return 0;
}

static int open_group(struct vfio_dev *d)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 d->bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return fail(errno, "readlink %s (no IOMMU group?)", path);
	target[n] = 0;
	d->group_id = atoi(basename(target));

	d->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container_fd < 0)
		return fail(errno, "open /dev/vfio/vfio");
	if (ioctl(d->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return fail(EINVAL, "VFIO_GET_API_VERSION");
	if (ioctl(d->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
		return fail(EOPNOTSUPP, "VFIO_CHECK_EXTENSION(TYPE1v2)");

	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	d->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->group_fd < 0)
		return fail(errno, "open %s", path);
	if (ioctl(d->group_fd, VFIO_GROUP_GET_STATUS, &status))
		return fail(errno, "VFIO_GROUP_GET_STATUS");
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail(EBUSY, "group %d not viable (other devices not bound to vfio)",
			    d->group_id);
	if (ioctl(d->group_fd, VFIO_GROUP_SET_CONTAINER, &d->container_fd))
		return fail(errno, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(d->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail(errno, "VFIO_SET_IOMMU(TYPE1v2)");

	fd = ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (fd < 0)
		return fail(errno, "VFIO_GROUP_GET_DEVICE_FD(%s)", d->bdf);
	d->device_fd = fd;
	return 0;
}

static int dev_open(struct vfio_dev *d, const char *bdf, enum vfio_mode mode,
		    const struct vfio_dev *share)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->device_fd = d->iommufd = d->container_fd = d->group_fd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);

	if (share)
		ret = open_iommufd_shared(d, share);
	else
		ret = mode == VFIO_MODE_CDEV_IOMMUFD ? open_iommufd(d) : open_group(d);
	if (ret)
		goto err;

	d->info.argsz = sizeof(d->info);
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_INFO, &d->info)) {
		ret = fail(errno, "VFIO_DEVICE_GET_INFO");
		goto err;
	}
	ret = vfio_region_setup(d, VFIO_PCI_CONFIG_REGION_INDEX, &d->cfg);
	if (ret)
		goto err;
	ret = vfio_region_setup(d, VFIO_PCI_BAR0_REGION_INDEX, &d->bar0);
	if (ret)
		goto err;
	return 0;
err:
	vfio_dev_close(d);
	return ret;
}

int vfio_dev_open(struct vfio_dev *d, const char *bdf, enum vfio_mode mode)
{
	return dev_open(d, bdf, mode, NULL);
}

int vfio_dev_open_shared(struct vfio_dev *d, const char *bdf,
			 const struct vfio_dev *share)
{
	return dev_open(d, bdf, VFIO_MODE_CDEV_IOMMUFD, share);
}

void vfio_dev_close(struct vfio_dev *d)
{
	vfio_region_teardown(&d->bar0);
	vfio_region_teardown(&d->cfg);
	/* Device first: closing it detaches it from the IOAS / container. */
	if (d->device_fd >= 0)
		close(d->device_fd);
	if (d->group_fd >= 0)
		close(d->group_fd);
	if (d->container_fd >= 0)
		close(d->container_fd);
	if (d->iommufd >= 0 && !d->iommufd_borrowed)
		close(d->iommufd);
	d->iommufd_borrowed = false;
	d->device_fd = d->group_fd = d->container_fd = d->iommufd = -1;
}

int vfio_region_info(struct vfio_dev *d, uint32_t index,
		     struct vfio_region_info **out)
{
	struct vfio_region_info *ri;
	uint32_t argsz = sizeof(*ri);

	/* Second round only when the kernel asks for room for the caps. */
	for (int round = 0; round < 2; round++) {
		ri = calloc(1, argsz);
		if (!ri)
			return fail(ENOMEM, "calloc");
		ri->argsz = argsz;
		ri->index = index;
		if (ioctl(d->device_fd, VFIO_DEVICE_GET_REGION_INFO, ri)) {
			int err = errno;

			free(ri);
			return fail(err, "VFIO_DEVICE_GET_REGION_INFO(%u)", index);
		}
		if (ri->argsz <= argsz) {
			*out = ri;
			return 0;
		}
		argsz = ri->argsz;
		free(ri);
	}
	return fail(EOVERFLOW, "region %u info keeps growing", index);
}

const struct vfio_info_cap_header *
vfio_region_cap(const struct vfio_region_info *ri, uint16_t id)
{
	uint32_t off;
	unsigned int hops = 0;

	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS))
		return NULL;
	/* Bounded walk: a broken chain must not loop forever. */
	for (off = ri->cap_offset; off && hops < 64; hops++) {
		const struct vfio_info_cap_header *h;

		if (off < sizeof(*ri) || off + sizeof(*h) > ri->argsz)
			return NULL;
		h = (const void *)((const char *)ri + off);
		if (h->id == id)
			return h;
		off = h->next;
	}
	return NULL;
}

int vfio_region_setup(struct vfio_dev *d, uint32_t index, struct vfio_region *r)
{
	const struct vfio_region_info_cap_sparse_mmap *sp;
	struct vfio_region_info *ri;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = vfio_region_info(d, index, &ri);
	if (ret)
		return ret;
	r->index = index;
	r->flags = ri->flags;
	r->size = ri->size;
	r->offset = ri->offset;

	sp = (const void *)vfio_region_cap(ri, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	if (sp) {
		r->has_sparse_cap = true;
		for (uint32_t i = 0; i < sp->nr_areas && r->nr_areas < VFIO_MAX_AREAS; i++) {
			if (!sp->areas[i].size)
				continue;
			r->areas[r->nr_areas].offset = sp->areas[i].offset;
			r->areas[r->nr_areas].size = sp->areas[i].size;
			r->nr_areas++;
		}
	} else if ((ri->flags & VFIO_REGION_INFO_FLAG_MMAP) && ri->size) {
		r->areas[0].offset = 0;
		r->areas[0].size = ri->size;
		r->nr_areas = 1;
	}
	free(ri);

	if (!(r->flags & VFIO_REGION_INFO_FLAG_MMAP))
		r->nr_areas = 0;
	for (unsigned int i = 0; i < r->nr_areas; i++) {
		void *p = mmap(NULL, r->areas[i].size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, d->device_fd,
			       r->offset + r->areas[i].offset);

		/* Not fatal: access falls back to pread/pwrite. */
		r->areas[i].addr = p == MAP_FAILED ? NULL : p;
	}
	return 0;
}

void vfio_region_teardown(struct vfio_region *r)
{
	for (unsigned int i = 0; i < r->nr_areas; i++) {
		if (r->areas[i].addr)
			munmap(r->areas[i].addr, r->areas[i].size);
		r->areas[i].addr = NULL;
	}
	r->nr_areas = 0;
}

volatile void *vfio_region_ptr(const struct vfio_region *r, uint64_t off,
			       size_t len)
{
	for (unsigned int i = 0; i < r->nr_areas; i++) {
		const struct vfio_area *a = &r->areas[i];

		if (a->addr && off >= a->offset &&
		    off + len <= a->offset + a->size)
			return (volatile char *)a->addr + (off - a->offset);
	}
	return NULL;
}

bool vfio_bar0_is_mmapped(struct vfio_dev *d, uint64_t off)
{
	return vfio_region_ptr(&d->bar0, off, 4) != NULL;
}

static volatile uint32_t *bar0_ptr(struct vfio_dev *d, uint64_t off)
{
	return d->bar0_force_rw ? NULL : vfio_region_ptr(&d->bar0, off, 4);
}

int vfio_bar0_read32_rw(struct vfio_dev *d, uint64_t off, uint32_t *val)
{
	ssize_t n = pread(d->device_fd, val, 4, d->bar0.offset + off);

	if (n != 4)
		return fail(n < 0 ? errno : EIO, "pread BAR0+0x%llx",
			    (unsigned long long)off);
	return 0;
}

int vfio_bar0_write32_rw(struct vfio_dev *d, uint64_t off, uint32_t val)
{
	ssize_t n = pwrite(d->device_fd, &val, 4, d->bar0.offset + off);

	if (n != 4)
		return fail(n < 0 ? errno : EIO, "pwrite BAR0+0x%llx",
			    (unsigned long long)off);
	return 0;
}

uint32_t vfio_bar0_read32(struct vfio_dev *d, uint64_t off)
{
	volatile uint32_t *p = bar0_ptr(d, off);
	uint32_t v;

	if (p)
		return *p;
	/* A failed read looks like a surprise-removed device. */
	if (vfio_bar0_read32_rw(d, off, &v))
		return 0xffffffff;
	return v;
}

void vfio_bar0_write32(struct vfio_dev *d, uint64_t off, uint32_t val)
{
	volatile uint32_t *p = bar0_ptr(d, off);

	/* Descriptors written by the CPU must be visible before a doorbell. */
	__sync_synchronize();
	if (p)
		*p = val;
	else
		vfio_bar0_write32_rw(d, off, val);
}

int vfio_cfg_read(struct vfio_dev *d, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(d->device_fd, buf, len, d->cfg.offset + off);

	if (n != (ssize_t)len)
		return fail(n < 0 ? errno : EIO, "config read @0x%llx",
			    (unsigned long long)off);
	return 0;
}

int vfio_cfg_write(struct vfio_dev *d, uint64_t off, const void *buf,
		   size_t len)
{
	ssize_t n = pwrite(d->device_fd, buf, len, d->cfg.offset + off);

	if (n != (ssize_t)len)
		return fail(n < 0 ? errno : EIO, "config write @0x%llx",
			    (unsigned long long)off);
	return 0;
}

int vfio_enable_bus_master(struct vfio_dev *d)
{
	uint16_t cmd;
	int ret;

	ret = vfio_cfg_read(d, PCI_COMMAND, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	return vfio_cfg_write(d, PCI_COMMAND, &cmd, sizeof(cmd));
}

int vfio_irq_info(struct vfio_dev *d, uint32_t index, struct vfio_irq_info *out)
{
	memset(out, 0, sizeof(*out));
	out->argsz = sizeof(*out);
	out->index = index;
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_IRQ_INFO, out))
		return fail(errno, "VFIO_DEVICE_GET_IRQ_INFO(%u)", index);
	return 0;
}

int vfio_reset(struct vfio_dev *d)
{
	if (ioctl(d->device_fd, VFIO_DEVICE_RESET))
		return fail(errno, "VFIO_DEVICE_RESET");
	return 0;
}

int vfio_dma_map(struct vfio_dev *d, void *vaddr, uint64_t iova, uint64_t size)
{
	if (d->mode == VFIO_MODE_CDEV_IOMMUFD) {
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
				 IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = d->ioas_id,
			.user_va = (uintptr_t)vaddr,
			.length = size,
			.iova = iova,
		};

		if (ioctl(d->iommufd, IOMMU_IOAS_MAP, &map))
			return fail(errno, "IOMMU_IOAS_MAP iova 0x%llx",
				    (unsigned long long)iova);
	} else {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)vaddr,
			.iova = iova,
			.size = size,
		};

		if (ioctl(d->container_fd, VFIO_IOMMU_MAP_DMA, &map))
			return fail(errno, "VFIO_IOMMU_MAP_DMA iova 0x%llx",
				    (unsigned long long)iova);
	}
	return 0;
}

int vfio_dma_unmap(struct vfio_dev *d, uint64_t iova, uint64_t size)
{
	if (d->mode == VFIO_MODE_CDEV_IOMMUFD) {
		struct iommu_ioas_unmap unmap = {
			.size = sizeof(unmap),
			.ioas_id = d->ioas_id,
			.iova = iova,
			.length = size,
		};

		if (ioctl(d->iommufd, IOMMU_IOAS_UNMAP, &unmap))
			return fail(errno, "IOMMU_IOAS_UNMAP iova 0x%llx",
				    (unsigned long long)iova);
	} else {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.iova = iova,
			.size = size,
		};

		if (ioctl(d->container_fd, VFIO_IOMMU_UNMAP_DMA, &unmap))
			return fail(errno, "VFIO_IOMMU_UNMAP_DMA iova 0x%llx",
				    (unsigned long long)iova);
		if (unmap.size != size)
			return fail(EIO, "VFIO_IOMMU_UNMAP_DMA unmapped %llu of %llu",
				    (unsigned long long)unmap.size,
				    (unsigned long long)size);
	}
	return 0;
}

int vfio_dma_alloc(struct vfio_dev *d, size_t size, uint64_t iova,
		   struct vfio_dma_buf *buf)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *va;
	int ret;

	size = (size + pg - 1) & ~(size_t)(pg - 1);
	va = mmap(NULL, size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (va == MAP_FAILED)
		return fail(errno, "mmap %zu bytes", size);
	ret = vfio_dma_map(d, va, iova, size);
	if (ret) {
		munmap(va, size);
		return ret;
	}
	buf->va = va;
	buf->iova = iova;
	buf->size = size;
	return 0;
}

void vfio_dma_free(struct vfio_dev *d, struct vfio_dma_buf *buf)
{
	if (!buf->va)
		return;
	vfio_dma_unmap(d, buf->iova, buf->size);
	munmap(buf->va, buf->size);
	buf->va = NULL;
}

/* ---- migration uAPI ---------------------------------------------------- */

/* VFIO_DEVICE_FEATURE with a payload of len bytes (in and out). */
static int device_feature(struct vfio_dev *d, uint32_t flags, void *payload,
			  size_t len)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) + 64) / 8] = {};
	struct vfio_device_feature *f = (void *)buf;

	if (len > 64)
		return -EINVAL;
	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	memcpy(f->data, payload, len);
	if (ioctl(d->device_fd, VFIO_DEVICE_FEATURE, f))
		return -errno;
	memcpy(payload, f->data, len);
	return 0;
}

int vfio_mig_flags(struct vfio_dev *d, uint64_t *flags)
{
	struct vfio_device_feature_migration m = {};
	int ret = device_feature(d, VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIGRATION, &m, sizeof(m));

	if (ret)
		return fail(-ret, "VFIO_DEVICE_FEATURE GET MIGRATION");
	*flags = m.flags;
	return 0;
}

int vfio_mig_get_state(struct vfio_dev *d, uint32_t *state)
{
	struct vfio_device_feature_mig_state m = { .data_fd = -1 };
	int ret = device_feature(d, VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				 &m, sizeof(m));

	if (ret)
		return fail(-ret, "VFIO_DEVICE_FEATURE GET MIG_DEVICE_STATE");
	*state = m.device_state;
	return 0;
}

int vfio_mig_set_state(struct vfio_dev *d, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state m = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret = device_feature(d, VFIO_DEVICE_FEATURE_SET |
				    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				 &m, sizeof(m));

	if (data_fd)
		*data_fd = ret ? -1 : m.data_fd;
	if (ret)
		return fail(-ret, "VFIO_DEVICE_FEATURE SET MIG_DEVICE_STATE %s",
			    vfio_mig_state_name(state));
	return 0;
}

int vfio_mig_data_size(struct vfio_dev *d, uint64_t *bytes)
{
	struct vfio_device_feature_mig_data_size m = {};
	int ret = device_feature(d, VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
				 &m, sizeof(m));

	if (ret)
		return fail(-ret, "VFIO_DEVICE_FEATURE GET MIG_DATA_SIZE");
	*bytes = m.stop_copy_length;
	return 0;
}

int vfio_mig_precopy_info(int data_fd, uint64_t *initial, uint64_t *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };

	if (ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		return fail(errno, "VFIO_MIG_GET_PRECOPY_INFO");
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	return 0;
}

const char *vfio_mig_state_name(uint32_t state)
{
	static const char *const names[] = {
		[VFIO_DEVICE_STATE_ERROR] = "ERROR",
		[VFIO_DEVICE_STATE_STOP] = "STOP",
		[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
		[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
		[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
		[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
		[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}
