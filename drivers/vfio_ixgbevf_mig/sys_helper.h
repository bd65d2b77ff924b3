/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of the module's own bindgen run (see Kbuild). `MIG_CONST_*` turn function-like macros
 * (ioctl numbers, flag values) into constants bindgen can evaluate; Kbuild strips the prefix.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#include "helpers.h"
/* The module's copy of the PF interface (patches/0001 adds the same file to the kernel). */
#include "intel_vf_mig.h"

const unsigned int MIG_CONST_VFIO_DEVICE_GET_INFO = VFIO_DEVICE_GET_INFO;
const unsigned int MIG_CONST_VFIO_DEVICE_GET_REGION_INFO = VFIO_DEVICE_GET_REGION_INFO;
const unsigned int MIG_CONST_VFIO_DEVICE_GET_IRQ_INFO = VFIO_DEVICE_GET_IRQ_INFO;
const unsigned int MIG_CONST_VFIO_DEVICE_SET_IRQS = VFIO_DEVICE_SET_IRQS;
const unsigned int MIG_CONST_VFIO_DEVICE_RESET = VFIO_DEVICE_RESET;
const unsigned int MIG_CONST_VFIO_DEVICE_FEATURE = VFIO_DEVICE_FEATURE;
const unsigned int MIG_CONST_VFIO_DEVICE_IOEVENTFD = VFIO_DEVICE_IOEVENTFD;
const unsigned int MIG_CONST_VFIO_PCI_BAR0_REGION_INDEX = VFIO_PCI_BAR0_REGION_INDEX;
const unsigned int MIG_CONST_VFIO_PCI_CONFIG_REGION_INDEX = VFIO_PCI_CONFIG_REGION_INDEX;
const unsigned int MIG_CONST_PCI_ERS_RESULT_RECOVERED = PCI_ERS_RESULT_RECOVERED;
const unsigned int MIG_CONST_VFIO_MIG_GET_PRECOPY_INFO = VFIO_MIG_GET_PRECOPY_INFO;
const unsigned int MIG_CONST_VFIO_MIGRATION_STOP_COPY = VFIO_MIGRATION_STOP_COPY;
const unsigned int MIG_CONST_VFIO_MIGRATION_P2P = VFIO_MIGRATION_P2P;
const unsigned int MIG_CONST_VFIO_MIGRATION_PRE_COPY = VFIO_MIGRATION_PRE_COPY;
const int MIG_CONST_EOPNOTSUPP = EOPNOTSUPP;
const int MIG_CONST_EFAULT = EFAULT;
const int MIG_CONST_ENOMSG = ENOMSG;
const unsigned int MIG_CONST_PAGE_SHIFT = PAGE_SHIFT;
const unsigned long MIG_CONST_PAGE_SIZE = PAGE_SIZE;
