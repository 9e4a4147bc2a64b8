//! Lambda packages for tests that deploy their own copy of a function (e.g. with a fault hook
//! in its environment): a zip whose `bootstrap` execs this checkout's binary, as
//! `infra/deploy.py --link-code` makes, written without a zip library.

use std::path::PathBuf;

/// A package whose `bootstrap` execs `target/debug/<binary>` (built by `cargo build --workspace --bins`).
pub fn linked_bootstrap_zip(binary: &str) -> Vec<u8> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join(binary);
    let path = path.canonicalize().unwrap_or_else(|_| {
        panic!(
            "{} is missing: run cargo build --workspace --bins first",
            path.display()
        )
    });
    let script = format!("#!/bin/sh\nexec '{}' \"$@\"\n", path.display());
    zip_one_executable("bootstrap", script.as_bytes())
}

/// A zip holding one stored (uncompressed) file with Unix mode 0755: all a custom-runtime
/// package needs, without a zip library.
pub fn zip_one_executable(name: &str, content: &[u8]) -> Vec<u8> {
    let crc = crc32(content);
    let size = u32::try_from(content.len()).unwrap_or(u32::MAX);
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let mut zip = Vec::new();
    // Local file header.
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    for value in [20u16, 0, 0, 0, 0] {
        zip.extend_from_slice(&value.to_le_bytes()); // version, flags, method (stored), time, date
    }
    for value in [crc, size, size] {
        zip.extend_from_slice(&value.to_le_bytes());
    }
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(content);
    let central_start = u32::try_from(zip.len()).unwrap_or(u32::MAX);
    // Central directory entry; "made by" Unix (3) so the mode in the external attributes counts.
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    for value in [(3u16 << 8) | 20, 20, 0, 0, 0, 0] {
        zip.extend_from_slice(&value.to_le_bytes());
    }
    for value in [crc, size, size] {
        zip.extend_from_slice(&value.to_le_bytes());
    }
    for value in [name_len, 0, 0, 0, 0] {
        zip.extend_from_slice(&value.to_le_bytes()); // name, extra, comment lengths, disk, internal attrs
    }
    zip.extend_from_slice(&((0o100_755u32) << 16).to_le_bytes());
    zip.extend_from_slice(&0u32.to_le_bytes()); // offset of the local header
    zip.extend_from_slice(name.as_bytes());
    let central_size = u32::try_from(zip.len()).unwrap_or(u32::MAX) - central_start;
    // End of central directory.
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for value in [0u16, 0, 1, 1] {
        zip.extend_from_slice(&value.to_le_bytes());
    }
    zip.extend_from_slice(&central_size.to_le_bytes());
    zip.extend_from_slice(&central_start.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
