//! `*` and `?` wildcards as in policy actions, resources and *Like
//! conditions.

/// Whether `text` matches `pattern` (`*` any run, `?` one character).
pub fn glob_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // Iterative matcher with backtracking to the last `*` (linear space).
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn wildcards() {
        assert!(glob_match("kms:*", "kms:Encrypt", false));
        assert!(glob_match("kms:Gen*", "kms:GenerateDataKey", false));
        assert!(!glob_match("kms:Gen*", "kms:Encrypt", false));
        assert!(glob_match("kms:*crypt", "kms:ReEncrypt", false));
        assert!(glob_match("a?c", "abc", false) && !glob_match("a?c", "ac", false));
        assert!(glob_match("KMS:encrypt", "kms:Encrypt", true));
        assert!(!glob_match("KMS:encrypt", "kms:Encrypt", false));
        assert!(glob_match("*", "", false) && glob_match("a*b*c", "axxbyyc", false));
        assert!(!glob_match("a*b*c", "axxbyy", false));
    }
}
