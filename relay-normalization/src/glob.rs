//! A plain wildcard match shared by the config-dependent steps: `*` matches any run of
//! characters (including none), `?` exactly one, everything else itself. Used for rule
//! conditions (`glob`) and AI model keys; transaction-name rules have their own,
//! segment-aware matcher ([`crate::transaction_name_rules`]).
//!
//! The greedy two-pointer algorithm with a single backtrack point runs in O(pattern × text)
//! time without recursion, so hostile patterns or inputs cannot blow up the stack or time.

/// Whether `text` matches `pattern`.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The position after the last `*` and the text position it currently covers up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p + 1, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                // Let the last `*` cover one more character.
                Some((after_star, covered)) => {
                    backtrack = Some((after_star, covered + 1));
                    p = after_star;
                    t = covered + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("gpt-4*", "gpt-4o-mini"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(wildcard_match("?ü", "xü"));
        assert!(!wildcard_match("a*b", "aXbY"));
        assert!(!wildcard_match("?", ""));
        assert!(!wildcard_match("abc", "ab"));
        // No exponential blow-up.
        let text = "a".repeat(10_000);
        assert!(!wildcard_match(&format!("{}b", "*a".repeat(50)), &text));
    }
}
