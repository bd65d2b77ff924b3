// SPDX-License-Identifier: GPL-2.0

//! Host tests of [`super`] (`map.rs`), in their own file to keep that one short.

use super::*;
use crate::pure::hw::family::SUPPORTED;

/// Which register, if any, holds the byte at BAR0 `offset` in the widest map of `family`.
fn locate(family: Family, offset: u64) -> Option<RegRef> {
    RegMap::for_family(family).locate(offset)
}

/// The BAR0 pages of `model` that hold RX tail registers.
fn rx_tail_pages(model: &VfModel) -> PageSet {
    RegMap::for_model(model).rx_tail_pages()
}

// Transcriptions of the C macros (igbvf/regs.h, igb/e1000_regs.h, ixgbevf/regs.h),
// kept literal so that the table-driven map is checked against them.
fn e1000_q(n: u32, low: u32, high: u32) -> u32 {
    if n < 4 {
        low + n * 0x100
    } else {
        high + n * 0x40
    }
}
fn e1000(reg: QueueReg, n: u32) -> u32 {
    match reg {
        QueueReg::Rdbal => e1000_q(n, 0x02800, 0x0C000),
        QueueReg::Rdbah => e1000_q(n, 0x02804, 0x0C004),
        QueueReg::Rdlen => e1000_q(n, 0x02808, 0x0C008),
        QueueReg::Srrctl => e1000_q(n, 0x0280C, 0x0C00C),
        QueueReg::Rdh => e1000_q(n, 0x02810, 0x0C010),
        QueueReg::Rdt => e1000_q(n, 0x02818, 0x0C018),
        QueueReg::Rxdctl => e1000_q(n, 0x02828, 0x0C028),
        QueueReg::Tdbal => e1000_q(n, 0x03800, 0x0E000),
        QueueReg::Tdbah => e1000_q(n, 0x03804, 0x0E004),
        QueueReg::Tdlen => e1000_q(n, 0x03808, 0x0E008),
        QueueReg::Tdh => e1000_q(n, 0x03810, 0x0E010),
        QueueReg::Tdt => e1000_q(n, 0x03818, 0x0E018),
        QueueReg::Txdctl => e1000_q(n, 0x03828, 0x0E028),
        QueueReg::Tdwbal => e1000_q(n, 0x03838, 0x0E038),
        QueueReg::Tdwbah => e1000_q(n, 0x0383C, 0x0E03C),
        // E1000_DCA_RXCTRL(_n) (0x02814 + (_n << 8)), E1000_DCA_TXCTRL likewise; the C
        // macros have no high bank, the registers follow their neighbours.
        QueueReg::DcaRxctrl => e1000_q(n, 0x02814, 0x0C014),
        QueueReg::DcaTxctrl => e1000_q(n, 0x03814, 0x0E014),
    }
}
fn ixgbe(reg: QueueReg, x: u32) -> u32 {
    let base = match reg {
        QueueReg::Rdbal => 0x01000,
        QueueReg::Rdbah => 0x01004,
        QueueReg::Rdlen => 0x01008,
        QueueReg::Rdh => 0x01010,
        QueueReg::Rdt => 0x01018,
        QueueReg::Rxdctl => 0x01028,
        QueueReg::Srrctl => 0x01014,
        QueueReg::DcaRxctrl => 0x0100C,
        QueueReg::Tdbal => 0x02000,
        QueueReg::Tdbah => 0x02004,
        QueueReg::Tdlen => 0x02008,
        QueueReg::Tdh => 0x02010,
        QueueReg::Tdt => 0x02018,
        QueueReg::Txdctl => 0x02028,
        QueueReg::Tdwbal => 0x02038,
        QueueReg::Tdwbah => 0x0203C,
        QueueReg::DcaTxctrl => 0x0200C,
    };
    base + 0x40 * x
}

fn c_queue(family: Family, reg: QueueReg, n: u8) -> u32 {
    match family {
        Family::Igb => e1000(reg, n.into()),
        Family::Ixgbe => ixgbe(reg, n.into()),
    }
}

/// Device-wide registers: (reg, igb offset, ixgbe offset) for index 0, from the headers.
const DEV_TABLE: [(Reg, Option<u32>, u32); 17] = [
    (Reg::Ctrl, Some(0x00000), 0x00000),
    (Reg::Status, Some(0x00008), 0x00008),
    (Reg::Eicr, Some(0x01580), 0x00100),
    (Reg::Eics, Some(0x01520), 0x00104),
    (Reg::Eims, Some(0x01524), 0x00108),
    (Reg::Eimc, Some(0x01528), 0x0010C),
    (Reg::Eiac, Some(0x0152C), 0x00110),
    (Reg::Eiam, Some(0x01530), 0x00114),
    (Reg::Eitr, Some(0x01680), 0x00820),
    (Reg::Ivar, Some(0x01700), 0x00120),
    (Reg::IvarMisc, Some(0x01740), 0x00140),
    (Reg::Mailbox, Some(0x00C40), 0x002FC),
    (Reg::MbMem, Some(0x00800), 0x00200),
    (Reg::Psrtype, Some(0x00F0C), 0x00300),
    (Reg::Mrqc, None, 0x3000),
    (Reg::Rssrk, None, 0x3100),
    (Reg::Reta, None, 0x3200),
];

fn model(device: u16) -> VfModel {
    VfModel::from_ids(0x8086, device).unwrap()
}

fn all_maps() -> Vec<RegMap> {
    let mut maps: Vec<RegMap> = SUPPORTED.iter().map(VfModel::regs).collect();
    maps.extend(Family::ALL.map(RegMap::for_family));
    maps
}

#[test]
fn device_registers_match_c_headers() {
    let igb = RegMap::for_family(Family::Igb);
    let ixgbe = RegMap::for_family(Family::Ixgbe);
    for (reg, igb_off, ixgbe_off) in DEV_TABLE {
        let got = igb.reg(reg, 0).ok().map(RegOffset::get);
        assert_eq!(got, igb_off, "igb {}", reg.name());
        assert_eq!(
            ixgbe.reg(reg, 0).map(RegOffset::get),
            Ok(ixgbe_off),
            "{}",
            reg.name()
        );
    }
    // Arrays: E1000_EITR(_n) / IXGBE_VTEITR(x) = base + 4n, same for IVAR, VMBMEM words
    // (array_ew32), VFRSSRK, VFRETA.
    assert_eq!(igb.reg(Reg::Eitr, 2).map(RegOffset::get), Ok(0x1688));
    assert_eq!(ixgbe.reg(Reg::Eitr, 2).map(RegOffset::get), Ok(0x0828));
    assert_eq!(ixgbe.reg(Reg::Ivar, 3).map(RegOffset::get), Ok(0x012C));
    assert_eq!(igb.reg(Reg::MbMem, 15).map(RegOffset::get), Ok(0x083C));
    assert_eq!(ixgbe.reg(Reg::MbMem, 15).map(RegOffset::get), Ok(0x023C));
    assert_eq!(ixgbe.reg(Reg::Rssrk, 9).map(RegOffset::get), Ok(0x3124));
    assert_eq!(ixgbe.reg(Reg::Reta, 15).map(RegOffset::get), Ok(0x323C));
}

#[test]
fn array_lengths() {
    let igb = RegMap::for_family(Family::Igb);
    let x550 = model(0x1565).regs();
    let x82599 = model(0x10ED).regs();
    let i350 = model(0x1520).regs();
    assert_eq!((igb.count(Reg::Eitr), igb.count(Reg::Ivar)), (3, 1));
    assert_eq!((x550.count(Reg::Eitr), x550.count(Reg::Ivar)), (3, 4));
    assert_eq!((i350.count(Reg::Ivar), i350.count(Reg::MbMem)), (1, 16));
    assert_eq!(x550.count(Reg::Rssrk), 10);
    assert_eq!(x550.count(Reg::Reta), 16);
    assert_eq!(x550.count(Reg::Mrqc), 1);
    for reg in [Reg::Mrqc, Reg::Rssrk, Reg::Reta] {
        assert_eq!(x82599.count(reg), 0);
        assert_eq!(igb.count(reg), 0);
    }
    assert_eq!(x550.count(Reg::Ctrl), 1);
}

#[test]
fn queue_registers_match_c_macros() {
    for family in Family::ALL {
        let map = RegMap::for_family(family);
        for queue in 0..map.queues() {
            for reg in QueueReg::ALL {
                let want = c_queue(family, reg, queue);
                assert_eq!(map.queue(reg, queue).map(RegOffset::get), Ok(want));
            }
        }
    }
    // Spot values worked out by hand from the headers.
    let igb = RegMap::for_family(Family::Igb);
    let ixgbe = RegMap::for_family(Family::Ixgbe);
    let at = |m: RegMap, r, q| m.queue(r, q).map(RegOffset::get);
    assert_eq!(at(igb, QueueReg::Rdt, 0), Ok(0x2818));
    assert_eq!(at(igb, QueueReg::Rdt, 1), Ok(0x2918));
    assert_eq!(at(igb, QueueReg::Srrctl, 1), Ok(0x290C));
    assert_eq!(at(igb, QueueReg::Tdt, 1), Ok(0x3918));
    assert_eq!(at(igb, QueueReg::Tdwbah, 1), Ok(0x393C));
    assert_eq!(at(ixgbe, QueueReg::Rdt, 7), Ok(0x11D8));
    assert_eq!(at(ixgbe, QueueReg::Srrctl, 3), Ok(0x10D4));
    assert_eq!(at(ixgbe, QueueReg::DcaRxctrl, 1), Ok(0x104C));
    assert_eq!(at(ixgbe, QueueReg::Tdwbah, 7), Ok(0x21FC));
}

#[test]
fn igb_location_function_switches_base_at_queue_4() {
    for queue in 0..=u8::MAX {
        for reg in QueueReg::ALL {
            assert_eq!(
                raw_queue_offset(Family::Igb, reg, queue),
                e1000(reg, queue.into())
            );
            assert_eq!(
                raw_queue_offset(Family::Ixgbe, reg, queue),
                ixgbe(reg, queue.into())
            );
        }
    }
    assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rdbal, 3), 0x2B00);
    assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rdbal, 4), 0xC100);
    assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rdt, 4), 0xC118);
    assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rxdctl, 5), 0xC168);
    assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Tdbal, 4), 0xE100);
    // The high bank lies beyond the 16 KiB VF BAR: never handed out.
    let high = raw_queue_offset(Family::Igb, QueueReg::Rdt, 4);
    assert_eq!(to_offset(high), Err(RegError::OutsideBar(0xC118)));
}

#[test]
fn out_of_range_queues_and_indices_are_errors() {
    let m82576 = model(0x10CA).regs();
    let i350 = model(0x1520).regs();
    let x540 = model(0x1515).regs();
    let oor = |index, count| Err(RegError::IndexOutOfRange { index, count });
    assert_eq!(m82576.queue(QueueReg::Rdt, 2), oor(2, 2));
    assert_eq!(m82576.queue(QueueReg::Rdt, 4), oor(4, 2));
    assert_eq!(m82576.queue(QueueReg::Tdt, u8::MAX), oor(255, 2));
    assert_eq!(i350.queue(QueueReg::Rdt, 1), oor(1, 1));
    assert_eq!(x540.queue(QueueReg::Rxdctl, 8), oor(8, 8));
    assert_eq!(x540.reg(Reg::Eitr, 3), oor(3, 3));
    assert_eq!(x540.reg(Reg::Ctrl, 1), oor(1, 1));
    assert_eq!(x540.reg(Reg::MbMem, 16), oor(16, 16));
    assert_eq!(i350.reg(Reg::Ivar, 1), oor(1, 1));
    assert_eq!(x540.reg(Reg::Reta, 0), Err(RegError::NotPresent(Reg::Reta)));
    assert_eq!(
        m82576.reg(Reg::Mrqc, 0),
        Err(RegError::NotPresent(Reg::Mrqc))
    );
    let rdt = RegRef::Queue {
        reg: QueueReg::Rdt,
        queue: 9,
    };
    assert_eq!(x540.offset(rdt), oor(9, 8));
}

#[test]
fn geometry_is_capped_by_family() {
    let wide = Geometry {
        queues: u8::MAX,
        msix_vectors: u8::MAX,
        rss: true,
    };
    let igb = RegMap::new(Family::Igb, wide);
    assert_eq!(igb.geometry(), Family::Igb.max_geometry());
    assert_eq!(igb.family(), Family::Igb);
    let ixgbe = RegMap::new(Family::Ixgbe, wide);
    assert_eq!(ixgbe.geometry(), Family::Ixgbe.max_geometry());
    assert_eq!(
        ixgbe.registers().count(),
        RegMap::for_family(Family::Ixgbe).registers().count()
    );
    let none = RegMap::new(
        Family::Ixgbe,
        Geometry {
            queues: 0,
            msix_vectors: 0,
            rss: false,
        },
    );
    assert_eq!(none.count(Reg::Ivar), 0);
    assert_eq!(none.count(Reg::Eitr), 0);
    assert_eq!(none.reg(Reg::Eitr, 0), Err(RegError::NotPresent(Reg::Eitr)));
    assert_eq!(none.rx_tail_pages(), PageSet::new());
}

#[test]
fn every_register_of_every_map_is_inside_bar0() {
    assert!(map_fits_bar(RegMap::for_family(Family::Igb)));
    assert!(map_fits_bar(RegMap::for_family(Family::Ixgbe)));
    for map in all_maps() {
        let mut n = 0;
        for (r, off) in map.registers() {
            assert!(
                off.get() % 4 == 0 && off.get() + 4 <= BAR0_SIZE,
                "{r} at {off}"
            );
            assert_eq!(map.offset(r), Ok(off));
            n += 1;
        }
        assert!(n > 0);
    }
}

#[test]
fn register_counts_per_model() {
    let count = |d| model(d).regs().registers().count();
    // 8 single + 3 EITR + 1 IVAR + IVAR_MISC + MAILBOX + 16 MBMEM + PSRTYPE = 31,
    // plus 17 per queue.
    assert_eq!(count(0x10CA), 31 + 2 * 17);
    assert_eq!(count(0x1520), 31 + 17);
    // 8 + 3 EITR + 4 IVAR + 1 + 1 + 16 + 1 = 34 (+ 27 RSS from X550 on), 8 queues.
    assert_eq!(count(0x10ED), 34 + 8 * 17);
    assert_eq!(count(0x1515), 34 + 8 * 17);
    for d in [0x1565, 0x15A8, 0x15C5, 0x57AD] {
        assert_eq!(count(d), 34 + 27 + 8 * 17);
    }
}

#[test]
fn iteration_order_is_device_then_queue_major() {
    let regs: Vec<RegRef> = model(0x10CA).regs().registers().map(|(r, _)| r).collect();
    assert_eq!(regs[0], RegRef::dev(Reg::Ctrl));
    assert_eq!(
        regs[31],
        RegRef::Queue {
            reg: QueueReg::Rdbal,
            queue: 0
        }
    );
    assert_eq!(
        regs[31 + 17],
        RegRef::Queue {
            reg: QueueReg::Rdbal,
            queue: 1
        }
    );
    assert_eq!(
        *regs.last().unwrap(),
        RegRef::Queue {
            reg: QueueReg::DcaTxctrl,
            queue: 1
        }
    );
}

#[test]
fn locate_round_trips_every_register() {
    for map in all_maps() {
        let mut offsets = Vec::new();
        for (r, off) in map.registers() {
            let o = u64::from(off.get());
            for byte in 0..4 {
                assert_eq!(map.locate(o + byte), Some(r), "{r} at {off} + {byte}");
            }
            if map == RegMap::for_family(map.family()) {
                assert_eq!(locate(map.family(), o), Some(r));
            }
            offsets.push(off);
        }
        // No two registers share an offset.
        let n = offsets.len();
        offsets.sort();
        offsets.dedup();
        assert_eq!(offsets.len(), n);
    }
}

#[test]
fn locate_rejects_everything_else() {
    for map in all_maps() {
        let known: Vec<u32> = map.registers().map(|(_, off)| off.get()).collect();
        for off in (0..BAR0_SIZE).step_by(4) {
            let found = map.locate(off.into());
            assert_eq!(found.is_some(), known.contains(&off), "{off:#x}");
        }
        for off in [0x4000, 0x4001, 0xC118, 0x1_0000_2818, u64::MAX] {
            assert_eq!(map.locate(off), None);
        }
    }
}

#[test]
fn locate_recognises_rx_tail_writes() {
    let rdt = |queue| {
        Some(RegRef::Queue {
            reg: QueueReg::Rdt,
            queue,
        })
    };
    assert_eq!(locate(Family::Igb, 0x2818), rdt(0));
    assert_eq!(locate(Family::Igb, 0x2918), rdt(1));
    assert_eq!(locate(Family::Igb, 0x2A18), None);
    assert_eq!(locate(Family::Ixgbe, 0x1018), rdt(0));
    assert_eq!(locate(Family::Ixgbe, 0x11D8), rdt(7));
    assert_eq!(locate(Family::Ixgbe, 0x1218), None);
    // A model map only knows the model's queues and registers.
    assert_eq!(model(0x1520).regs().locate(0x2918), None);
    assert_eq!(model(0x10CA).regs().locate(0x2918), rdt(1));
    assert_eq!(model(0x10ED).regs().locate(0x3000), None);
    assert_eq!(locate(Family::Ixgbe, 0x3000), Some(RegRef::dev(Reg::Mrqc)));
    assert_eq!(
        locate(Family::Igb, 0x0808),
        Some(RegRef::Dev {
            reg: Reg::MbMem,
            index: 2
        })
    );
}

#[test]
fn rx_tail_pages_per_model() {
    for m in SUPPORTED {
        let pages: Vec<u32> = rx_tail_pages(&m).iter().collect();
        let want = match m.family {
            Family::Igb => 0x2000,
            Family::Ixgbe => 0x1000,
        };
        assert_eq!(pages, [want], "{}", m.name);
        // Every RDT of the model is on a trapped page.
        for queue in 0..m.geometry.queues {
            let off = m.regs().queue(QueueReg::Rdt, queue).unwrap();
            assert!(rx_tail_pages(&m).contains(off.get().into()));
        }
    }
    let runs: Vec<_> = rx_tail_pages(&model(0x10CA)).complement_runs().collect();
    assert_eq!(runs, [(0, 0x2000), (0x3000, 0x1000)]);
}
