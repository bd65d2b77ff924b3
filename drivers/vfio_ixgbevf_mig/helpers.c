// SPDX-License-Identifier: GPL-2.0
/*
 * C side of vfio_ixgbevf_mig: wrappers for static inline functions and macros, which bindgen
 * cannot turn into callable symbols.
 */
#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/ratelimit.h>
#include <linux/seq_file.h>
#include <linux/timekeeping.h>
#include <linux/vfio.h>
#include "helpers.h"

struct pci_dev *mig_to_pci_dev(struct device *dev)
{
	return to_pci_dev(dev);
}

struct pci_dev *mig_pci_physfn(struct pci_dev *pdev)
{
	return pci_physfn(pdev);
}

bool mig_pci_is_virtfn(struct pci_dev *pdev)
{
	return pdev->is_virtfn;
}

int mig_pci_vf_id(struct pci_dev *pdev)
{
	return pci_iov_vf_id(pdev);
}

u64 mig_pci_resource_len(struct pci_dev *pdev, int bar)
{
	return pci_resource_len(pdev, bar);
}

const char *mig_dev_driver_name(struct device *dev)
{
	return dev->driver ? dev->driver->name : NULL;
}

void *mig_pci_get_drvdata(struct pci_dev *pdev)
{
	return pci_get_drvdata(pdev);
}

void mig_pci_set_drvdata(struct pci_dev *pdev, void *data)
{
	pci_set_drvdata(pdev, data);
}

void mig_vfio_put_device(struct vfio_device *vdev)
{
	vfio_put_device(vdev);
}

bool mig_is_err(const void *ptr)
{
	return IS_ERR(ptr);
}

long mig_ptr_err(const void *ptr)
{
	return PTR_ERR(ptr);
}

const char *mig_pci_name(struct pci_dev *pdev)
{
	return pci_name(pdev);
}

/*
 * Migration data files. The file_operations live here because `.owner = THIS_MODULE` is a
 * macro: the module must stay loaded while userspace holds a migration fd, even after the
 * device itself was closed and unbound. The operations themselves are Rust (vfio/file.rs).
 */
ssize_t rust_mig_file_read(struct file *filp, char __user *buf, size_t len, loff_t *pos);
ssize_t rust_mig_file_write(struct file *filp, const char __user *buf, size_t len,
			    loff_t *pos);
long rust_mig_file_ioctl(struct file *filp, unsigned int cmd, unsigned long arg);
int rust_mig_file_release(struct inode *inode, struct file *filp);

static const struct file_operations mig_file_fops = {
	.owner = THIS_MODULE,
	.read = rust_mig_file_read,
	.write = rust_mig_file_write,
	.unlocked_ioctl = rust_mig_file_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = rust_mig_file_release,
};

struct file *mig_file_create(const char *name, void *priv, int flags)
{
	struct file *filp = anon_inode_getfile(name, &mig_file_fops, priv, flags);

	if (!IS_ERR(filp))
		stream_open(filp->f_inode, filp);
	return filp;
}

void *mig_file_private(struct file *filp)
{
	return filp->private_data;
}

struct file *mig_get_file(struct file *filp)
{
	return get_file(filp);
}

void mig_usleep(unsigned long us)
{
	usleep_range(us, 2 * us);
}

/* NULL when not mapped (7.3 keeps an ERR_PTR there when mapping at enable failed). */
void __iomem *mig_barmap(struct vfio_pci_core_device *vdev, int bar)
{
	void __iomem *base = vdev->barmap[bar];

	return IS_ERR_OR_NULL(base) ? NULL : base;
}

void mig_set_migration(struct vfio_device *vdev, const struct vfio_migration_ops *ops,
		       unsigned int flags)
{
	vdev->mig_ops = ops;
	vdev->migration_flags = flags;
}

void mig_set_log_ops(struct vfio_device *vdev, const struct vfio_log_ops *ops)
{
	vdev->log_ops = ops;
}

/*
 * Module parameters are macros, so they live here. Read once per device at bind time: QEMU
 * reads region info once, so the trap cannot be switched on under a running user.
 */
static bool dirty_tracking = true;
module_param(dirty_tracking, bool, 0444);
MODULE_PARM_DESC(dirty_tracking,
		 "Trap RX tail writes (RX queue page of BAR0 not mmapped) and offer VFIO DMA logging (default: Y). N: BAR0 fully mmapped, no DMA logging");

bool mig_param_dirty_tracking(void)
{
	return dirty_tracking;
}

bool mig_bar_mmap_supported(struct vfio_pci_core_device *vdev, int bar)
{
	return vdev->bar_mmap_supported[bar];
}

int mig_msix_bar(struct vfio_pci_core_device *vdev)
{
	return vdev->msix_bar;
}

unsigned long mig_vma_pgoff(struct vm_area_struct *vma)
{
	return vma->vm_pgoff;
}

unsigned long mig_vma_len(struct vm_area_struct *vma)
{
	return vma->vm_end - vma->vm_start;
}

/*
 * iommufd: the physical device has no access object of its own (the core creates one only
 * for emulated devices), so the driver keeps one, attached to the IOAS the device was
 * attached to. Reads through it run under the IOAS's locks (iommufd_access_rw), so an
 * IOAS_UNMAP cannot free what is being read. A device attached to a HWPT id instead has no
 * IOAS this driver can name: the slot stays empty and the view is not readable (DMA logging
 * refused, reads fail closed). All three ops run under the device set lock.
 */
static void mig_access_unmap(void *data, unsigned long iova, unsigned long length)
{
	/* Nothing pinned: iommufd calls this only for accesses that pin pages. */
}

static const struct iommufd_access_ops mig_access_ops = {
	.unmap = mig_access_unmap,
};

static void mig_dma_slot_put(struct vfio_device *core, struct mig_dma_slot *slot)
{
	lockdep_assert_held(&core->dev_set->lock);
	if (!slot->access)
		return;
	iommufd_access_detach(slot->access);
	iommufd_access_destroy(slot->access);
	slot->access = NULL;
}

int mig_attach_ioas(struct vfio_device *core, u32 *pt_id, struct mig_dma_slot *slot)
{
	struct iommufd_access *access;
	u32 requested = *pt_id, id;
	int ret;

	ret = vfio_iommufd_physical_attach_ioas(core, pt_id);
	if (ret)
		return ret;
	mig_dma_slot_put(core, slot);	/* a replace: the old IOAS is not the view any more */
	access = iommufd_access_create(vfio_iommufd_device_ictx(core), &mig_access_ops, NULL,
				       &id);
	if (IS_ERR(access))
		return 0;
	if (iommufd_access_attach(access, requested)) {
		iommufd_access_destroy(access);
		return 0;
	}
	slot->access = access;
	return 0;
}

void mig_detach_ioas(struct vfio_device *core, struct mig_dma_slot *slot)
{
	mig_dma_slot_put(core, slot);
	vfio_iommufd_physical_detach_ioas(core);
}

void mig_unbind_iommufd(struct vfio_device *core, struct mig_dma_slot *slot)
{
	mig_dma_slot_put(core, slot);
	vfio_iommufd_physical_unbind(core);
}

/*
 * Whether the device's DMA view can be read back safely: through a paging IOMMU domain (an
 * identity domain would make any host RAM readable, a nested one has no iova_to_phys, none
 * at all (no-IOMMU mode) has no view), and with iommufd through our access to its IOAS.
 */
bool mig_dma_view_readable(struct vfio_pci_core_device *vdev, struct mig_dma_slot *slot)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(&vdev->pdev->dev);

	lockdep_assert_held(&vdev->vdev.dev_set->lock);
	if (!domain || domain->type != IOMMU_DOMAIN_UNMANAGED)
		return false;
	return !vdev->vdev.iommufd_device || slot->access;
}

/*
 * The device set lock: iommufd attaches, replaces and detaches a device's page table under
 * it (vfio_df_ioctl_attach_pt/detach_pt), so while it is held the domain found by
 * iommu_get_domain_for_dev() stays attached and alive. The VFIO core holds it around
 * open_device/close_device, which take the driver's state mutex: it comes first.
 */
void mig_dev_set_lock(struct vfio_pci_core_device *vdev)
{
	mutex_lock(&vdev->vdev.dev_set->lock);
}

void mig_dev_set_unlock(struct vfio_pci_core_device *vdev)
{
	mutex_unlock(&vdev->vdev.dev_set->lock);
}

/*
 * Reads [iova, iova + len), inside one page, as the device would, with the device set lock
 * held. Returns 0, -EFAULT when nothing is mapped there (the device could not DMA there
 * either), or -EOPNOTSUPP when the view cannot be read safely (the caller then assumes
 * everything dirty).
 *
 * With a type1 container, vfio_dma_rw() looks the mapping up and copies under the
 * container's lock; it only works from the process that mapped the memory (other callers
 * get -EPERM: unsafe, not unmapped). With iommufd, iommufd_access_rw() does the same under
 * the IOAS's locks (-ENOENT: not mapped). Either way an unmap cannot free the page under
 * us, and the copy is from the mapping's user address (what the VMM itself migrates) or
 * from the pinned pages.
 */
int mig_read_iova(struct vfio_pci_core_device *vdev, struct mig_dma_slot *slot, u64 iova,
		  void *buf, size_t len)
{
	struct vfio_device *core = &vdev->vdev;
	int ret;

	lockdep_assert_held(&core->dev_set->lock);
	if (len > PAGE_SIZE - offset_in_page(iova))
		return -EINVAL;
	if (!mig_dma_view_readable(vdev, slot))
		return -EOPNOTSUPP;
	if (!core->iommufd_device) {
		ret = vfio_dma_rw(core, iova, buf, len, false);
		/* type1 answers -EINVAL for an IOVA no mapping covers. */
		if (ret == -EINVAL)
			return -EFAULT;
		return ret ? -EOPNOTSUPP : 0;
	}
	ret = iommufd_access_rw(slot->access, iova, buf, len, 0);
	if (ret == -ENOENT)
		return -EFAULT;
	return ret ? -EOPNOTSUPP : 0;
}

/*
 * Debug knob (off by default): widens the windows the log lock must close, the trap between
 * marking and forwarding and a report between its steps, so that a race in the protocol
 * becomes reproducible in the VM (selftests/vfio_race_test.c). Microseconds.
 */
static unsigned int debug_race_delay_us;
module_param(debug_race_delay_us, uint, 0644);
MODULE_PARM_DESC(debug_race_delay_us,
		 "Debug: sleep this long inside the RX tail trap and between report steps (default 0)");

void mig_debug_race_delay(void)
{
	unsigned int us = READ_ONCE(debug_race_delay_us);

	if (us)
		fsleep(us);
}

u64 mig_ktime_get_ns(void)
{
	return ktime_get_ns();
}

/*
 * Refusals of user input (a bad stream, bad logging ranges) are logged for the admin, but
 * userspace can provoke them at will: share one budget, as printk_ratelimited() would.
 */
bool mig_log_ratelimit(void)
{
	static DEFINE_RATELIMIT_STATE(rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);

	return __ratelimit(&rs);
}

/*
 * Statistics in debugfs: <debugfs>/vfio_ixgbevf_mig/<pci name>/stats, one "name value" line
 * per counter, written by Rust (vfio/misc.rs) from the device's `Stats`. Creation errors are
 * ignored, as debugfs users do: debugfs_create_*() take an ERR_PTR parent and return one.
 *
 * debugfs_create_file() with real file_operations wraps them in debugfs's full proxy, which
 * holds debugfs_file_get() around every open and read; debugfs_remove() marks the dentry
 * dead and waits for those to finish, after which reads of still-open files fail with EIO.
 * So once mig_debugfs_remove() returns, `show` no longer runs with the device's `stats`
 * pointer, and the device may be freed. `.owner = THIS_MODULE` (DEFINE_SHOW_ATTRIBUTE)
 * keeps the module loaded while a stats file is open.
 */
int rust_mig_stats_show(struct seq_file *m, void *stats);

static int mig_stats_show(struct seq_file *m, void *v)
{
	return rust_mig_stats_show(m, m->private);
}
DEFINE_SHOW_ATTRIBUTE(mig_stats);

/* Set at module init before the driver registers, removed after it unregistered. */
static struct dentry *mig_debugfs_root;

void mig_debugfs_init(void)
{
	mig_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

void mig_debugfs_exit(void)
{
	debugfs_remove(mig_debugfs_root);
	mig_debugfs_root = NULL;
}

void mig_debugfs_add(struct pci_dev *pdev, void *stats)
{
	struct dentry *dir = debugfs_create_dir(pci_name(pdev), mig_debugfs_root);

	debugfs_create_file("stats", 0444, dir, stats, &mig_stats_fops);
}

void mig_debugfs_remove(struct pci_dev *pdev)
{
	if (!IS_ERR_OR_NULL(mig_debugfs_root))
		debugfs_lookup_and_remove(pci_name(pdev), mig_debugfs_root);
}

/* iova_bitmap_set() lives in the IOMMUFD symbol namespace. */
/* MODULE_IMPORT_NS() takes a bare name on 6.12 and a string from 6.13 on: spell it out. */
MODULE_INFO(import_ns, "IOMMUFD");
