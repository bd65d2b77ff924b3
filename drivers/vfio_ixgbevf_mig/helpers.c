// SPDX-License-Identifier: GPL-2.0
/*
 * C side of vfio_ixgbevf_mig: wrappers for static inline functions and macros, which bindgen
 * cannot turn into callable symbols.
 */
#include <linux/anon_inodes.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/pci.h>
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
 * device itself was closed and unbound. The operations themselves are Rust (vfio.rs).
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

void __iomem *mig_barmap(struct vfio_pci_core_device *vdev, int bar)
{
	return vdev->barmap[bar];
}

void mig_set_migration(struct vfio_device *vdev, const struct vfio_migration_ops *ops,
		       unsigned int flags)
{
	vdev->mig_ops = ops;
	vdev->migration_flags = flags;
}
