/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C wrappers for the static inlines and macros the Rust side needs. Each is a one-liner: any
 * logic belongs in Rust.
 */
#ifndef VFIO_IXGBEVF_MIG_HELPERS_H
#define VFIO_IXGBEVF_MIG_HELPERS_H

#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

struct pci_dev *mig_to_pci_dev(struct device *dev);
struct pci_dev *mig_pci_physfn(struct pci_dev *pdev);
bool mig_pci_is_virtfn(struct pci_dev *pdev);
int mig_pci_vf_id(struct pci_dev *pdev);
u64 mig_pci_resource_len(struct pci_dev *pdev, int bar);
const char *mig_dev_driver_name(struct device *dev);
const char *mig_pci_name(struct pci_dev *pdev);
void *mig_pci_get_drvdata(struct pci_dev *pdev);
void mig_pci_set_drvdata(struct pci_dev *pdev, void *data);
void mig_vfio_put_device(struct vfio_device *vdev);
bool mig_is_err(const void *ptr);
long mig_ptr_err(const void *ptr);

struct file *mig_file_create(const char *name, void *priv, int flags);
void *mig_file_private(struct file *filp);
struct file *mig_get_file(struct file *filp);
void mig_usleep(unsigned long us);
void __iomem *mig_barmap(struct vfio_pci_core_device *vdev, int bar);
void mig_set_migration(struct vfio_device *vdev, const struct vfio_migration_ops *ops,
		       unsigned int flags);

void mig_set_log_ops(struct vfio_device *vdev, const struct vfio_log_ops *ops);
bool mig_param_dirty_tracking(void);
bool mig_bar_mmap_supported(struct vfio_pci_core_device *vdev, int bar);
int mig_msix_bar(struct vfio_pci_core_device *vdev);
unsigned long mig_vma_pgoff(struct vm_area_struct *vma);
unsigned long mig_vma_len(struct vm_area_struct *vma);
struct iommufd_access;

/* The device's own view of its IOAS (iommufd): protected by the device set lock. */
struct mig_dma_slot {
	struct iommufd_access *access;	/* attached to the device's IOAS, or NULL */
};
int mig_attach_ioas(struct vfio_device *core, u32 *pt_id, struct mig_dma_slot *slot);
void mig_detach_ioas(struct vfio_device *core, struct mig_dma_slot *slot);
void mig_unbind_iommufd(struct vfio_device *core, struct mig_dma_slot *slot);
bool mig_dma_view_readable(struct vfio_pci_core_device *vdev, struct mig_dma_slot *slot);
void mig_dev_set_lock(struct vfio_pci_core_device *vdev);
void mig_dev_set_unlock(struct vfio_pci_core_device *vdev);
int mig_read_iova(struct vfio_pci_core_device *vdev, struct mig_dma_slot *slot, u64 iova,
		  void *buf, size_t len);
void mig_debug_race_delay(void);
u64 mig_ktime_get_ns(void);
bool mig_log_ratelimit(void);

void mig_debugfs_init(void);
void mig_debugfs_exit(void);
void mig_debugfs_add(struct pci_dev *pdev, void *stats);
void mig_debugfs_remove(struct pci_dev *pdev);

#endif
