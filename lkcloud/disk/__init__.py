"""The building blocks of disk images, below the format table (:mod:`lkcloud.formats`):

    layout.py      where parts go so that a release moves few 512 KiB blocks
    bootdisk.py    a bootable disk: partition table + FAT32 boot partition (UKI, syslinux)
    gpt.py mbr.py  partition tables
    fatwriter.py   FAT32 written in-process; fat.py: FAT through mtools (the ISO's EFI image)
    uki.py         unified kernel images (systemd-boot stub + sections)
    syslinux.py    syslinux's install, done in-process; bootloader.py: the boot loader files
    iso.py         the hybrid ISO (xorriso)
    vhd.py         VHD footers; convert.py: qemu-img conversions (qcow2, VMDK, dynamic VHD)
    gnutar.py      sparse GNU tar members; sparse.py: where a file's data is
    ids.py         identifiers derived from content, sizes and alignment helpers
"""
