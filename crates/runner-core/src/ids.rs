//! Kestra's "friendly" ids: a random UUID written in base62 (about 22 characters).

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub fn friendly_id() -> String {
    let mut n = uuid::Uuid::new_v4().as_u128();
    let mut out = Vec::with_capacity(22);
    while n > 0 {
        out.push(ALPHABET[(n % 62) as usize]);
        n /= 62;
    }
    out.reverse();
    String::from_utf8(out).expect("alphabet is ASCII")
}

/// Kestra's `Slugify` (storage paths use it; so does the `slugify` filter).
pub use runner_template::slugify;

/// A random number, for generated file names.
pub fn random_u64() -> u64 {
    uuid::Uuid::new_v4().as_u128() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base62_and_distinct() {
        let a = friendly_id();
        assert!(a.len() >= 20 && a.len() <= 22, "{a}");
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, friendly_id());
    }

    #[test]
    fn slugs_follow_kestra() {
        assert_eq!(slugify("My_Task id!"), "my-task-id");
        assert_eq!(slugify("a--b__c"), "a-b-c");
    }
}
