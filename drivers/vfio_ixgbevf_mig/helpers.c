// SPDX-License-Identifier: GPL-2.0
/*
 * C side of vfio_ixgbevf_mig: wrappers for static inline functions and macros, which bindgen
 * cannot turn into callable symbols.
 */
#include <linux/err.h>
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
