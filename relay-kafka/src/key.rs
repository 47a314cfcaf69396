//! The 16-byte partition keys of Kafka messages (`processing.md` §7.4) and shard selection by
//! key (§7.5).
//!
//! Every message relay produces carries a 16-byte key. Messages with a natural key (event id,
//! trace id, check-in routing hint) use that UUID with the organization id folded into its first
//! half, so the same UUID of two organizations lands on different partitions. Messages without a
//! natural key use a per-topic counter widened to 128 bits, which spreads them round-robin over
//! partitions and shards.

use std::num::NonZeroUsize;

/// Number of bytes in a partition key.
pub const PARTITION_KEY_LEN: usize = 16;

/// A message's partition key: 128 bits, big-endian.
pub type PartitionKey = [u8; PARTITION_KEY_LEN];

/// Length of the key half that is XORed with the organization id.
const ORGANIZATION_XOR_LEN: usize = 8;

/// The key of a message with a natural UUID key: the UUID's bytes (standard big-endian order)
/// with the first eight bytes XORed with `organization_id` as big-endian `u64`.
///
/// A nil UUID counts as "no key" and yields `None`, so the caller falls back to a counter key.
pub fn keyed_partition_key(uuid: [u8; 16], organization_id: u64) -> Option<PartitionKey> {
    if uuid == [0; 16] {
        return None;
    }
    let mut key = uuid;
    for (key_byte, organization_byte) in key[..ORGANIZATION_XOR_LEN]
        .iter_mut()
        .zip(organization_id.to_be_bytes())
    {
        *key_byte ^= organization_byte;
    }
    Some(key)
}

/// The key of a message without a natural key: the per-topic counter widened to an unsigned
/// 128-bit integer, big-endian.
pub fn counter_partition_key(counter: u32) -> PartitionKey {
    u128::from(counter).to_be_bytes()
}

/// The shard a key selects: the key as unsigned 128-bit big-endian integer modulo the number of
/// shards, so shard indices follow the configuration order.
pub fn shard_index(key: &PartitionKey, shard_count: NonZeroUsize) -> usize {
    let key_value = u128::from_be_bytes(*key);
    // `usize` is at most 64 bits on every supported target, so it always widens to u128, and
    // the remainder is below `shard_count`, so it always narrows back.
    let shard_count_wide = shard_count.get() as u128;
    (key_value % shard_count_wide) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_bytes(hex: &str) -> [u8; 16] {
        let mut bytes = [0; 16];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).unwrap();
        }
        bytes
    }

    #[test]
    fn spec_example_org_one_flips_the_last_byte_of_the_first_half() {
        let trace_id = hex_bytes("ff62a8b040f340bda5d830223def1d81");
        let key = keyed_partition_key(trace_id, 1).unwrap();
        assert_eq!(key, hex_bytes("ff62a8b040f340bca5d830223def1d81"));
    }

    #[test]
    fn organization_id_is_xored_big_endian_into_the_first_eight_bytes_only() {
        let uuid = [0xff; 16];
        let key = keyed_partition_key(uuid, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(
            key,
            [
                0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff
            ]
        );
    }

    #[test]
    fn organization_zero_keeps_the_uuid() {
        let uuid = hex_bytes("0123456789abcdef0123456789abcdef");
        assert_eq!(keyed_partition_key(uuid, 0), Some(uuid));
    }

    #[test]
    fn nil_uuid_is_no_key_whatever_the_organization() {
        assert_eq!(keyed_partition_key([0; 16], 0), None);
        assert_eq!(keyed_partition_key([0; 16], 42), None);
    }

    #[test]
    fn counter_keys_are_big_endian_128_bit() {
        let key = counter_partition_key(0x2a);
        assert_eq!(key[..15], [0; 15]);
        assert_eq!(key[15], 0x2a);
        let key = counter_partition_key(u32::MAX);
        assert_eq!(key[..12], [0; 12]);
        assert_eq!(key[12..], [0xff; 4]);
    }

    #[test]
    fn shard_index_is_key_mod_shard_count() {
        let three = NonZeroUsize::new(3).unwrap();
        for counter in 0..10 {
            let key = counter_partition_key(counter);
            assert_eq!(shard_index(&key, three), counter as usize % 3);
        }
        let one = NonZeroUsize::new(1).unwrap();
        assert_eq!(shard_index(&[0xff; 16], one), 0);
        // 2^128 - 1 = 0 (mod 3) since 2^2 = 1 (mod 3); mod 7: 2^3 = 1, 2^128 = 2^2 = 4, so 3.
        assert_eq!(shard_index(&[0xff; 16], three), 0);
        assert_eq!(shard_index(&[0xff; 16], NonZeroUsize::new(7).unwrap()), 3);
        // Only the full 128-bit value counts, not its low bytes: 2^64 mod 10 = 6.
        let mut high_bit_key = [0; 16];
        high_bit_key[7] = 1;
        assert_eq!(
            shard_index(&high_bit_key, NonZeroUsize::new(10).unwrap()),
            6
        );
    }
}
